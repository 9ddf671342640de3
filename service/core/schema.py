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

Every distinct tool (by canonical JSON) is normalised once and cached. Its JSON Schema is
checked whole when the tool is first seen, by compiling its ``jsonschema-rs`` Draft 2020-12
validator (format checking off): the meta-schema, every reference (a dangling ``$ref`` is
refused) and every pattern. Compiled validators live in one bounded LRU cache keyed by the
schema's canonical JSON without annotations. Normalised specs are shared between callers:
treat them as read-only.

Validation (:func:`validate_arguments`) is ``jsonschema-rs``'s; its error kinds map onto the
``schema:*`` labels.
"""

from __future__ import annotations

import ast
import enum
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final
from urllib.parse import quote

import jsonschema_rs
import orjson

from service.core.errors import InvalidToolSchemaError
from service.core.lru import LruCache
from service.core.parsing.json_text import kept_bytes, may_hold_a_long_integer
from service.core.types import ToolSpec

__all__ = [
    "normalise_tool",
    "normalise_tools",
    "openai_tool",
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
# Keywords that never affect validity; dropped from the schema a validator is built from, so
# tools that differ only in their prose share one validator.
_ANNOTATIONS: Final = frozenset({"description", "title", "default", "examples", "$comment"})
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

# Normalised tools kept at once, least recently used dropped first: a first sight costs tens
# of µs, a hit one canonical encoding, and a reward service that sees a new schema with every
# request must not grow without limit.
TOOL_CACHE_SIZE: Final = 4096

_TOOL_CACHE: Final = LruCache[ToolSpec](TOOL_CACHE_SIZE)

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


def _canonical_json(value: Any) -> bytes:
    """Canonical JSON (sorted keys) used as a cache key; raises TypeError for non-JSON data."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError as error:
        raise TypeError(str(error)) from error


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


def _parsed_xlam_type(type_string: str) -> tuple[dict[str, Any], bool]:
    """:func:`_parse_xlam_type` through a small cache, as a fresh dict (callers add to it)."""
    schema_json, optional = _parsed_xlam_type_json(type_string)
    schema: dict[str, Any] = orjson.loads(schema_json)
    return schema, optional


# Type strings are a small vocabulary ("str", "int, optional", "List[int]"), and parsing one
# with ast was the largest single cost of normalising a new xLAM tool.
@lru_cache(maxsize=1024)
def _parsed_xlam_type_json(type_string: str) -> tuple[bytes, bool]:
    schema, optional = _parse_xlam_type(type_string)
    return kept_bytes(orjson.dumps(schema)), optional


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

    The result is cached per distinct tool (canonical JSON; the last
    :data:`TOOL_CACHE_SIZE` distinct tools used), so a repeated tool costs one encoding and one
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
    if cached is not None:
        return cached
    spec = _build_tool_spec(tool)
    _TOOL_CACHE.put(kept_bytes(key), spec)
    return spec


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
        # orjson for the common case (xLAM rows carry their tools as JSON text); the standard
        # library for what orjson reads differently, and to name the error.
        decoded = _FAILED
        if not may_hold_a_long_integer(tools):
            with suppress(orjson.JSONDecodeError):
                decoded = orjson.loads(tools)
        try:
            if decoded is _FAILED:
                decoded = json.loads(tools)
        except ValueError as error:
            raise InvalidToolSchemaError(
                f"tools is not valid JSON: {error}", label="schema:invalid_json", param="tools"
            ) from error
        if isinstance(decoded, str):
            raise InvalidToolSchemaError(
                "tools must be a list of tool schemas", label="schema:invalid_tools"
            )
        return normalise_tools(decoded)
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
    return _normalised_by_name(tools)


def openai_tool(spec: ToolSpec, *, name: str | None = None) -> dict[str, Any]:
    """A normalised tool in OpenAI's ``{"type": "function", "function": {...}}`` form.

    The way back from :func:`normalise_tools` for whoever sends tools to a chat template or an
    OpenAI-compatible endpoint, so a BFCL or xLAM tool goes out as OpenAI clients send tools.

    Args:
        spec: The normalised tool.
        name: The name to send instead of ``spec.name`` (an alias an API accepts).

    Returns:
        A new JSON-ready dict; ``parameters`` is the tool's whole JSON Schema object.

    Example:
        >>> spec = normalise_tool({"name": "add", "parameters": {"a": {"type": "int"}}})
        >>> tool = openai_tool(spec)
        >>> tool["type"], tool["function"]["name"], tool["function"]["parameters"]["required"]
        ('function', 'add', ['a'])
        >>> normalise_tool(tool) == spec
        True
    """
    return {
        "type": "function",
        "function": {
            "name": spec.name if name is None else name,
            "description": spec.description,
            "parameters": dict(spec.json_schema),
        },
    }


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
        properties, required, json_schema, bare = _from_json_schema(name, parameters)
    else:
        properties, required, json_schema, bare = _from_xlam(name, parameters)
    return ToolSpec(
        name=name,
        description=description,
        parameters=properties,
        required=required,
        json_schema=json_schema,
        validator_key=_checked_validator_key(name, bare),
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


# (parameter schemas, required names, the whole object schema, that schema without annotations)
_Normalised = tuple[dict[str, dict[str, Any]], frozenset[str], dict[str, Any], dict[str, Any]]


def _from_json_schema(name: str, parameters: Mapping[str, Any]) -> _Normalised:
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
    bare_properties: dict[str, dict[str, Any]] = {}
    for parameter, schema in raw_properties.items():
        if not isinstance(schema, Mapping):
            raise InvalidToolSchemaError(
                f"tool {name!r}: parameter {parameter!r} must be described by an object",
                label="schema:invalid_parameters",
            )
        # Draft-3 style "required": true on the property itself.
        if schema.get("required") is True:
            required.add(parameter)
        properties[parameter], bare_properties[parameter] = _translate_schema(name, schema)
    # The properties are translated above; the rest of the object schema here.
    json_schema, bare = _translate_schema(
        name, {keyword: value for keyword, value in parameters.items() if keyword != "properties"}
    )
    for whole, its_properties in ((json_schema, properties), (bare, bare_properties)):
        whole["type"] = "object"
        whole["properties"] = its_properties
        whole["required"] = sorted(required)
        whole.setdefault("additionalProperties", False)
    return properties, frozenset(required), json_schema, bare


class _Kind(enum.Enum):
    """How :func:`_translate_schema` treats a keyword's value."""

    ANNOTATION = enum.auto()
    TYPE = enum.auto()
    REQUIRED = enum.auto()
    ITEMS = enum.auto()
    SCHEMA = enum.auto()
    SCHEMA_LIST = enum.auto()
    SCHEMA_MAP = enum.auto()


# One lookup per keyword (a tool's first sight visits every keyword of its schema).
_KEYWORD_KINDS: Final[Mapping[str, _Kind]] = {
    **dict.fromkeys(_ANNOTATIONS, _Kind.ANNOTATION),
    **dict.fromkeys(_SCHEMA_VALUED, _Kind.SCHEMA),
    **dict.fromkeys(_SCHEMA_LIST_VALUED, _Kind.SCHEMA_LIST),
    **dict.fromkeys(_SCHEMA_MAP_VALUED, _Kind.SCHEMA_MAP),
    "type": _Kind.TYPE,
    "required": _Kind.REQUIRED,
    "items": _Kind.ITEMS,
}


def _translate_schema(
    tool_name: str, schema: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Copy a (sub)schema, mapping BFCL/Java/JS type names to JSON Schema at every depth.

    Returns the copy and, built in the same pass, the copy without annotation keywords
    (:data:`_ANNOTATIONS`): the schema a validator is compiled from, so tools that differ only
    in their prose share one validator.
    """
    translated: dict[str, Any] = {}
    bare: dict[str, Any] = {}
    for keyword, value in schema.items():
        kind = _KEYWORD_KINDS.get(keyword)
        if kind is None:
            translated[keyword] = bare[keyword] = value
        elif kind is _Kind.ANNOTATION:
            translated[keyword] = value
        elif kind is _Kind.TYPE:
            type_value = _translate_type(tool_name, value)
            if type_value is not None:
                translated["type"] = bare["type"] = type_value
        elif kind is _Kind.REQUIRED:
            if not isinstance(value, bool):  # a draft-3 flag is handled by the parent
                translated[keyword] = bare[keyword] = value
        elif kind is _Kind.ITEMS and isinstance(value, list):
            translated["prefixItems"], bare["prefixItems"] = _translate_list(tool_name, value)
        elif kind is _Kind.ITEMS or kind is _Kind.SCHEMA:
            translated[keyword], bare[keyword] = _translate_sub(tool_name, value)
        elif kind is _Kind.SCHEMA_LIST and isinstance(value, list):
            translated[keyword], bare[keyword] = _translate_list(tool_name, value)
        elif kind is _Kind.SCHEMA_MAP and isinstance(value, Mapping):
            translated[keyword], bare[keyword] = {}, {}
            for key, item in value.items():
                translated[keyword][key], bare[keyword][key] = _translate_sub(tool_name, item)
        else:
            translated[keyword] = bare[keyword] = value
    # OpenAPI's "nullable: true" (common in OpenAI-style tools) is JSON Schema's "null" type.
    type_value = translated.get("type")
    if schema.get("nullable") is True and type_value is not None:
        types = type_value if isinstance(type_value, list) else [type_value]
        translated["type"] = bare["type"] = types if "null" in types else [*types, "null"]
    return translated, bare


def _translate_sub(tool_name: str, value: Any) -> tuple[Any, Any]:
    if type(value) is dict or isinstance(value, Mapping):
        return _translate_schema(tool_name, value)
    return value, value


def _translate_list(tool_name: str, values: list[Any]) -> tuple[list[Any], list[Any]]:
    pairs = [_translate_sub(tool_name, item) for item in values]
    return [translated for translated, _ in pairs], [bare for _, bare in pairs]


_UNKNOWN_TYPE: Final = "\x00unknown"
_FAILED: Final = object()


def _translate_type(tool_name: str, value: Any) -> str | list[str] | None:
    """``"float"`` → ``"number"``; ``"any"`` → None (no constraint); lists element-wise."""
    if type(value) is str:  # the common case, without the list a union needs
        json_type = _TYPE_NAMES.get(value.lower(), _UNKNOWN_TYPE)
        if json_type is not _UNKNOWN_TYPE:
            return json_type
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


def _from_xlam(name: str, parameters: Mapping[str, Any]) -> _Normalised:
    properties: dict[str, dict[str, Any]] = {}
    bare_properties: dict[str, dict[str, Any]] = {}
    required: set[str] = set()
    for parameter, descriptor in parameters.items():
        if not isinstance(descriptor, Mapping):
            raise InvalidToolSchemaError(
                f"tool {name!r}: parameter {parameter!r} must be described by an object",
                label="schema:invalid_parameters",
            )
        type_string = descriptor.get("type")
        schema, optional = (
            _parsed_xlam_type(type_string) if isinstance(type_string, str) else ({}, False)
        )
        bare_properties[parameter] = dict(schema)
        if isinstance(descriptor.get("description"), str):
            schema["description"] = descriptor["description"]
        if "default" in descriptor:
            schema["default"] = descriptor["default"]
        properties[parameter] = schema
        if not optional and "default" not in descriptor:
            required.add(parameter)
    ordered_required = sorted(required)
    json_schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "required": ordered_required,
        "additionalProperties": False,
    }
    bare = {**json_schema, "properties": bare_properties}
    return properties, frozenset(required), json_schema, bare


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------


# Compiled validators kept at once. A validator is cheap to rebuild (tens of µs) and a
# long-running reward service may see a new schema with every request, so the cache is an LRU
# of fixed size rather than a table that only grows.
VALIDATOR_CACHE_SIZE: Final = 4096
# Instance nesting allowed under a schema with references: a recursive reference lets the
# validator descend as deep as the instance, on the native stack. JSON decoders stop near a
# thousand levels; this keeps the same order of magnitude, far below what the stack holds.
_MAX_DEPTH_UNDER_REFERENCES: Final = 1024
_REPLACEMENT_CHARACTER: Final = "\ufffd"


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


@dataclass(frozen=True, slots=True)
class _CompiledSchema:
    """A schema's validator, and the object-level facts that label most failures cheaply.

    ``required`` is the top-level ``required`` list: a missing name is the most fundamental
    failure whatever else fails. ``allowed`` (None unless it is exact) holds the only names
    an object may have: set when the schema is a plain closed object (``type``,
    ``properties``, ``required``, ``additionalProperties: false``) whose parameter schemas
    require nothing themselves, so an unknown name is then the most fundamental failure left.
    Only other failures need the validator's (much slower) error list.
    """

    validator: jsonschema_rs.Validator
    required: frozenset[str]
    allowed: frozenset[str] | None


_PLAIN_OBJECT_KEYWORDS: Final = frozenset(
    {"type", "properties", "required", "additionalProperties"}
)


_VALIDATORS: Final = LruCache[_CompiledSchema](VALIDATOR_CACHE_SIZE)


def _compiled_validator(key: bytes, schema: Any = None) -> _CompiledSchema:
    """The cached validator of the schema whose canonical JSON is ``key``, built on a miss.

    Built from ``schema`` (the decoded ``key``) when given, so a first sight does not decode
    the key it has just encoded; else from ``key`` (a validator evicted since its tool was
    normalised).
    """
    entry = _VALIDATORS.get(key)
    if entry is None:
        entry = _compile(key, orjson.loads(key) if schema is None else schema)
        _VALIDATORS.put(key, entry)
    return entry


def _compile(key: bytes, schema: Any) -> _CompiledSchema:
    """The Draft 2020-12 validator of ``schema`` (whose canonical JSON is ``key``).

    Building it checks the schema whole: against the Draft 2020-12 meta-schema, every
    reference resolved (offline: nothing is ever fetched) and every pattern compiled. Formats
    are annotations only. Raises ``jsonschema_rs.ValidationError`` (or ``ReferencingError``)
    for a schema that fails any of it.
    """
    has_definitions = b'"$defs"' in key or b'"definitions"' in key
    definitions = list(_definition_pointers(schema, "")) if has_definitions else []
    existing = schema.get("allOf", []) if isinstance(schema, dict) else []
    if definitions and isinstance(existing, list):
        # The validator compiles what the schema reaches; a definition nothing references
        # would go unchecked, so a throwaway copy references every one of them.
        reaching = dict(schema)
        reaching["allOf"] = [*existing, *({"$ref": f"#{pointer}"} for pointer in definitions)]
        jsonschema_rs.Draft202012Validator(reaching, validate_formats=False, offline=True)
    validator = jsonschema_rs.Draft202012Validator(schema, validate_formats=False, offline=True)
    if not isinstance(schema, dict):
        return _CompiledSchema(validator, frozenset(), None)
    required = frozenset(schema.get("required", ()))
    properties = schema.get("properties", {})
    # No "required" below the top level (counted in the canonical text: a property *named*
    # "required" also counts, which only sends its objects down the slower, exact path).
    top_level_required = 1 if "required" in schema else 0
    plain_closed_object = (
        schema.keys() <= _PLAIN_OBJECT_KEYWORDS
        and schema.get("additionalProperties", True) is False
        and key.count(b'"required"') <= top_level_required
    )
    allowed = frozenset(properties) if plain_closed_object else None
    return _CompiledSchema(validator, required, allowed)


def _definition_pointers(schema: Any, pointer: str) -> Iterator[str]:
    """URI-fragment JSON pointers of every ``$defs``/``definitions`` entry in ``schema``."""
    if not isinstance(schema, Mapping):
        return
    for keyword, value in schema.items():
        here = f"{pointer}/{_pointer_token(keyword)}"
        if keyword in ("$defs", "definitions") and isinstance(value, Mapping):
            for name, definition in value.items():
                yield f"{here}/{_pointer_token(name)}"
                yield from _definition_pointers(definition, f"{here}/{_pointer_token(name)}")
        elif keyword in _SCHEMA_VALUED:
            yield from _definition_pointers(value, here)
        elif keyword in _SCHEMA_LIST_VALUED and isinstance(value, list):
            for index, item in enumerate(value):
                yield from _definition_pointers(item, f"{here}/{index}")
        elif keyword in _SCHEMA_MAP_VALUED and isinstance(value, Mapping):
            for name, item in value.items():
                yield from _definition_pointers(item, f"{here}/{_pointer_token(name)}")


def _pointer_token(name: str) -> str:
    return quote(name.replace("~", "~0").replace("/", "~1"), safe="")


def check_json_schema(tool_name: str, json_schema: Mapping[str, Any]) -> bytes:
    """Check a tool's parameters schema whole and compile its validator; return its key.

    Raises:
        InvalidToolSchemaError: ``schema:invalid_json_schema`` when the schema breaks the
            Draft 2020-12 meta-schema, holds a reference that does not resolve (a dangling
            ``$ref``, a remote document) or a pattern that is not a regular expression.

    Example:
        >>> key = check_json_schema("f", {"type": "object", "properties": {}})
        >>> dangling = {"type": "object", "properties": {"x": {"$ref": "#/$defs/x"}}}
        >>> try:
        ...     check_json_schema("f", dangling)
        ... except InvalidToolSchemaError as error:
        ...     print(error.label)
        schema:invalid_json_schema
    """
    return _checked_validator_key(tool_name, _without_annotations(json_schema))


def _checked_validator_key(tool_name: str, bare_schema: Mapping[str, Any]) -> bytes:
    """:func:`check_json_schema` of a schema already stripped of its annotations."""
    # Kept twice over: in the tool's spec and as the validator cache's key.
    key = kept_bytes(_canonical_json(bare_schema))
    try:
        _compiled_validator(key, bare_schema)
    except (jsonschema_rs.ValidationError, jsonschema_rs.ReferencingError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else "invalid schema"
        raise InvalidToolSchemaError(
            f"tool {tool_name!r}: parameters are not a valid JSON Schema: {reason}",
            label="schema:invalid_json_schema",
        ) from error
    return key


def validate_arguments(spec: ToolSpec, arguments: Mapping[str, Any]) -> str | None:
    """Check that a call's arguments would execute against the tool's JSON Schema.

    Validation uses ``jsonschema-rs`` (Draft 2020-12, no format checking) with one compiled
    validator per distinct schema, kept in a bounded LRU cache. Required parameters, types,
    enums and unknown parameters all count. JSON Schema's own rules apply: ``5.0`` is an
    integer, an int is a number, a boolean is neither (and a tuple is an array). Values JSON
    cannot carry are judged as JSON would carry them where it can (a ``str`` subclass is a
    string; a lone surrogate becomes U+FFFD); NaN and infinities are not numbers; a set, bytes
    or a non-string key cannot be sent at all (``schema:type_mismatch``).

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
    key = spec.validator_key or check_json_schema(spec.name, spec.json_schema)
    compiled = _compiled_validator(key)
    if not compiled.required <= arguments.keys():
        return "schema:missing_required"
    if (b'"$ref"' in key or b'"$dynamicRef"' in key) and _deeper_than(
        arguments, _MAX_DEPTH_UNDER_REFERENCES
    ):
        return "schema:invalid_value"  # nested past anything a decoder or a tool accepts
    try:
        return _labelled_verdict(compiled, arguments)
    except ValueError:
        # Not plain JSON data (a str subclass, a lone surrogate, a set, a non-string key) or
        # nested past the validator's own limit: judge what JSON would carry, if anything.
        pass
    try:
        carried = _as_json_data(arguments)
    except _NotJsonError:
        return "schema:type_mismatch"
    except RecursionError:
        return "schema:invalid_value"
    try:
        return _labelled_verdict(compiled, carried)
    except ValueError:
        return "schema:invalid_value"


def _labelled_verdict(compiled: _CompiledSchema, arguments: dict[str, Any]) -> str | None:
    validator = compiled.validator
    if validator.is_valid(arguments):
        return None
    if compiled.allowed is not None and not arguments.keys() <= compiled.allowed:
        return "schema:unknown_parameter"
    labels = {_label_for(error) for error in validator.iter_errors(arguments)}
    return next((label for label in _LABEL_PRIORITY if label in labels), "schema:invalid_value")


def _label_for(error: jsonschema_rs.ValidationError) -> str:
    """Label of one validation error; combinators are labelled by their best sub-error."""
    kind = error.kind
    keyword = kind.name
    if keyword in _KEYWORD_LABELS:
        return _KEYWORD_LABELS[keyword]
    context = getattr(kind, "context", None)
    if keyword in _COMBINATORS and context:
        sub_errors = [sub_error for branch in context for sub_error in branch]
        if sub_errors:
            depth = min(len(sub_error.instance_path) for sub_error in sub_errors)
            labels = {
                _label_for(sub_error)
                for sub_error in sub_errors
                if len(sub_error.instance_path) == depth
            }
            # Every branch failed: the least fundamental failure says how close the value came.
            return next(label for label in reversed(_LABEL_PRIORITY) if label in labels)
    return "schema:invalid_value"


_COMBINATORS: Final = frozenset({"anyOf", "oneOf", "allOf"})


class _NotJsonError(Exception):
    """A value no JSON document can hold (a set, bytes, a non-string key, ...)."""


def _as_json_data(value: Any) -> Any:
    """``value`` as JSON would carry it: plain str/int/float/list/dict, valid Unicode."""
    if isinstance(value, str):
        text = str(value)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            # One replacement character per lone surrogate keeps every length the same.
            text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
            text = "".join(
                _REPLACEMENT_CHARACTER if "\ud800" <= character <= "\udfff" else character
                for character in text
            )
        return text
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, list | tuple):
        return [_as_json_data(item) for item in value]
    if isinstance(value, Mapping):
        carried: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise _NotJsonError(f"object key {key!r} is not a string")
            carried[_as_json_data(key)] = _as_json_data(item)
        return carried
    raise _NotJsonError(f"{type(value).__name__} is not JSON data")


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether lists/dicts nest more than ``limit`` levels in ``value`` (no recursion)."""
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        current, depth = pending.pop()
        if isinstance(current, Mapping):
            children: Iterable[Any] = current.values()
        elif isinstance(current, list | tuple):
            children = current
        else:
            continue
        if depth >= limit:
            return True
        pending.extend((child, depth + 1) for child in children)
    return False
