"""Tool schemas in any supported form, normalised once into :class:`ToolSpec`, and validation.

Three input forms are understood, and may be mixed in one list:

- **OpenAI**: ``{"type": "function", "function": {"name", "description", "parameters"}}``
  (a ``strict`` field is accepted and ignored);
- **plain function / BFCL**: ``{"name", "description", "parameters": {"type": "object" | "dict",
  "properties": {...}, "required": [...]}}``, where BFCL's type names (``string integer float
  boolean array tuple dict any``, plus the Java/JavaScript aliases BFCL ships) are mapped to JSON
  Schema at every depth (``float`` → ``number``, ``dict`` → ``object``, ``tuple`` → ``array``,
  ``any`` → no type constraint);
- **xLAM**: ``{"name", "description", "parameters": {pname: {"type": "int, optional", ...}}}``,
  whose Python-typing strings are parsed with :mod:`ast` (never split by hand) and mapped to JSON
  Schema by :func:`xlam_type_to_json_schema`. xLAM has no ``required`` list: a parameter is
  required unless its type ends in ``, optional`` or it declares a ``default``.

Every distinct tool (by canonical JSON) is normalised once and cached; every distinct JSON Schema
gets one ``jsonschema`` Draft 2020-12 validator (format checking off), also cached. A caller
written JSON Schema is checked against the metaschema once, when first seen. Normalised specs
are shared between callers: treat them as read-only.

Validation (:func:`validate_arguments`) is ``jsonschema``'s throughout; for the usual object
schema it runs per parameter value (see ``_ArgumentsSchema``), which gives the same verdicts
and labels at a fraction of the cost, and a parameter's verdict on a scalar value is remembered.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError
from jsonschema.protocols import Validator
from jsonschema.validators import extend

from service.core.errors import InvalidToolSchemaError
from service.core.types import ToolSpec

__all__ = [
    "normalise_tool",
    "normalise_tools",
    "validate_arguments",
    "xlam_type_to_json_schema",
]

# BFCL, Java/JavaScript (as BFCL ships them) and JSON Schema type names, lower-cased, mapped to
# a JSON Schema type; ``None`` means "no constraint" (BFCL's ``any``).
_TYPE_NAMES: Final[Mapping[str, str | None]] = {
    "string": "string",
    "str": "string",
    "char": "string",
    "integer": "integer",
    "int": "integer",
    "byte": "integer",
    "short": "integer",
    "long": "integer",
    "bigint": "integer",
    "number": "number",
    "float": "number",
    "double": "number",
    "boolean": "boolean",
    "bool": "boolean",
    "array": "array",
    "list": "array",
    "tuple": "array",
    "arraylist": "array",
    "queue": "array",
    "stack": "array",
    "set": "array",
    "object": "object",
    "dict": "object",
    "hashmap": "object",
    "hashtable": "object",
    "null": "null",
    "any": None,
    "": None,  # BFCL ships one JavaScript tool with an empty type name
}

# JSON Schema keywords whose value is a schema, a list of schemas, or a map of schemas: the
# places where nested BFCL type names must be translated too.
_SCHEMA_VALUED: Final = frozenset(
    {"items", "additionalProperties", "contains", "not", "if", "then", "else", "propertyNames"}
)
_SCHEMA_LIST_VALUED: Final = frozenset({"prefixItems", "anyOf", "oneOf", "allOf"})
_SCHEMA_MAP_VALUED: Final = frozenset(
    {"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"}
)

# Python typing names (lower-cased) used by xLAM and similar datasets.
_PY_SCALARS: Final[Mapping[str, str]] = {
    "str": "string",
    "string": "string",
    "text": "string",
    "char": "string",
    "bytes": "string",
    "int": "integer",
    "integer": "integer",
    "long": "integer",
    "float": "number",
    "number": "number",
    "double": "number",
    "decimal": "number",
    "bool": "boolean",
    "boolean": "boolean",
    "none": "null",
    "nonetype": "null",
    "null": "null",
}
_PY_SEQUENCES: Final = frozenset(
    {"list", "array", "sequence", "mutablesequence", "iterable", "collection", "deque"}
)
_PY_SETS: Final = frozenset({"set", "frozenset", "abstractset", "mutableset"})
_PY_MAPPINGS: Final = frozenset(
    {"dict", "mapping", "mutablemapping", "object", "defaultdict", "ordereddict"}
)

_CACHE_LIMIT: Final = 65_536
_TOOL_CACHE: dict[bytes, ToolSpec] = {}
_TOOLS_STRING_CACHE: dict[str, dict[str, ToolSpec]] = {}
_VALIDATOR_CACHE: dict[bytes, Validator] = {}
_TOOLS_LIST_CACHE: dict[bytes, dict[str, ToolSpec]] = {}
# Canonical JSON as for one tool; dataclasses (a ToolSpec) are not encoded but refused.
_LIST_KEY_OPTIONS: Final = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATACLASS

# Labels, from most to least fundamental: a call is described by the first that applies.
_LABEL_PRIORITY: Final = (
    "schema:missing_required",
    "schema:unknown_parameter",
    "schema:type_mismatch",
    "schema:enum_mismatch",
    "schema:invalid_value",
)
_KEYWORD_LABELS: Final[Mapping[str, str]] = {
    "required": "schema:missing_required",
    "additionalProperties": "schema:unknown_parameter",
    "unevaluatedProperties": "schema:unknown_parameter",
    "type": "schema:type_mismatch",
    "enum": "schema:enum_mismatch",
    "const": "schema:enum_mismatch",
}

# Draft 2020-12, except that a tuple (Python call syntax may yield one) is a JSON array.
_ArgumentsValidator: Final[Any] = extend(
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine(
        "array", lambda _checker, instance: isinstance(instance, list | tuple)
    ),
)


def _canonical_json(value: Any) -> bytes:
    """Canonical JSON (sorted keys) used as a cache key; raises TypeError for non-JSON data."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError as error:
        raise TypeError(str(error)) from error


def _remember(cache: dict[Any, Any], key: Any, value: Any, limit: int = _CACHE_LIMIT) -> None:
    # A plain bounded dict: cheaper than an LRU and enough for "distinct schemas in a run".
    if len(cache) >= limit:
        cache.clear()
    cache[key] = value


# --------------------------------------------------------------------------------------------
# xLAM Python-typing strings
# --------------------------------------------------------------------------------------------


def xlam_type_to_json_schema(type_string: str) -> dict[str, Any]:
    """Map a Python typing string (as used by xLAM) to a JSON Schema.

    The string is parsed as a Python expression with :mod:`ast`; a trailing ``, optional`` is
    ignored here (it decides requiredness, see :func:`normalise_tool`). Unknown names,
    ``Any`` and ``Callable[...]`` give an empty schema (no constraint), as does a string that
    is not a type expression at all.

    Args:
        type_string: e.g. ``"str"``, ``"int, optional"``, ``"List[Union[int, float]]"``.

    Returns:
        A new JSON Schema dict.

    Example:
        >>> xlam_type_to_json_schema("int, optional")
        {'type': 'integer'}
        >>> xlam_type_to_json_schema("List[Union[int, float]]")
        {'type': 'array', 'items': {'type': ['integer', 'number']}}
        >>> xlam_type_to_json_schema("Tuple[float, float]")["prefixItems"]
        [{'type': 'number'}, {'type': 'number'}]
        >>> xlam_type_to_json_schema("Callable[[float], float]")
        {}
    """
    schema, _optional = _parse_xlam_type(type_string)
    return schema


def _parse_xlam_type(type_string: str) -> tuple[dict[str, Any], bool]:
    """Return the JSON Schema of a typing string and whether it is marked ``, optional``."""
    text = type_string.strip()
    try:
        expression = ast.parse(text, mode="eval").body
    except SyntaxError:
        return _parse_leading_type(text)
    optional = False
    # "int, optional" parses as the tuple (int, optional).
    if isinstance(expression, ast.Tuple) and expression.elts:
        last = expression.elts[-1]
        if isinstance(last, ast.Name) and last.id.lower() == "optional":
            optional = True
            remaining = expression.elts[:-1]
            if len(remaining) != 1:
                return {}, optional
            expression = remaining[0]
        else:
            return {}, optional
    return _typing_node_to_schema(expression), optional


def _parse_leading_type(text: str) -> tuple[dict[str, Any], bool]:
    """Schema and optionality of a string that is not one expression (``"float, default: 0"``).

    The longest leading part before a comma that parses is the type; ``optional`` or
    ``default`` after it make the parameter optional. Prose that never parses has no type
    constraint.
    """
    for cut in reversed([index for index, character in enumerate(text) if character == ","]):
        head, tail = text[:cut], text[cut + 1 :].lower()
        try:
            ast.parse(head, mode="eval")
        except SyntaxError:
            continue
        schema, optional = _parse_xlam_type(head)
        return schema, optional or "optional" in tail or "default" in tail
    return {}, "optional" in text.lower()


def _node_name(node: ast.expr) -> str | None:
    """``List`` for ``List``, ``typing.List`` and ``t.List``; None for anything else."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _typing_node_to_schema(node: ast.expr) -> dict[str, Any]:
    if isinstance(node, ast.Constant):
        if node.value is None:
            return {"type": "null"}
        if isinstance(node.value, str):  # a forward reference such as 'List[int]'
            return xlam_type_to_json_schema(node.value)
        return {}
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):  # int | None
        return _union([_typing_node_to_schema(node.left), _typing_node_to_schema(node.right)])
    if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or):  # "str or None"
        return _union([_typing_node_to_schema(value) for value in node.values])
    if isinstance(node, ast.Subscript):
        return _generic_to_schema(node)
    name = _node_name(node)
    if name is None:
        return {}
    return _bare_name_to_schema(name.lower())


def _bare_name_to_schema(name: str) -> dict[str, Any]:
    if name in _PY_SCALARS:
        return {"type": _PY_SCALARS[name]}
    if name in _PY_SEQUENCES or name == "tuple":
        return {"type": "array"}
    if name in _PY_SETS:
        return {"type": "array", "uniqueItems": True}
    if name in _PY_MAPPINGS:
        return {"type": "object"}
    return {}  # Any, Callable, unknown names: no constraint


def _generic_to_schema(node: ast.Subscript) -> dict[str, Any]:
    base = (_node_name(node.value) or "").lower()
    arguments = list(node.slice.elts) if isinstance(node.slice, ast.Tuple) else [node.slice]
    if base in _PY_SEQUENCES or base in _PY_SETS:
        schema: dict[str, Any] = {"type": "array"}
        if base in _PY_SETS:
            schema["uniqueItems"] = True
        items = _typing_node_to_schema(arguments[0])
        if items:
            schema["items"] = items
        return schema
    if base == "tuple":
        return _tuple_to_schema(arguments)
    if base in _PY_MAPPINGS:
        schema = {"type": "object"}
        if len(arguments) == 2:
            values = _typing_node_to_schema(arguments[1])
            if values:
                schema["additionalProperties"] = values
        return schema
    if base == "optional":
        return _union([_typing_node_to_schema(arguments[0]), {"type": "null"}])
    if base == "union":
        return _union([_typing_node_to_schema(argument) for argument in arguments])
    if base == "literal":
        return _literal_to_schema(arguments)
    if base == "annotated":
        return _typing_node_to_schema(arguments[0])
    return {}  # Callable[...], Type[...], unknown generics: no constraint


def _tuple_to_schema(arguments: list[ast.expr]) -> dict[str, Any]:
    last = arguments[-1]
    if len(arguments) == 2 and isinstance(last, ast.Constant) and last.value is Ellipsis:
        # Tuple[int, ...]: homogeneous, any length
        items = _typing_node_to_schema(arguments[0])
        return {"type": "array", "items": items} if items else {"type": "array"}
    if len(arguments) == 1 and isinstance(arguments[0], ast.Tuple) and not arguments[0].elts:
        return {"type": "array", "maxItems": 0}  # Tuple[()]
    return {
        "type": "array",
        "prefixItems": [_typing_node_to_schema(argument) for argument in arguments],
        "minItems": len(arguments),
        "maxItems": len(arguments),
    }


def _literal_to_schema(arguments: list[ast.expr]) -> dict[str, Any]:
    values: list[Any] = []
    for argument in arguments:
        try:
            value = ast.literal_eval(argument)
        except ValueError:
            return {}
        if value is not None and not isinstance(value, str | int | float):
            return {}  # only JSON scalars can be enum members
        values.append(value)
    return {"enum": values}


def _union(members: list[dict[str, Any]]) -> dict[str, Any]:
    """JSON Schema for a union: merged ``type`` lists when possible, else ``anyOf``."""
    if any(not member for member in members):
        return {}  # a member without constraint makes the union unconstrained
    if all(set(member) == {"type"} for member in members):
        types: list[str] = []
        for member in members:
            member_types = member["type"] if isinstance(member["type"], list) else [member["type"]]
            types.extend(t for t in member_types if t not in types)
        return {"type": types[0] if len(types) == 1 else types}
    return {"anyOf": members}


# --------------------------------------------------------------------------------------------
# Tool normalisation
# --------------------------------------------------------------------------------------------


def normalise_tool(tool: Mapping[str, Any]) -> ToolSpec:
    """Normalise one tool schema (OpenAI, plain/BFCL or xLAM) into a :class:`ToolSpec`.

    The result is cached per distinct tool (canonical JSON), so repeated tools cost one dict
    lookup.

    Args:
        tool: the tool schema, decoded (a :class:`ToolSpec` is returned as is).

    Returns:
        The normalised spec: a JSON Schema per parameter, the required set and the whole
        object schema (``additionalProperties: false`` unless the tool says otherwise).

    Raises:
        InvalidToolSchemaError: when no supported form describes ``tool`` (labels
            ``schema:invalid_tool``, ``schema:invalid_parameters``, ``schema:unknown_type``,
            ``schema:invalid_json_schema``).

    Example:
        >>> spec = normalise_tool({"name": "get_weather", "parameters": {
        ...     "city": {"type": "str"}, "days": {"type": "int, optional"}}})
        >>> spec.parameters["days"], sorted(spec.required)
        ({'type': 'integer'}, ['city'])
        >>> normalise_tool({"type": "function", "strict": True, "function": {
        ...     "name": "f", "parameters": {"type": "dict", "properties": {
        ...         "x": {"type": "float"}}, "required": ["x"]}}}).json_schema["properties"]
        {'x': {'type': 'number'}}
    """
    if isinstance(tool, ToolSpec):
        return tool
    if not isinstance(tool, Mapping):
        raise InvalidToolSchemaError(
            f"a tool must be a JSON object, got {type(tool).__name__}", label="schema:invalid_tool"
        )
    try:
        key = _canonical_json(tool)
    except TypeError as error:
        raise InvalidToolSchemaError(
            f"a tool must be plain JSON: {error}", label="schema:invalid_tool"
        ) from error
    cached = _TOOL_CACHE.get(key)
    if cached is None:
        cached = _build_tool_spec(tool)
        _remember(_TOOL_CACHE, key, cached)
    return cached


def normalise_tools(tools: Any) -> dict[str, ToolSpec]:
    """Normalise a list of tools (or a JSON string holding one, as in xLAM) by name.

    ``None`` and ``""`` mean "no tools". A single tool object is accepted as a one-item list.
    Already normalised tools (:class:`ToolSpec` items, or the dict this function returns) pass
    through, so callers that normalise once can hand the result to every scoring function.
    The same tool appearing twice is kept once; two different tools with one name are an error.

    Args:
        tools: a list of tool schemas, a JSON string of such a list, a single tool, specs by
            name, or None.

    Returns:
        A new dict from tool name to its :class:`ToolSpec`.

    Raises:
        InvalidToolSchemaError: for anything else, or for an invalid tool in the list.

    Example:
        >>> specs = normalise_tools('[{"name": "add", "parameters": {"a": {"type": "int"}}}]')
        >>> list(specs), specs["add"].required
        (['add'], frozenset({'a'}))
        >>> normalise_tools(specs) == specs
        True
        >>> normalise_tools(None)
        {}
    """
    if tools is None or (isinstance(tools, str) and not tools.strip()):
        return {}
    if isinstance(tools, str):
        cached = _TOOLS_STRING_CACHE.get(tools)
        if cached is None:
            try:
                decoded = json.loads(tools)
            except ValueError as error:
                raise InvalidToolSchemaError(
                    f"tools is not valid JSON: {error}", label="schema:invalid_json", param="tools"
                ) from error
            if isinstance(decoded, str):
                raise InvalidToolSchemaError(
                    "tools must be a list of tool schemas", label="schema:invalid_tools"
                )
            cached = normalise_tools(decoded)
            _remember(_TOOLS_STRING_CACHE, tools, cached)
        return dict(cached)
    if isinstance(tools, Mapping):
        if all(isinstance(spec, ToolSpec) for spec in tools.values()):
            return {spec.name: spec for spec in tools.values()}
        tools = [tools]
    if not isinstance(tools, list | tuple):
        raise InvalidToolSchemaError(
            f"tools must be a list of tool schemas, got {type(tools).__name__}",
            label="schema:invalid_tools",
            param="tools",
        )
    # One canonical JSON of the whole list is the concatenation of its tools' keys, so a hit
    # here stands for a hit on every tool below, at the cost of one encoding instead of one
    # per tool. Anything orjson cannot encode takes the per-tool path (and its errors).
    try:
        list_key: bytes | None = orjson.dumps(tools, option=_LIST_KEY_OPTIONS)
    except orjson.JSONEncodeError:
        list_key = None
    if list_key is not None:
        known = _TOOLS_LIST_CACHE.get(list_key)
        if known is not None:
            return dict(known)
    specs = _normalised_by_name(tools)
    if list_key is not None:
        _remember(_TOOLS_LIST_CACHE, list_key, dict(specs))
    return specs


def _normalised_by_name(tools: Sequence[Any]) -> dict[str, ToolSpec]:
    specs: dict[str, ToolSpec] = {}
    for tool in tools:
        spec = normalise_tool(tool)
        previous = specs.get(spec.name)
        if previous is not None and previous != spec:
            raise InvalidToolSchemaError(
                f"two different tools are named {spec.name!r}",
                label="schema:duplicate_tool",
                param="tools",
            )
        specs[spec.name] = spec
    return specs


def _build_tool_spec(tool: Mapping[str, Any]) -> ToolSpec:
    function = tool.get("function")
    if tool.get("type") == "function" and isinstance(function, Mapping):
        tool = function  # OpenAI chat-completions form; "strict" and "type" are irrelevant
    name = tool.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidToolSchemaError(
            "a tool needs a non-empty string 'name'", label="schema:invalid_tool"
        )
    description = tool.get("description")
    description = description if isinstance(description, str) else ""
    parameters = tool.get("parameters")
    if parameters is None:
        parameters = {}
    if not isinstance(parameters, Mapping):
        raise InvalidToolSchemaError(
            f"tool {name!r}: 'parameters' must be an object", label="schema:invalid_parameters"
        )
    if _is_json_schema_object(parameters):
        properties, required, json_schema = _from_json_schema(name, parameters)
        # Only a caller-written JSON Schema can be malformed; xLAM schemas are built here.
        try:
            Draft202012Validator.check_schema(json_schema)
        except SchemaError as error:
            raise InvalidToolSchemaError(
                f"tool {name!r}: parameters are not a valid JSON Schema: {error.message}",
                label="schema:invalid_json_schema",
            ) from error
    else:
        properties, required, json_schema = _from_xlam(name, parameters)
    return ToolSpec(
        name=name,
        description=description,
        parameters=properties,
        required=required,
        json_schema=json_schema,
    )


def _is_json_schema_object(parameters: Mapping[str, Any]) -> bool:
    """True for ``{"type": "object", "properties": ...}``; False for xLAM's ``{pname: {...}}``.

    An xLAM parameter may be called ``type`` or ``properties``, but its value is then a
    descriptor object, never a type name, nor a map whose every value is a schema object.
    """
    if not parameters:
        return True
    if isinstance(parameters.get("type"), str):
        return True
    properties = parameters.get("properties")
    return isinstance(properties, Mapping) and all(
        isinstance(value, Mapping) for value in properties.values()
    )


def _from_json_schema(
    name: str, parameters: Mapping[str, Any]
) -> tuple[dict[str, dict[str, Any]], frozenset[str], dict[str, Any]]:
    top_type = parameters.get("type", "object")
    if not isinstance(top_type, str) or top_type.lower() not in ("object", "dict"):
        raise InvalidToolSchemaError(
            f"tool {name!r}: parameters must describe an object, got type {top_type!r}",
            label="schema:invalid_parameters",
        )
    raw_properties = parameters.get("properties") or {}
    if not isinstance(raw_properties, Mapping):
        raise InvalidToolSchemaError(
            f"tool {name!r}: 'properties' must be an object", label="schema:invalid_parameters"
        )
    raw_required = parameters.get("required") or []
    if not isinstance(raw_required, list | tuple) or not all(
        isinstance(item, str) for item in raw_required
    ):
        raise InvalidToolSchemaError(
            f"tool {name!r}: 'required' must be a list of parameter names",
            label="schema:invalid_parameters",
        )
    required = set(raw_required)
    properties: dict[str, dict[str, Any]] = {}
    for parameter, schema in raw_properties.items():
        if not isinstance(schema, Mapping):
            raise InvalidToolSchemaError(
                f"tool {name!r}: parameter {parameter!r} must be described by an object",
                label="schema:invalid_parameters",
            )
        # Draft-3 style "required": true on the property itself.
        if schema.get("required") is True:
            required.add(parameter)
        properties[parameter] = _translate_schema(name, schema)
    json_schema = _translate_schema(name, parameters)
    json_schema["type"] = "object"
    json_schema["properties"] = properties
    json_schema["required"] = sorted(required)
    json_schema.setdefault("additionalProperties", False)
    return properties, frozenset(required), json_schema


def _translate_schema(tool_name: str, schema: Mapping[str, Any]) -> dict[str, Any]:
    """Copy a (sub)schema, mapping BFCL/Java/JS type names to JSON Schema at every depth."""
    translated: dict[str, Any] = {}
    for keyword, value in schema.items():
        if keyword == "type":
            type_value = _translate_type(tool_name, value)
            if type_value is not None:
                translated["type"] = type_value
        elif keyword == "required" and isinstance(value, bool):
            continue  # draft-3 style flag; handled by the parent
        elif keyword == "items" and isinstance(value, list):
            translated["prefixItems"] = [_translate_sub(tool_name, item) for item in value]
        elif keyword in _SCHEMA_VALUED:
            translated[keyword] = _translate_sub(tool_name, value)
        elif keyword in _SCHEMA_LIST_VALUED and isinstance(value, list):
            translated[keyword] = [_translate_sub(tool_name, item) for item in value]
        elif keyword in _SCHEMA_MAP_VALUED and isinstance(value, Mapping):
            translated[keyword] = {
                key: _translate_sub(tool_name, item) for key, item in value.items()
            }
        else:
            translated[keyword] = value
    # OpenAPI's "nullable: true" (common in OpenAI-style tools) is JSON Schema's "null" type.
    type_value = translated.get("type")
    if schema.get("nullable") is True and type_value is not None:
        types = type_value if isinstance(type_value, list) else [type_value]
        translated["type"] = types if "null" in types else [*types, "null"]
    return translated


def _translate_sub(tool_name: str, value: Any) -> Any:
    return _translate_schema(tool_name, value) if isinstance(value, Mapping) else value


def _translate_type(tool_name: str, value: Any) -> str | list[str] | None:
    """``"float"`` → ``"number"``; ``"any"`` → None (no constraint); lists element-wise."""
    names = value if isinstance(value, list) else [value]
    translated: list[str] = []
    for type_name in names:
        if not isinstance(type_name, str) or type_name.lower() not in _TYPE_NAMES:
            raise InvalidToolSchemaError(
                f"tool {tool_name!r}: unknown parameter type {type_name!r}",
                label="schema:unknown_type",
            )
        json_type = _TYPE_NAMES[type_name.lower()]
        if json_type is None:
            return None  # "any" anywhere in a union leaves the union unconstrained
        if json_type not in translated:
            translated.append(json_type)
    if isinstance(value, list):
        return translated
    return translated[0]


def _from_xlam(
    name: str, parameters: Mapping[str, Any]
) -> tuple[dict[str, dict[str, Any]], frozenset[str], dict[str, Any]]:
    properties: dict[str, dict[str, Any]] = {}
    required: set[str] = set()
    for parameter, descriptor in parameters.items():
        if not isinstance(descriptor, Mapping):
            raise InvalidToolSchemaError(
                f"tool {name!r}: parameter {parameter!r} must be described by an object",
                label="schema:invalid_parameters",
            )
        type_string = descriptor.get("type")
        schema, optional = (
            _parse_xlam_type(type_string) if isinstance(type_string, str) else ({}, False)
        )
        if isinstance(descriptor.get("description"), str):
            schema["description"] = descriptor["description"]
        if "default" in descriptor:
            schema["default"] = descriptor["default"]
        properties[parameter] = schema
        if not optional and "default" not in descriptor:
            required.add(parameter)
    json_schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "required": sorted(required),
        "additionalProperties": False,
    }
    return properties, frozenset(required), json_schema


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------


# Keywords that never affect validity; dropped from the schema a validator walks.
_ANNOTATIONS: Final = frozenset({"description", "title", "default", "examples", "$comment"})
# Object schemas made only of these keywords validate parameter by parameter (below).
_PER_PARAMETER_KEYWORDS: Final = frozenset(
    {"type", "properties", "required", "additionalProperties"}
)


class _ParameterValidator:
    """A parameter schema's validator that remembers its verdicts per distinct value.

    Values repeat across the samples of one prompt and across items (enum members, small
    numbers, common strings, the same list of cities); each is still judged by ``jsonschema``,
    once. A verdict is the set of labels of the value's errors (empty: valid).

    Scalars are remembered by ``(type, value)``. Lists and objects are remembered by their
    JSON (``1``, ``1.0`` and ``true`` apart) together with a private copy decoded from it: a
    hit needs ``==`` with that copy as well, which no tuple passes (a NaN neither), so only a
    value of the very same content and types is ever answered from memory.
    """

    __slots__ = ("_scalar_labels", "_structured_labels", "validator")

    def __init__(self, validator: Validator) -> None:
        self.validator = validator
        self._scalar_labels: dict[tuple[type, Any], frozenset[str]] = {}
        self._structured_labels: dict[bytes, tuple[Any, frozenset[str]]] = {}

    def labels(self, value: Any) -> frozenset[str]:
        """The labels of ``value``'s validation errors against this schema; empty when valid."""
        value_type = type(value)
        if value_type in _MEMO_SCALARS:
            if value_type is str and len(value) > _MEMO_MAX_CHARS:
                return self._judge(value)
            scalar_key = (value_type, value)  # the type keeps 1, 1.0 and True apart
            labels = self._scalar_labels.get(scalar_key)
            if labels is None:
                labels = self._judge(value)
                _remember(self._scalar_labels, scalar_key, labels, limit=_MEMO_LIMIT)
            return labels
        if value_type is not list and value_type is not dict:
            return self._judge(value)
        try:
            key = orjson.dumps(value, option=_VALUE_KEY_OPTIONS)
        except orjson.JSONEncodeError:  # not plain JSON (a tuple inside is fine; see below)
            return self._judge(value)
        if len(key) > _MEMO_MAX_CHARS:
            return self._judge(value)
        known = self._structured_labels.get(key)
        if known is not None and known[0] == value:
            return known[1]
        labels = self._judge(value)
        private_copy = orjson.loads(key)
        if private_copy == value:
            _remember(self._structured_labels, key, (private_copy, labels), limit=_MEMO_LIMIT)
        return labels

    def _judge(self, value: Any) -> frozenset[str]:
        if self.validator.is_valid(value):
            return _NO_LABELS
        return frozenset(_label_for(error) for error in self.validator.iter_errors(value))


_NO_LABELS: Final[frozenset[str]] = frozenset()
_MEMO_LIMIT: Final = 4096
_MEMO_MAX_CHARS: Final = 256
# Exact JSON types only: a subclass, a dataclass or a date is refused, so never remembered.
_VALUE_KEY_OPTIONS: Final = (
    orjson.OPT_PASSTHROUGH_SUBCLASS
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
)
_MEMO_SCALARS: Final = frozenset({str, int, float, bool, type(None)})
_PARAMETER_VALIDATORS: dict[bytes, _ParameterValidator] = {}


@dataclass(frozen=True, slots=True)
class _ArgumentsSchema:
    """How one tool's arguments are validated; built once per distinct JSON Schema.

    ``whole`` validates the whole arguments object. The usual object schema (``properties``,
    ``required`` and a boolean ``additionalProperties`` only) is instead validated along its
    own structure: ``required`` and ``allowed`` (None: extra parameters allowed) are checked
    as sets of names, and ``parameters`` holds one validator per parameter schema, shared
    between tools — validating each value against its own schema is what ``properties``
    means, without descending from the object on every call. Verdicts and labels are the
    same either way (the tests compare them with a plain whole-schema validator).
    """

    whole: Validator
    parameters: Mapping[str, _ParameterValidator] | None = None
    required: frozenset[str] = frozenset()
    allowed: frozenset[str] | None = None


# id(json_schema) -> (json_schema, compiled); the schema is held so its id cannot be reused.
_SCHEMA_BY_ID: dict[int, tuple[Mapping[str, Any], _ArgumentsSchema]] = {}


def _without_annotations(schema: Any) -> Any:
    """A copy of ``schema`` without annotation keywords, at every schema position."""
    if not isinstance(schema, Mapping):
        return schema
    stripped: dict[str, Any] = {}
    for keyword, value in schema.items():
        if keyword in _ANNOTATIONS:
            continue
        if keyword in _SCHEMA_VALUED:
            stripped[keyword] = _without_annotations(value)
        elif keyword in _SCHEMA_LIST_VALUED and isinstance(value, list):
            stripped[keyword] = [_without_annotations(item) for item in value]
        elif keyword in _SCHEMA_MAP_VALUED and isinstance(value, Mapping):
            stripped[keyword] = {key: _without_annotations(item) for key, item in value.items()}
        else:
            stripped[keyword] = value
    return stripped


def _validator(schema: Mapping[str, Any]) -> Validator:
    """One validator per distinct (annotation-free) schema."""
    key = _canonical_json(schema)
    validator = _VALIDATOR_CACHE.get(key)
    if validator is None:
        validator = _ArgumentsValidator(schema)
        _remember(_VALIDATOR_CACHE, key, validator)
    return validator


def _parameter_validator(schema: Mapping[str, Any]) -> _ParameterValidator:
    key = _canonical_json(schema)
    parameter_validator = _PARAMETER_VALIDATORS.get(key)
    if parameter_validator is None:
        parameter_validator = _ParameterValidator(_validator(schema))
        _remember(_PARAMETER_VALIDATORS, key, parameter_validator)
    return parameter_validator


def _arguments_schema(spec: ToolSpec) -> _ArgumentsSchema:
    schema = spec.json_schema
    entry = _SCHEMA_BY_ID.get(id(schema))
    if entry is not None and entry[0] is schema:
        return entry[1]
    stripped = _without_annotations(schema)
    compiled = _ArgumentsSchema(whole=_validator(stripped))
    properties = stripped.get("properties", {})
    additional = stripped.get("additionalProperties", True)
    per_parameter = (
        set(stripped) <= _PER_PARAMETER_KEYWORDS
        and stripped.get("type") == "object"
        and isinstance(additional, bool)
        and isinstance(properties, Mapping)
        # A reference would lose its target outside the whole schema.
        and b'"$ref"' not in _canonical_json(properties)
        and b'"$dynamicRef"' not in _canonical_json(properties)
    )
    if per_parameter:
        compiled = _ArgumentsSchema(
            whole=compiled.whole,
            parameters={
                name: _parameter_validator(parameter)
                for name, parameter in properties.items()
                if parameter  # {} accepts everything
            },
            required=frozenset(stripped.get("required", ())),
            allowed=None if additional else frozenset(properties),
        )
    _remember(_SCHEMA_BY_ID, id(schema), (schema, compiled))
    return compiled


def validate_arguments(spec: ToolSpec, arguments: Mapping[str, Any]) -> str | None:
    """Check that a call's arguments would execute against the tool's JSON Schema.

    Validation uses ``jsonschema`` (Draft 2020-12, no format checking) with validators built
    once per distinct schema. Required parameters, types, enums and unknown parameters all
    count. JSON Schema's own rules apply: ``5.0`` is an integer, an int is a number, a boolean
    is neither (and a tuple is an array).

    Args:
        spec: the normalised tool.
        arguments: the decoded arguments of one call.

    Returns:
        None when the arguments validate, else the most fundamental failure among
        ``schema:missing_required``, ``schema:unknown_parameter``, ``schema:type_mismatch``,
        ``schema:enum_mismatch`` and ``schema:invalid_value`` (any other keyword).

    Example:
        >>> spec = normalise_tool({"name": "greet", "parameters": {
        ...     "name": {"type": "str"}, "age": {"type": "int, optional"}}})
        >>> validate_arguments(spec, {"name": "Ada", "age": 30}) is None
        True
        >>> validate_arguments(spec, {"name": "Ada", "age": "30"})
        'schema:type_mismatch'
        >>> validate_arguments(spec, {"age": 30})
        'schema:missing_required'
    """
    if not isinstance(arguments, Mapping):
        return "schema:type_mismatch"
    if type(arguments) is not dict:
        arguments = dict(arguments)  # JSON Schema's "object" is a dict
    compiled = _arguments_schema(spec)
    try:
        return _validate(compiled, arguments)
    except RecursionError:
        # Model output nested beyond Python's recursion limit: it would not execute, and
        # scoring never raises on model output.
        return "schema:invalid_value"


def _validate(compiled: _ArgumentsSchema, arguments: dict[str, Any]) -> str | None:
    parameters = compiled.parameters
    if parameters is None:
        return _most_fundamental(
            {_label_for(error) for error in compiled.whole.iter_errors(arguments)}
        )
    # The object's own keywords first: their labels outrank any value's.
    names = arguments.keys()
    if not names >= compiled.required:
        return "schema:missing_required"
    if compiled.allowed is not None and not names <= compiled.allowed:
        return "schema:unknown_parameter"
    labels: set[str] = set()
    for name, value in arguments.items():
        validator = parameters.get(name)
        if validator is not None:
            labels.update(validator.labels(value))
    return _most_fundamental(labels)


def _most_fundamental(labels: set[str]) -> str | None:
    return next((label for label in _LABEL_PRIORITY if label in labels), None)


def _label_for(error: ValidationError) -> str:
    """Label of one validation error; combinators are labelled by their best sub-error."""
    keyword = str(error.validator)
    if keyword in _KEYWORD_LABELS:
        return _KEYWORD_LABELS[keyword]
    if keyword in ("anyOf", "oneOf", "allOf") and error.context:
        labels = {_label_for(sub_error) for sub_error in _shallowest(error.context)}
        # Every branch failed: the least fundamental failure says how close the value came.
        return next(label for label in reversed(_LABEL_PRIORITY) if label in labels)
    return "schema:invalid_value"


def _shallowest(errors: Iterable[ValidationError]) -> list[ValidationError]:
    errors = list(errors)
    depth = min(len(error.relative_path) for error in errors)
    return [error for error in errors if len(error.relative_path) == depth]
