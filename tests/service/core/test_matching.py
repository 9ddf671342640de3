"""BFCL-compatible matching: values, single calls, call lists, and argument overlap."""

from __future__ import annotations

import math
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.core import matching as matching_module
from service.core.matching import (
    ArgumentOverlap,
    ValueRule,
    argument_overlap,
    check_call,
    judge_calls,
    match_calls,
    match_value,
    standardise_string,
    value_rule,
)
from service.core.schema import normalise_tool, normalise_tools
from service.core.types import MatchResult, Reference, ReferenceCall, ToolCall

INTEGER = {"type": "integer"}
NUMBER = {"type": "number"}
STRING = {"type": "string"}
BOOLEAN = {"type": "boolean"}
ANY: dict[str, Any] = {}


# ---------------------------------------------------------------------------- values (BFCL)


@pytest.mark.parametrize(
    ("value", "acceptable", "schema", "matches"),
    [
        # Numbers: int accepted for float at the top level; "5", 5.0 and true are no integers.
        (5, (5,), INTEGER, True),
        (5, (5.0,), NUMBER, True),
        (5.0, (5.0,), NUMBER, True),
        ("5", (5,), INTEGER, False),
        (5.0, (5,), INTEGER, False),
        (True, (1,), INTEGER, False),
        (True, (True,), BOOLEAN, True),
        (1, (True,), BOOLEAN, False),
        (6, (5, 6), INTEGER, True),
        # Strings: BFCL's standardisation (case, spaces, ",./-_*^", ' → ").
        ("New York, NY", ("new york ny",), STRING, True),
        ("2024-04-01", ("2024/04/01",), STRING, True),
        ("it's", ('it"s',), STRING, True),
        ("AA", ("aa",), STRING, True),  # BFCL merges case (a known BFCL defect, kept)
        ("Boston", ("New York",), STRING, False),
        (5, ("5",), STRING, False),
        # "" among the acceptable values is itself an acceptable string.
        ("", ("units", ""), STRING, True),
        # Lists: order-sensitive, strings standardised one level deep.
        ([1, 2], ([1, 2],), {"type": "array", "items": INTEGER}, True),
        ([2, 1], ([1, 2],), {"type": "array", "items": INTEGER}, False),
        (["NYC", "la"], (["nyc", "LA"],), {"type": "array", "items": STRING}, True),
        ((1, 2), ([1, 2],), {"type": "array", "items": INTEGER}, True),  # tuple = list
        # One level of element typing: no int → float promotion inside arrays...
        ([1, 2], ([1.0, 2.0],), {"type": "array", "items": NUMBER}, False),
        # ...unless the answer itself holds ints (the answer's type wins).
        ([1, 2], ([1, 2],), {"type": "array", "items": NUMBER}, True),
        ([1, "2"], ([1, 2],), {"type": "array", "items": INTEGER}, False),
        # An acceptable "" (omittable list) lifts element typing and accepts [].
        ([], ("",), {"type": "array", "items": INTEGER}, True),
        # Dicts: key by key against the answer's per-key values; "" marks optional keys.
        (
            {"size": "LARGE", "milk": "oat"},
            ({"size": ["large"], "milk": ["oat", "soy"], "sugar": ["", "none"]},),
            {"type": "object"},
            True,
        ),
        ({"size": "large"}, ({"size": ["large"], "milk": ["oat"]},), {"type": "object"}, False),
        ({"size": "large", "x": 1}, ({"size": ["large"]},), {"type": "object"}, False),
        # Lists of dicts: same length, each dict against its position.
        (
            [{"a": 1}, {"a": 2}],
            ([{"a": [1]}, {"a": [2, 3]}],),
            {"type": "array", "items": {"type": "object"}},
            True,
        ),
        (
            [{"a": 2}, {"a": 1}],
            ([{"a": [1]}, {"a": [2, 3]}],),
            {"type": "array", "items": {"type": "object"}},
            False,
        ),
        # BFCL's "variable" rule: an answer of another type than declared wins, compared as is.
        ("math.pi", ("math.pi",), NUMBER, True),
        ("Math.Pi", ("math.pi",), NUMBER, False),
        (3.14, ("math.pi",), NUMBER, False),
        # "any" (deviation 2): any type, compared as if declared with the value's own type.
        (5, (5,), ANY, True),
        ("Paris", ("paris",), ANY, True),
        ({"k": "V"}, ({"k": ["v"]},), ANY, True),
        (None, (None,), ANY, True),
        # No schema at all behaves like "any".
        (2.5, (2.5,), None, True),
    ],
)
def test_match_value_follows_bfcl(
    value: Any, acceptable: tuple[Any, ...], schema: dict[str, Any] | None, matches: bool
) -> None:
    assert match_value(value, acceptable, schema) is matches


@pytest.mark.parametrize(
    ("value", "reference", "matches"),
    [
        (5.0, 5, True),  # numeric equality
        (5, 5.0, True),
        (True, 1, False),  # a boolean is never a number
        (1, True, False),
        ("5", 5, False),
        ("PARIS", "paris", False),  # strings as written
        ("Paris", "Paris", True),
        ("e\u0301t\u00e9", "\u00e9te\u0301", True),  # the same text in NFC
        ("192.168.1.1", "19.216.811", False),  # BFCL's standardisation would accept this
        ({"city": "New York", "n": [1, 2.0]}, {"n": [1.0, 2], "city": "New York"}, True),
        ({"city": "New York", "n": [1, 2.0]}, {"n": [1.0, 2], "city": "new-york"}, False),
        ([1, 2], [2, 1], False),
        ({"a": 1}, {"a": 1, "b": 2}, False),
        ("", "", True),
        (None, None, True),
        (None, "", False),
    ],
)
def test_exact_references_match_single_values(value: Any, reference: Any, matches: bool) -> None:
    # The schema's declared type is not consulted for exact references.
    assert match_value(value, (reference,), INTEGER, exact=True) is matches


JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-1000, max_value=1000)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6)
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3)
    ),
    max_leaves=10,
)


def _canonical(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


@settings(max_examples=400, deadline=None)
@given(value=JSON_VALUES, other=JSON_VALUES)
def test_exact_matching_extends_the_seed_rule(value: Any, other: Any) -> None:
    """Canonical-JSON equality (the plain rule) always implies a match on exact references."""
    assert match_value(value, (value,), None, exact=True)
    if _canonical(value) == _canonical(other):
        assert match_value(value, (other,), None, exact=True)


def test_exact_matching_differs_from_the_seed_only_as_documented() -> None:
    # The documented additions: numbers compare numerically, strings after Unicode NFC.
    assert _canonical(5) != _canonical(5.0)
    assert match_value(5, (5.0,), None, exact=True)
    assert _canonical("e\u0301") != _canonical("\u00e9")
    assert match_value("e\u0301", ("\u00e9",), None, exact=True)
    assert not match_value("New York", ("new york",), None, exact=True)


def test_exact_references_opt_into_bfcl_string_standardisation() -> None:
    options = {"exact": True, "standardise_strings": True}
    assert match_value("New York", ("new york",), None, **options)
    assert match_value({"c": ["A-B"]}, ({"c": ["ab"]},), None, **options)
    assert not match_value("Paris", ("Rome",), None, **options)
    assert value_rule(Reference((), exact=False, standardise_strings=True)) is ValueRule.BFCL


def test_standardise_string_is_bfcls() -> None:
    assert standardise_string("Hello, World. A/B-C_D*E^F 'x'") == 'helloworldabcdef"x"'


# ---------------------------------------------------------------------------- single calls

AREA_TOOL = {
    "name": "calculate_triangle_area",
    "parameters": {
        "type": "dict",
        "properties": {
            "base": {"type": "integer"},
            "height": {"type": "integer"},
            "unit": {"type": "string"},
            "precision": {"type": "float"},
        },
        "required": ["base", "height"],
    },
}
AREA_ANSWER = ReferenceCall(
    "calculate_triangle_area",
    {"base": (10,), "height": (5,), "unit": ("units", ""), "precision": (0.5,)},
)


@pytest.mark.parametrize(
    ("arguments", "label"),
    [
        ({"base": 10, "height": 5, "precision": 0.5}, None),
        ({"base": 10, "height": 5, "unit": "Units", "precision": 0.5}, None),
        ({"base": 10, "precision": 0.5}, "match:missing_required"),
        ({"base": 10, "height": 5}, "match:missing_param"),  # no "" for precision
        ({"base": 10, "height": 5, "precision": 0.5, "colour": 1}, "match:unexpected_param"),
        ({"base": "10", "height": 5, "precision": 0.5}, "match:type_mismatch"),
        ({"base": 11, "height": 5, "precision": 0.5}, "match:value_mismatch"),
        ({"base": 10, "height": 5, "unit": None, "precision": 0.5}, "match:type_mismatch"),
        # The first failure in BFCL's order names the call.
        ({"height": "5", "colour": 1}, "match:missing_required"),
        ({"base": 10, "height": "5", "colour": 1, "precision": 0.5}, "match:type_mismatch"),
    ],
)
def test_check_call_labels(arguments: dict[str, Any], label: str | None) -> None:
    spec = normalise_tool(AREA_TOOL)
    call = ToolCall("calculate_triangle_area", arguments)
    assert check_call(call, AREA_ANSWER, spec) == label


def test_check_call_name_must_match_exactly() -> None:
    spec = normalise_tool(AREA_TOOL)
    call = ToolCall("Calculate_Triangle_Area", {"base": 10, "height": 5, "precision": 0.5})
    assert check_call(call, AREA_ANSWER, spec) == "match:wrong_name"


def test_a_parameter_in_the_answer_but_not_the_schema_is_unexpected() -> None:
    spec = normalise_tool(AREA_TOOL)
    answer = ReferenceCall("calculate_triangle_area", {"base": (10,), "height": (5,), "z": (1,)})
    call = ToolCall("calculate_triangle_area", {"base": 10, "height": 5, "z": 1})
    assert check_call(call, answer, spec) == "match:unexpected_param"
    # Without a declared tool only the answer constrains parameters.
    assert check_call(call, answer, None) is None


def test_exact_references_expect_every_parameter() -> None:
    spec = normalise_tool(AREA_TOOL)
    answer = ReferenceCall(
        "calculate_triangle_area", {"base": (10,), "height": (5,), "unit": ("",)}
    )
    assert (
        check_call(
            ToolCall("calculate_triangle_area", {"base": 10.0, "height": 5, "unit": ""}),
            answer,
            spec,
            exact=True,
        )
        is None
    )
    assert (
        check_call(
            ToolCall("calculate_triangle_area", {"base": 10, "height": 5}), answer, spec, exact=True
        )
        == "match:missing_param"
    )


# ---------------------------------------------------------------------------- call lists

SPLIT = ReferenceCall("split", {"x": (1, 2)})
SPLIT_ONE = ReferenceCall("split", {"x": (1,)})


def test_parallel_calls_use_optimal_assignment_where_greedy_fails() -> None:
    # BFCL's greedy scan gives the first expected call (x in {1, 2}) the first predicted call
    # (x=1), and the second expected call (x must be 1) is then left with x=2.
    reference = Reference((SPLIT, SPLIT_ONE), exact=False)
    calls = [ToolCall("split", {"x": 1}), ToolCall("split", {"x": 2})]
    assert match_calls(calls, reference, {}) == MatchResult(valid=True, pairs=((0, 1), (1, 0)))


def test_parallel_calls_in_any_order_are_valid() -> None:
    reference = Reference(
        (
            ReferenceCall("weather", {"city": ("Paris",)}),
            ReferenceCall("weather", {"city": ("Rome",)}),
            ReferenceCall("time", {"zone": ("CET",)}),
        ),
        exact=False,
    )
    calls = [
        ToolCall("time", {"zone": "cet"}),
        ToolCall("weather", {"city": "rome"}),
        ToolCall("weather", {"city": "paris"}),
    ]
    result = match_calls(calls, reference, {})
    assert result.valid
    assert result.pairs == ((0, 2), (1, 1), (2, 0))


@pytest.mark.parametrize(
    ("calls", "error"),
    [
        ([ToolCall("split", {"x": 1})], "match:wrong_count"),
        ([ToolCall("split", {"x": 1})] * 3, "match:wrong_count"),
        ([ToolCall("split", {"x": 2}), ToolCall("split", {"x": 2})], "match:value_mismatch"),
        ([ToolCall("split", {"x": 2}), ToolCall("merge", {"x": 1})], "match:wrong_name"),
        ([ToolCall("split", {"x": 2}), ToolCall("split", {"y": 1})], "match:unexpected_param"),
    ],
)
def test_invalid_call_lists_are_labelled(calls: list[ToolCall], error: str) -> None:
    result = match_calls(calls, Reference((SPLIT, SPLIT_ONE), exact=False), {})
    assert not result.valid
    assert result.error == error


def test_no_call_references() -> None:
    no_call = Reference(())
    assert match_calls([], no_call, {}) == MatchResult(valid=True)
    assert match_calls([ToolCall("f", {})], no_call, {}).error == "match:no_call_expected"
    assert match_calls([], Reference((SPLIT,)), {}).error == "match:wrong_count"


def test_the_expected_tools_schema_is_used() -> None:
    tools = normalise_tools([AREA_TOOL])
    reference = Reference((AREA_ANSWER,), exact=False)
    good = ToolCall("calculate_triangle_area", {"base": 10, "height": 5, "precision": 0.5})
    promoted = ToolCall("calculate_triangle_area", {"base": 10, "height": 5, "precision": 1})
    answer_one = ReferenceCall(
        "calculate_triangle_area", {"base": (10,), "height": (5,), "precision": (1.0,)}
    )
    assert match_calls([good], reference, tools).valid
    assert match_calls([promoted], Reference((answer_one,), exact=False), tools).valid
    # Without the schema, 1 and 1.0 are still equal values (no declared type to promote to).
    assert match_calls([promoted], Reference((answer_one,), exact=False), {}).valid


# ---------------------------------------------------------------------------- overlap


def test_argument_f1_on_a_multi_parameter_call_is_hand_computed() -> None:
    # Expected: city, nights, guests. Predicted: city (right), nights (3.0 == 3),
    # guests (wrong), pool (extra). TP = 2, precision = 2/4, recall = 2/3,
    # F1 = 2 * (1/2 * 2/3) / (1/2 + 2/3) = 4/7.
    reference = Reference(
        (ReferenceCall("book", {"city": ("Paris",), "nights": (3,), "guests": (2,)}),)
    )
    call = ToolCall("book", {"city": "Paris", "nights": 3.0, "guests": 4, "pool": True})
    overlap = argument_overlap([call], reference, {})
    assert (overlap.true_positives, overlap.predicted, overlap.expected) == (2, 4, 3)
    assert overlap.precision == pytest.approx(0.5)
    assert overlap.recall == pytest.approx(2 / 3)
    assert overlap.f1 == pytest.approx(4 / 7)


def test_overlap_counts_omittable_parameters_only_when_supplied() -> None:
    reference = Reference((AREA_ANSWER,), exact=False)
    spec = {"calculate_triangle_area": normalise_tool(AREA_TOOL)}
    without_unit = ToolCall("calculate_triangle_area", {"base": 10, "height": 5, "precision": 0.5})
    wrong_unit = ToolCall(
        "calculate_triangle_area", {"base": 10, "height": 5, "precision": 0.5, "unit": "cm"}
    )
    assert argument_overlap([without_unit], reference, spec) == ArgumentOverlap(3, 3, 3, 0)
    assert argument_overlap([wrong_unit], reference, spec) == ArgumentOverlap(3, 4, 4, 0)


def test_overlap_pairs_repeated_names_optimally() -> None:
    reference = Reference(
        (
            ReferenceCall("weather", {"city": ("Paris",), "unit": ("C",)}),
            ReferenceCall("weather", {"city": ("Rome",), "unit": ("F",)}),
        )
    )
    calls = [
        ToolCall("weather", {"city": "Rome", "unit": "C"}),  # 1 hit with either partner
        ToolCall("weather", {"city": "Paris", "unit": "C"}),  # 2 hits with Paris
    ]
    overlap = argument_overlap(calls, reference, {})
    # Best pairing: call 1 ↔ Paris (2 hits), call 0 ↔ Rome (1 hit): 3 of 4.
    assert overlap == ArgumentOverlap(true_positives=3, predicted=4, expected=4, unpaired_calls=0)
    assert overlap.f1 == pytest.approx(0.75)


def test_overlap_with_unpaired_calls() -> None:
    reference = Reference(
        (
            ReferenceCall("a", {"x": (1,)}),
            ReferenceCall("b", {"y": (2,), "z": (3,)}),
        )
    )
    calls = [ToolCall("a", {"x": 1}), ToolCall("c", {"y": 2})]
    overlap = argument_overlap(calls, reference, {})
    # "a" pairs (1 hit); "c" has no partner (1 predicted), "b" none (2 expected).
    assert overlap == ArgumentOverlap(true_positives=1, predicted=2, expected=3, unpaired_calls=2)
    assert overlap.precision == pytest.approx(0.5)
    assert overlap.recall == pytest.approx(1 / 3)


@pytest.mark.parametrize(
    ("calls", "reference", "f1"),
    [
        ([], Reference(()), 1.0),  # irrelevance item, no call: perfect
        ([ToolCall("f", {})], Reference(()), 0.0),  # a call where none was wanted
        ([ToolCall("now", {})], Reference((ReferenceCall("now", {}),)), 1.0),
        ([ToolCall("later", {})], Reference((ReferenceCall("now", {}),)), 0.0),
        ([], Reference((ReferenceCall("f", {"x": (1,)}),)), 0.0),
    ],
)
def test_overlap_conventions_for_empty_sides(
    calls: list[ToolCall], reference: Reference, f1: float
) -> None:
    overlap = argument_overlap(calls, reference, {})
    assert overlap.f1 == f1
    assert overlap.precision == f1
    assert overlap.recall == f1


def test_judge_calls_equals_separate_verdict_and_overlap() -> None:
    tools = normalise_tools([AREA_TOOL])
    references = [
        Reference((AREA_ANSWER,), exact=False),
        Reference((SPLIT, SPLIT_ONE), exact=False),
        Reference(()),
    ]
    predictions = [
        [ToolCall("calculate_triangle_area", {"base": 10, "height": 5, "precision": 0.5})],
        [ToolCall("calculate_triangle_area", {"base": 9})],
        [ToolCall("split", {"x": 1}), ToolCall("split", {"x": 2})],
        [ToolCall("split", {"x": 2}), ToolCall("split", {"x": 2})],
        [ToolCall("other", {"x": 2})],
        [],
    ]
    for reference in references:
        for calls in predictions:
            judgement = judge_calls(calls, reference, tools)
            assert judgement.match == match_calls(calls, reference, tools)
            assert judgement.overlap == argument_overlap(calls, reference, tools)


# ---------------------------------------------------------------------------- robustness


def _nested_list(depth: int) -> Any:
    value: Any = []
    for _ in range(depth):
        value = [value]
    return value


def test_pathological_model_output_is_a_mismatch_not_an_error() -> None:
    deep = _nested_list(100_000)
    huge = 10**400  # no float can hold it
    assert not match_value(deep, (deep,), None, exact=True)
    assert not match_value(deep, ([[1]],), {"type": "array"})
    assert not match_value(huge, (1.5,), NUMBER)
    reference = Reference((ReferenceCall("f", {"x": (1.5,)}),), exact=False)
    result = match_calls([ToolCall("f", {"x": huge})], reference, {})
    assert result.error == "match:value_mismatch"


_MEMO_SCALARS = st.sampled_from(
    [0, 1, -1, True, False, 0.0, -0.0, 1.0, 2.5, math.nan, None, "", "a", "A", "new york"]
)
_SHARED_ANSWERS = [("",), (1,), (1.0, ""), (True,), ("a", "new-york"), (0.0, None), (2.5, 1, "")]
_SCHEMAS = [
    None,
    {"type": "integer"},
    {"type": "number"},
    {"type": "string"},
    {"type": "boolean"},
    {"type": ["integer", "string"]},
    {"type": "any"},
]


@settings(max_examples=300, deadline=None)
@given(
    value=_MEMO_SCALARS,
    answer=st.sampled_from(range(len(_SHARED_ANSWERS))),
    schema=st.sampled_from(_SCHEMAS),
    rule=st.sampled_from(list(ValueRule)),
)
def test_remembered_value_verdicts_equal_fresh_ones(
    value: Any, answer: int, schema: dict[str, Any] | None, rule: ValueRule
) -> None:
    # The same acceptable tuples are reused across examples, so later ones hit the memo;
    # 1, 1.0 and True, and 0.0 and -0.0, are all asked about.
    acceptable = _SHARED_ANSWERS[answer]
    declared = matching_module._declared_type(schema)
    fresh = matching_module._judge_value(value, acceptable, declared, rule)
    for _ in range(2):
        assert matching_module._check_value(value, acceptable, declared, rule) == fresh
