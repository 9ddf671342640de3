"""Differential test: ``jsonschema-rs`` (the core's validator) against ``jsonschema`` (the oracle).

Hypothesis generates JSON Schemas over the keywords tool schemas use (types, enums, bounds,
patterns, arrays, objects, combinators, local references, some of them malformed or dangling)
and JSON instances; both libraries must give the same verdict on the schema (usable or not) and,
for a usable schema, on every instance. The core's own entry points are held to the same
verdicts: :func:`check_json_schema` refuses exactly the schemas the oracle cannot use, and
:func:`validate_arguments` accepts exactly the argument objects the oracle accepts.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jsonschema_rs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from referencing import Registry
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012

from service.core.errors import InvalidToolSchemaError
from service.core.schema import check_json_schema, validate_arguments
from service.core.types import ToolSpec
from tests.service.core.jsonschema_oracle import OracleValidator, oracle_label

# Thousands of generated schemas through both validators: the full lane (make test) only.
pytestmark = pytest.mark.slow

NAMES = ["a", "b", "c"]
# Patterns whose meaning is the same in Python's re and in ECMA-262 on the ASCII text below.
PATTERNS = ["^a", "b$", "^[a-c]*$", "x|y", "^.{2,}$", "[a-"]  # the last one is malformed
TEXT = st.text(alphabet="abcxy1 ", max_size=4)
NUMBERS = st.integers(min_value=-1000, max_value=1000) | st.floats(
    min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False
)
SCALARS = st.none() | st.booleans() | NUMBERS | TEXT
INSTANCES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(NAMES), children, max_size=3)
    ),
    max_leaves=8,
)
TYPE_NAMES = ["string", "integer", "number", "boolean", "array", "object", "null"]
SIZES = st.integers(min_value=0, max_value=3)

LEAF_SCHEMAS = st.one_of(
    st.just({}),
    st.builds(lambda name: {"type": name}, st.sampled_from([*TYPE_NAMES, "float"])),
    st.builds(lambda names: {"type": names}, st.lists(st.sampled_from(TYPE_NAMES), max_size=3)),
    st.builds(lambda values: {"enum": values}, st.lists(SCALARS, max_size=3)),
    st.builds(lambda value: {"const": value}, SCALARS),
    st.builds(
        lambda keyword, value: {keyword: value},
        st.sampled_from(["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"]),
        NUMBERS,
    ),
    st.builds(
        lambda keyword, value: {keyword: value},
        st.sampled_from(
            ["minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties"]
        ),
        st.integers(min_value=-1, max_value=3),  # -1 breaks the meta-schema
    ),
    st.builds(lambda pattern: {"pattern": pattern}, st.sampled_from(PATTERNS)),
    st.builds(lambda unique: {"uniqueItems": unique}, st.booleans()),
    st.builds(lambda divisor: {"multipleOf": divisor}, st.integers(min_value=0, max_value=4)),
    st.builds(lambda names: {"required": names}, st.lists(st.sampled_from(NAMES), max_size=2)),
    st.builds(lambda target: {"$ref": f"#/$defs/{target}"}, st.sampled_from(["d1", "d2", "gone"])),
    st.just({"enum": 5}),  # malformed
)


def _compound(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    schema_or_bool = children | st.booleans()
    return st.one_of(
        st.builds(lambda item: {"items": item}, schema_or_bool),
        st.builds(lambda items: {"prefixItems": items}, st.lists(children, max_size=2)),
        st.builds(
            lambda properties: {"properties": properties},
            st.dictionaries(st.sampled_from(NAMES), schema_or_bool, max_size=2),
        ),
        st.builds(lambda extra: {"additionalProperties": extra}, schema_or_bool),
        st.builds(
            lambda keyword, branches: {keyword: branches},
            st.sampled_from(["anyOf", "oneOf", "allOf"]),
            st.lists(children, min_size=1, max_size=3),
        ),
        st.builds(lambda negated: {"not": negated}, children),
        st.builds(lambda contained: {"contains": contained}, children),
        st.builds(lambda first, second: {**first, **second}, children, children),
    )


SCHEMAS = st.recursive(LEAF_SCHEMAS, _compound, max_leaves=6)
ROOT_SCHEMAS = st.builds(
    lambda schema, definitions: {**schema, "$defs": definitions} if definitions else schema,
    SCHEMAS,
    st.dictionaries(st.sampled_from(["d1", "d2"]), SCHEMAS, max_size=2),
)


def _references(schema: Any) -> Iterator[str]:
    if isinstance(schema, dict):
        for keyword, value in schema.items():
            if keyword == "$ref" and isinstance(value, str):
                yield value
            elif keyword not in ("enum", "const"):
                yield from _references(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from _references(item)


def oracle_accepts_schema(schema: dict[str, Any]) -> bool:
    """The meta-schema (with regex checking, as ``check_schema`` does) and every reference."""
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError:
        return False
    resolver = Registry().with_resource("", DRAFT202012.create_resource(schema)).resolver()
    try:
        for reference in _references(schema):
            resolver.lookup(reference)
    except Unresolvable:
        return False
    return True


def core_accepts_schema(schema: dict[str, Any]) -> bool:
    """The core's whole check: ``jsonschema-rs`` compiles the schema and every definition."""
    try:
        check_json_schema("generated", schema)
    except InvalidToolSchemaError as error:
        assert error.label == "schema:invalid_json_schema"
        return False
    return True


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schema=ROOT_SCHEMAS, instances=st.lists(INSTANCES, min_size=1, max_size=4))
def test_jsonschema_rs_and_jsonschema_give_the_same_verdicts(
    schema: dict[str, Any], instances: list[Any]
) -> None:
    usable = oracle_accepts_schema(schema)
    assert core_accepts_schema(schema) == usable, schema
    if not usable:
        return
    oracle = OracleValidator(schema)
    compiled = jsonschema_rs.Draft202012Validator(schema, validate_formats=False, offline=True)
    for instance in instances:
        try:
            expected = oracle.is_valid(instance)
        except RecursionError:
            continue  # a reference cycle the oracle follows forever: it has no verdict
        assert compiled.is_valid(instance) == expected, (schema, instance)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    properties=st.dictionaries(st.sampled_from(NAMES), SCHEMAS, max_size=3),
    definitions=st.dictionaries(st.sampled_from(["d1", "d2"]), SCHEMAS, max_size=2),
    required=st.lists(st.sampled_from(NAMES), max_size=2, unique=True),
    arguments=st.dictionaries(st.sampled_from([*NAMES, "z"]), INSTANCES, max_size=3),
)
def test_the_core_refuses_and_accepts_as_the_oracle_does(
    properties: dict[str, Any],
    definitions: dict[str, Any],
    required: list[str],
    arguments: dict[str, Any],
) -> None:
    json_schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }
    if definitions:
        json_schema["$defs"] = definitions
    usable = oracle_accepts_schema(json_schema)
    try:
        key = check_json_schema("generated", json_schema)
    except InvalidToolSchemaError as error:
        assert error.label == "schema:invalid_json_schema"
        assert not usable, json_schema
        return
    assert usable, json_schema
    spec = ToolSpec(
        name="generated",
        description="",
        parameters=properties,
        required=frozenset(required),
        json_schema=json_schema,
        validator_key=key,
    )
    verdict = validate_arguments(spec, arguments)
    try:
        expected = oracle_label(json_schema, arguments)
    except RecursionError:
        return  # a reference cycle the oracle follows forever: it has no verdict
    assert (verdict is None) == (expected is None), (json_schema, arguments, verdict, expected)
