"""Tool-schema normalisation (OpenAI, BFCL, xLAM) and jsonschema-rs argument validation."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from service.core import schema as schema_module
from service.core.errors import InvalidToolSchemaError
from service.core.schema import (
    VALIDATOR_CACHE_SIZE,
    normalise_tool,
    normalise_tools,
    validate_arguments,
    xlam_type_to_json_schema,
)
from tests.service.core.jsonschema_oracle import oracle_label

WEATHER_PARAMETERS = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "description": "City name"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        "days": {"type": "integer", "minimum": 1},
    },
    "required": ["city"],
}


# ---------------------------------------------------------------------------- input forms


def test_openai_and_plain_forms_normalise_to_the_same_spec() -> None:
    openai = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather",
            "parameters": WEATHER_PARAMETERS,
            "strict": True,
        },
    }
    plain = {"name": "get_weather", "description": "Weather", "parameters": WEATHER_PARAMETERS}

    openai_spec, plain_spec = normalise_tool(openai), normalise_tool(plain)

    assert openai_spec == plain_spec
    assert openai_spec.name == "get_weather"
    assert openai_spec.description == "Weather"
    assert openai_spec.required == frozenset({"city"})
    assert set(openai_spec.parameters) == {"city", "unit", "days"}
    assert openai_spec.json_schema["additionalProperties"] is False
    assert openai_spec.json_schema["required"] == ["city"]


def test_bfcl_type_names_are_mapped_at_every_depth() -> None:
    tool = {
        "name": "plan",
        "parameters": {
            "type": "dict",
            "properties": {
                "ratio": {"type": "float"},
                "point": {"type": "tuple", "items": {"type": "float"}},
                "anything": {"type": "any"},
                "options": {
                    "type": "dict",
                    "properties": {
                        "weights": {"type": "array", "items": {"type": "float"}},
                        "label": {"type": "String"},
                    },
                },
                "stops": {"type": "array", "items": {"type": "dict", "properties": {}}},
            },
            "required": ["ratio"],
        },
    }

    parameters = normalise_tool(tool).parameters

    assert parameters["ratio"] == {"type": "number"}
    assert parameters["point"] == {"type": "array", "items": {"type": "number"}}
    assert parameters["anything"] == {}
    assert parameters["options"]["type"] == "object"
    assert parameters["options"]["properties"]["weights"]["items"] == {"type": "number"}
    assert parameters["options"]["properties"]["label"] == {"type": "string"}
    assert parameters["stops"]["items"]["type"] == "object"


def test_openapi_nullable_admits_null() -> None:
    spec = normalise_tool(
        {
            "name": "n",
            "parameters": {
                "type": "object",
                "properties": {"note": {"type": "string", "nullable": True}},
            },
        }
    )
    assert spec.parameters["note"]["type"] == ["string", "null"]
    assert validate_arguments(spec, {"note": None}) is None
    assert validate_arguments(spec, {"note": 3}) == "schema:type_mismatch"


def test_an_explicit_additional_properties_is_respected() -> None:
    parameters = {**WEATHER_PARAMETERS, "additionalProperties": True}
    spec = normalise_tool({"name": "w", "parameters": parameters})
    assert validate_arguments(spec, {"city": "Oslo", "extra": 1}) is None


def test_a_tool_without_parameters_takes_no_arguments() -> None:
    spec = normalise_tool({"name": "now"})
    assert spec.parameters == {}
    assert spec.required == frozenset()
    assert validate_arguments(spec, {}) is None
    assert validate_arguments(spec, {"tz": "UTC"}) == "schema:unknown_parameter"


def test_xlam_requiredness_follows_optional_suffix_and_default() -> None:
    tool = {
        "name": "search",
        "description": "Search the web",
        "parameters": {
            "query": {"type": "str", "description": "What to look for"},
            "limit": {"type": "int, optional", "description": "Max results"},
            "lang": {"type": "str", "description": "Language", "default": "en"},
            "region": {"type": "List[str], optional"},
        },
    }

    spec = normalise_tool(tool)

    assert spec.required == frozenset({"query"})
    assert spec.parameters["limit"] == {"type": "integer", "description": "Max results"}
    assert spec.parameters["lang"]["default"] == "en"
    assert spec.parameters["region"] == {"type": "array", "items": {"type": "string"}}
    assert spec.json_schema["required"] == ["query"]


@pytest.mark.parametrize(
    ("type_string", "expected"),
    [
        ("str", {"type": "string"}),
        ("int", {"type": "integer"}),
        ("float", {"type": "number"}),
        ("bool", {"type": "boolean"}),
        ("list", {"type": "array"}),
        ("List", {"type": "array"}),
        ("List[int]", {"type": "array", "items": {"type": "integer"}}),
        (
            "List[List[str]]",
            {"type": "array", "items": {"type": "array", "items": {"type": "string"}}},
        ),
        ("List[Union[int, float]]", {"type": "array", "items": {"type": ["integer", "number"]}}),
        (
            "Tuple[float, float]",
            {
                "type": "array",
                "prefixItems": [{"type": "number"}, {"type": "number"}],
                "minItems": 2,
                "maxItems": 2,
            },
        ),
        (
            "List[Tuple[float, float]]",
            {
                "type": "array",
                "items": {
                    "type": "array",
                    "prefixItems": [{"type": "number"}, {"type": "number"}],
                    "minItems": 2,
                    "maxItems": 2,
                },
            },
        ),
        ("Tuple[int, ...]", {"type": "array", "items": {"type": "integer"}}),
        ("Dict", {"type": "object"}),
        ("dict", {"type": "object"}),
        ("Dict[str, int]", {"type": "object", "additionalProperties": {"type": "integer"}}),
        ("Dict[str, Any]", {"type": "object"}),
        ("set", {"type": "array", "uniqueItems": True}),
        ("Set[str]", {"type": "array", "uniqueItems": True, "items": {"type": "string"}}),
        ("Optional[str]", {"type": ["string", "null"]}),
        ("int | None", {"type": ["integer", "null"]}),
        (
            "Union[str, List[str]]",
            {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
        ),
        ("Literal['asc', 'desc']", {"enum": ["asc", "desc"]}),
        ("typing.List[int]", {"type": "array", "items": {"type": "integer"}}),
        ("Any", {}),
        ("Callable[[float], float]", {}),
        ("Union[int, Any]", {}),
        ("SomeCustomClass", {}),
        ("a list of strings", {}),
        ("int, optional", {"type": "integer"}),
        ("List[int], optional", {"type": "array", "items": {"type": "integer"}}),
        ("Callable[[float], float], optional", {}),
        ("str or None", {"type": ["string", "null"]}),
        ("float, default: 0.5", {"type": "number"}),
        ("Literal[b'raw']", {}),
    ],
)
def test_xlam_type_strings_map_to_json_schema(type_string: str, expected: dict[str, Any]) -> None:
    assert xlam_type_to_json_schema(type_string) == expected


def test_xlam_trailing_notes_after_the_type_make_a_parameter_optional() -> None:
    spec = normalise_tool(
        {
            "name": "scale",
            "parameters": {
                "factor": {"type": "float, default: 0.5"},
                "mode": {"type": "str, optional, default='fast'"},
                "count": {"type": "int"},
            },
        }
    )
    assert spec.required == frozenset({"count"})
    assert spec.parameters["factor"] == {"type": "number"}
    assert spec.parameters["mode"] == {"type": "string"}


def test_xlam_parameters_may_be_called_type_or_properties() -> None:
    spec = normalise_tool(
        {
            "name": "create",
            "parameters": {
                "type": {"type": "str", "description": "Kind of record"},
                "properties": {"type": "Dict", "description": "Fields"},
            },
        }
    )
    assert spec.parameters == {
        "type": {"type": "string", "description": "Kind of record"},
        "properties": {"type": "object", "description": "Fields"},
    }
    assert spec.required == frozenset({"type", "properties"})


def test_every_mapped_xlam_type_is_a_valid_json_schema() -> None:
    for type_string in ["List[Union[int, float]]", "Tuple[float, float]", "Dict[str, List[int]]"]:
        Draft202012Validator.check_schema(xlam_type_to_json_schema(type_string))
        schema_module.check_json_schema("xlam", xlam_type_to_json_schema(type_string))


def test_tools_arrive_as_json_string_list_single_object_or_nothing() -> None:
    tools = [
        {"name": "add", "parameters": {"a": {"type": "int"}, "b": {"type": "int"}}},
        {"type": "function", "function": {"name": "neg", "parameters": WEATHER_PARAMETERS}},
    ]

    from_list = normalise_tools(tools)
    from_string = normalise_tools(json.dumps(tools))

    assert list(from_list) == ["add", "neg"]
    assert from_string == from_list
    assert normalise_tools(tools[0]) == {"add": from_list["add"]}
    assert normalise_tools(None) == {}
    assert normalise_tools("") == {}
    assert normalise_tools([]) == {}


def test_normalised_tools_pass_through() -> None:
    specs = normalise_tools([{"name": "add", "parameters": {"a": {"type": "int"}}}])
    again = normalise_tools(specs)
    assert again == specs
    assert again is not specs  # a new dict, as always
    assert normalise_tools(list(specs.values())) == specs
    assert normalise_tools({}) == {}


def test_normalised_tools_are_cached_per_distinct_schema() -> None:
    tool = {"name": "cached_tool", "parameters": {"x": {"type": "int"}}}
    same_tool_again = json.loads(json.dumps(tool))

    assert normalise_tool(tool) is normalise_tool(same_tool_again)
    assert normalise_tools([tool])["cached_tool"] is normalise_tool(tool)


def test_whole_list_cache_agrees_with_per_tool_normalisation() -> None:
    first = {"name": "list_cache_a", "parameters": {"x": {"type": "int"}}}
    second = {"name": "list_cache_b", "parameters": {"y": {"type": "str, optional"}}}
    renamed_clash = {"name": "list_cache_a", "parameters": {"z": {"type": "int"}}}
    fresh = json.loads(json.dumps([second, first]))

    one_by_one = {"list_cache_a": normalise_tool(first), "list_cache_b": normalise_tool(second)}

    assert normalise_tools([first, second]) == one_by_one
    assert normalise_tools([first, second]) is not normalise_tools([first, second])
    assert list(normalise_tools(fresh)) == ["list_cache_b", "list_cache_a"]  # order kept
    assert normalise_tools((first, second, first)) == one_by_one
    assert normalise_tools([one_by_one["list_cache_a"], second]) == one_by_one
    for _ in range(2):  # an error is never remembered as a result
        with pytest.raises(InvalidToolSchemaError) as clash:
            normalise_tools([first, renamed_clash])
        assert clash.value.label == "schema:duplicate_tool"


def test_one_validator_is_built_per_distinct_schema() -> None:
    validators = schema_module._VALIDATORS
    parameters = {"q": {"type": "str"}, "n": {"type": "List[Tuple[int, str]]"}}
    builds_before = validators.misses
    first = normalise_tool({"name": "validator_probe_a", "parameters": parameters})
    built_for_first = validators.misses - builds_before
    # A different tool (other name, other prose) with the same JSON Schema shares the validator.
    described = {name: {**value, "description": "prose"} for name, value in parameters.items()}
    second = normalise_tool({"name": "validator_probe_b", "parameters": described})
    for arguments in ({"q": "a"}, {"q": 1}, {}, {"q": "b", "n": [[1, "x"]]}):
        assert validate_arguments(second, arguments) == validate_arguments(first, arguments)

    assert built_for_first == 1
    assert validators.misses - builds_before == 1
    assert first.validator_key == second.validator_key


def test_the_tool_cache_is_bounded_and_keeps_what_is_used() -> None:
    kept = {"name": "kept_tool", "parameters": {"x": {"type": "int"}}}
    first = normalise_tool(kept)
    for index in range(schema_module.TOOL_CACHE_SIZE + 10):
        normalise_tool({"name": f"lru_{index}", "parameters": {"x": {"type": "int"}}})
        if index % 100 == 0:
            assert normalise_tool(kept) is first  # recently used: kept
    assert len(schema_module._TOOL_CACHE) == schema_module.TOOL_CACHE_SIZE
    evicted = {"name": "lru_0", "parameters": {"x": {"type": "int"}}}
    before = normalise_tool(evicted)
    assert normalise_tool(evicted) is before
    assert normalise_tool(kept) is first


def test_the_validator_cache_is_bounded() -> None:
    validators = schema_module._VALIDATORS
    for index in range(VALIDATOR_CACHE_SIZE + 50):
        normalise_tool({"name": f"bounded_{index}", "parameters": {f"p{index}": {"type": "int"}}})
    assert validators.size == VALIDATOR_CACHE_SIZE
    assert len(validators) == VALIDATOR_CACHE_SIZE
    # A spec whose validator was evicted is rebuilt on use, with the same verdicts.
    spec = normalise_tool({"name": "bounded_0", "parameters": {"p0": {"type": "int"}}})
    assert validate_arguments(spec, {"p0": 1}) is None
    assert validate_arguments(spec, {"p0": "1"}) == "schema:type_mismatch"


def _parameters_with(property_schema: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "object", "properties": {"x": property_schema}, **extra}


@pytest.mark.parametrize(
    "parameters",
    [
        _parameters_with({"$ref": "#/$defs/missing"}),
        _parameters_with({"$ref": "#/$defs/missing"}, **{"$defs": {"present": {}}}),
        _parameters_with({"items": {"$ref": "#/properties/nowhere"}}),
        _parameters_with({"$ref": "other.json"}),
        _parameters_with({"$ref": "https://example.com/remote.json"}),  # never fetched
        _parameters_with({"$dynamicRef": "#anchor"}),
        _parameters_with({"type": "string", "pattern": "[a-"}),
        _parameters_with({"type": "string", "minLength": -1}),
        _parameters_with({"type": "array", "items": [{"type": "string"}], "maxItems": "two"}),
    ],
)
def test_schemas_that_cannot_be_checked_whole_are_refused_at_load(
    parameters: dict[str, Any],
) -> None:
    """A dangling or remote reference, a broken pattern or a meta-schema violation: refused when
    the tool is normalised, never later at validation time."""
    with pytest.raises(InvalidToolSchemaError) as raised:
        normalise_tools([{"name": "refs", "parameters": parameters}])
    assert raised.value.label == "schema:invalid_json_schema"
    assert raised.value.status_code == 400


def test_resolvable_references_validate() -> None:
    spec = normalise_tool(
        {
            "name": "tree",
            "parameters": {
                "type": "object",
                "$defs": {"node": {"type": "array", "items": {"$ref": "#/$defs/node"}}},
                "properties": {"root": {"$ref": "#/$defs/node"}, "copy": {"$ref": "#"}},
            },
        }
    )
    assert validate_arguments(spec, {"root": [[], [[]]]}) is None
    assert validate_arguments(spec, {"root": [[], [1]]}) == "schema:type_mismatch"
    assert validate_arguments(spec, {"copy": {"root": [[]]}}) is None
    # A recursive reference under an instance nested past any JSON decoder's limit: judged,
    # not followed down the native stack.
    assert validate_arguments(spec, {"root": _nested_list(200_000)}) == "schema:invalid_value"
    assert validate_arguments(spec, {"root": _nested_list(500)}) is None


@pytest.mark.parametrize(
    ("tools", "label"),
    [
        ("[not json", "schema:invalid_json"),
        ('"a string"', "schema:invalid_tools"),
        (42, "schema:invalid_tools"),
        ([42], "schema:invalid_tool"),
        ([{"description": "no name"}], "schema:invalid_tool"),
        ([{"name": ""}], "schema:invalid_tool"),
        ([{"name": "f", "parameters": "x"}], "schema:invalid_parameters"),
        ([{"name": "f", "parameters": {"type": "array"}}], "schema:invalid_parameters"),
        (
            [{"name": "f", "parameters": {"type": "object", "required": "x"}}],
            "schema:invalid_parameters",
        ),
        (
            [
                {
                    "name": "f",
                    "parameters": {"type": "object", "properties": {"x": {"type": "blob"}}},
                }
            ],
            "schema:unknown_type",
        ),
        (
            [{"name": "f", "parameters": {"type": "object", "properties": {"x": {"enum": 5}}}}],
            "schema:invalid_json_schema",
        ),
        ([{"name": "f", "parameters": {"x": "int"}}], "schema:invalid_parameters"),
        (
            [{"name": "f", "parameters": {"a": {"type": "int"}}}, {"name": "f"}],
            "schema:duplicate_tool",
        ),
        ([{"name": "f", "parameters": {"x": {1, 2}}}], "schema:invalid_tool"),
    ],
)
def test_malformed_tools_raise_a_labelled_error(tools: Any, label: str) -> None:
    with pytest.raises(InvalidToolSchemaError) as raised:
        normalise_tools(tools)
    assert raised.value.label == label
    assert raised.value.status_code == 400


def test_the_same_tool_twice_is_kept_once() -> None:
    tool = {"name": "twice", "parameters": {"a": {"type": "int"}}}
    assert list(normalise_tools([tool, dict(tool)])) == ["twice"]


# ---------------------------------------------------------------------------- validation


@pytest.fixture(scope="module")
def profile_spec() -> Any:
    return normalise_tool(
        {
            "name": "update_profile",
            "parameters": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "age": {"type": "integer", "minimum": 0},
                    "height": {"type": "number"},
                    "role": {"type": "string", "enum": ["admin", "user"]},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "nickname": {"type": ["string", "null"]},
                },
                "required": ["name"],
            },
        }
    )


@pytest.mark.parametrize(
    ("arguments", "label"),
    [
        ({"name": "Ada", "age": 30}, None),
        ({"name": "Ada", "age": "30"}, "schema:type_mismatch"),  # a string for an integer
        ({"name": "Ada", "age": True}, "schema:type_mismatch"),  # a bool is not an integer
        ({"name": "Ada", "age": 30.0}, None),  # JSON Schema: 30.0 is an integer
        ({"name": "Ada", "height": 170}, None),  # an int is a number
        ({"name": "Ada", "tags": ("a", "b")}, None),  # a tuple is an array
        ({"name": "Ada", "tags": ["a", 1]}, "schema:type_mismatch"),
        ({"name": "Ada", "nickname": None}, None),
        ({"age": 30}, "schema:missing_required"),
        ({"name": "Ada", "email": "a@b.c"}, "schema:unknown_parameter"),
        ({"name": "Ada", "role": "root"}, "schema:enum_mismatch"),
        ({"name": "Ada", "age": -1}, "schema:invalid_value"),
        # Several failures: the most fundamental one names the call.
        ({"age": "x", "email": 1}, "schema:missing_required"),
        ({"name": "Ada", "email": 1, "age": "x"}, "schema:unknown_parameter"),
        ({"name": 5, "role": "root"}, "schema:type_mismatch"),
    ],
)
def test_validate_arguments_labels(
    profile_spec: Any, arguments: dict[str, Any], label: str | None
) -> None:
    assert validate_arguments(profile_spec, arguments) == label
    # Remembered verdicts are the same verdicts.
    assert validate_arguments(profile_spec, arguments) == label


def test_union_failures_are_labelled_by_their_branches() -> None:
    spec = normalise_tool({"name": "u", "parameters": {"v": {"type": "Union[str, List[str]]"}}})
    assert validate_arguments(spec, {"v": ["a"]}) is None
    assert validate_arguments(spec, {"v": 3}) == "schema:type_mismatch"


def test_xlam_tuple_and_set_arguments_are_checked_faithfully() -> None:
    spec = normalise_tool(
        {
            "name": "geo",
            "parameters": {"point": {"type": "Tuple[float, float]"}, "ids": {"type": "set"}},
        }
    )
    assert validate_arguments(spec, {"point": [1.5, 2], "ids": [1, 2]}) is None
    assert validate_arguments(spec, {"point": [1.5], "ids": [1]}) == "schema:invalid_value"
    assert validate_arguments(spec, {"point": [1.5, "x"], "ids": [1]}) == "schema:type_mismatch"
    assert validate_arguments(spec, {"point": [1, 2], "ids": [1, 1]}) == "schema:invalid_value"


def test_schemas_outside_the_per_parameter_form_use_the_whole_validator() -> None:
    spec = normalise_tool(
        {
            "name": "shapes",
            "parameters": {
                "type": "object",
                "$defs": {"point": {"type": "array", "items": {"type": "number"}}},
                "properties": {"at": {"$ref": "#/$defs/point"}},
                "minProperties": 1,
            },
        }
    )
    assert validate_arguments(spec, {"at": [1, 2.5]}) is None
    assert validate_arguments(spec, {"at": ["x"]}) == "schema:type_mismatch"
    assert validate_arguments(spec, {}) == "schema:invalid_value"


def test_non_finite_floats_are_not_json_numbers() -> None:
    spec = normalise_tool(
        {
            "name": "nullable",
            "parameters": {"v": {"type": "None"}, "n": {"type": "float, optional"}},
        }
    )
    assert validate_arguments(spec, {"v": None}) is None
    assert validate_arguments(spec, {"v": math.nan}) == "schema:type_mismatch"
    for value in (math.nan, math.inf, -math.inf):
        assert validate_arguments(spec, {"v": None, "n": value}) == "schema:type_mismatch"
    assert validate_arguments(spec, {"v": None, "n": 1e308}) is None


class _Text(str):
    pass


def test_values_json_cannot_carry_are_judged_as_json_would_carry_them() -> None:
    spec = normalise_tool(
        {
            "name": "carried",
            "parameters": {
                "s": {"type": "str, optional"},
                "o": {"type": "Dict, optional"},
                "a": {"type": "Any, optional"},
            },
        }
    )
    assert validate_arguments(spec, {"s": _Text("subclass")}) is None
    assert validate_arguments(spec, {"s": "lone \ud800 surrogate"}) is None
    assert validate_arguments(spec, {"o": {"k": _Text("v")}}) is None
    assert validate_arguments(spec, {"s": 1, "o": {"k": "\udfff"}}) == "schema:type_mismatch"
    for value in ({1, 2}, b"bytes", 1j, object()):
        assert validate_arguments(spec, {"s": value}) == "schema:type_mismatch"
        assert validate_arguments(spec, {"o": {"k": value}}) is None  # values unconstrained
        assert validate_arguments(spec, {"a": value}) is None  # no constraint, as jsonschema
    assert validate_arguments(spec, {"o": {1: "int key"}}) is None  # an object, as jsonschema


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True)
    | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3)
    ),
    max_leaves=8,
)


PROPERTY_TOOLS = [
    {
        "name": "closed",
        "parameters": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "description": "annotations are stripped"},
                "age": {"type": "integer", "minimum": 0},
                "role": {"type": "string", "enum": ["admin", "user"]},
                "tags": {"type": "array", "items": {"type": "string"}},
            },
            "required": ["name"],
        },
    },
    {
        "name": "open",
        "parameters": {
            "type": "object",
            "properties": {"age": {"type": "number"}, "tags": {}},
            "required": ["age"],
            "additionalProperties": True,
        },
    },
    {
        "name": "xlam",
        "parameters": {
            "name": {"type": "Optional[str]"},
            "age": {"type": "List[Union[int, float]], optional"},
            "role": {"type": "Tuple[float, float]", "default": "(0, 0)"},
            "tags": {"type": "set, optional"},
            "other": {"type": "Dict[str, int], optional"},
        },
    },
]


@settings(max_examples=400, deadline=None)
@given(
    tool=st.sampled_from(PROPERTY_TOOLS),
    arguments=st.dictionaries(
        st.sampled_from(["name", "age", "role", "tags", "other"]),
        JSON_VALUES | st.sampled_from(["admin", "user", 3, 2.5, [1, 2.5], {"k": 1}]),
        max_size=4,
    ),
)
def test_verdicts_agree_with_plain_jsonschema(
    tool: dict[str, Any], arguments: dict[str, Any]
) -> None:
    """jsonschema-rs with annotations stripped gives jsonschema's verdict and label."""
    spec = normalise_tool(tool)
    assert validate_arguments(spec, arguments) == oracle_label(spec.json_schema, arguments)


TYPED_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.sampled_from([0, 1, 2, -1, 0.0, -0.0, 1.0, 2.5, math.nan, math.inf, 2**70])
    | st.sampled_from(["", "admin", "user", "x" * 300]),
    lambda children: (
        st.lists(children, max_size=3)
        | st.lists(children, max_size=3).map(tuple)
        | st.dictionaries(st.sampled_from(["k", "j"]), children, max_size=2)
    ),
    max_leaves=6,
)


@settings(max_examples=400, deadline=None)
@given(
    tool=st.sampled_from(PROPERTY_TOOLS),
    arguments=st.dictionaries(
        st.sampled_from(["name", "age", "role", "tags", "other"]), TYPED_VALUES, max_size=4
    ),
)
def test_typed_verdicts_are_jsonschemas_own(
    tool: dict[str, Any], arguments: dict[str, Any]
) -> None:
    """Values that compare equal across types (1 vs 1.0 vs True, tuple vs list, NaN) get
    jsonschema's verdicts, on first sight and again."""
    spec = normalise_tool(tool)
    expected = oracle_label(spec.json_schema, arguments)
    assert validate_arguments(spec, arguments) == expected
    assert validate_arguments(spec, arguments) == expected


def test_equal_values_of_other_types_get_their_own_verdicts() -> None:
    spec = normalise_tool(
        {
            "name": "typed_memo",
            "parameters": {"v": {"type": "List[int], optional"}, "s": {"type": "set, optional"}},
        }
    )
    verdicts = [
        validate_arguments(spec, {"v": value})
        for value in ([1, 2], [1.0, 2], [True, 2], [1, 2], (1, 2), [1.5, 2], [1.0, 2])
    ]
    assert verdicts == [
        None,
        None,
        "schema:type_mismatch",
        None,
        None,
        "schema:type_mismatch",
        None,
    ]
    # uniqueItems: 1 and True are distinct in JSON Schema; 1 and 1.0 are not.
    assert validate_arguments(spec, {"s": [1, True]}) is None
    assert validate_arguments(spec, {"s": [1, 1.0]}) == "schema:invalid_value"
    assert validate_arguments(spec, {"s": [1, True]}) is None


def _nested_list(depth: int) -> Any:
    value: Any = []
    for _ in range(depth):
        value = [value]
    return value


def test_pathological_arguments_do_not_raise() -> None:
    spec = normalise_tool({"name": "deep", "parameters": {"v": {"type": "set"}}})
    # Two equal, separately built structures: checking uniqueness recurses all the way down.
    pair = [_nested_list(100_000), _nested_list(100_000)]
    assert validate_arguments(spec, {"v": pair}) == "schema:invalid_value"
    assert validate_arguments(spec, {"v": [10**400]}) is None


def test_the_validator_schema_is_the_normalised_schema_without_annotations() -> None:
    """The one-pass translation builds the validator's schema exactly as stripping would."""
    pytest.importorskip("bfcl_eval", reason="BFCL's shipped tools are the varied sample")
    from bench.bfcl_candidates import load_bfcl_items

    tools = {
        schema_module._canonical_json(tool): tool
        for item in load_bfcl_items()
        for tool in item.functions
    }
    assert len(tools) > 1000
    annotated = 0
    for tool in tools.values():
        spec = normalise_tool(tool)
        stripped = schema_module._without_annotations(spec.json_schema)
        assert spec.validator_key == schema_module._canonical_json(stripped), tool["name"]
        annotated += spec.validator_key != schema_module._canonical_json(spec.json_schema)
    assert annotated > 1000  # descriptions were present and dropped, not carried over
