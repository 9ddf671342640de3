"""normalise_reference: exact calls, BFCL possible answers, no-call, JSON strings, errors."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.core.errors import InvalidReferenceError, ToolGradeError
from service.core.references import NO_CALL, _normalise_decoded, normalise_reference
from service.core.types import Reference, ReferenceCall

GET_USER = ReferenceCall(name="get_user", params={"name": ("Ann",), "age": (30,)})


def test_exact_calls_wrap_each_value_in_a_one_tuple() -> None:
    reference = [
        {"name": "get_user", "arguments": {"name": "Ann", "age": 30}},
        {"name": "get_time", "arguments": {"zones": ["UTC", "CET"]}},
    ]

    assert normalise_reference(reference) == Reference(
        calls=(GET_USER, ReferenceCall(name="get_time", params={"zones": (["UTC", "CET"],)})),
        exact=True,
    )


def test_xlam_answers_json_string_with_arguments_as_json_string() -> None:
    answers = json.dumps(
        [{"name": "get_user", "arguments": json.dumps({"name": "Ann", "age": 30})}]
    )

    assert normalise_reference(answers) == Reference(calls=(GET_USER,), exact=True)


def test_parameters_key_openai_shape_and_missing_arguments() -> None:
    reference = [
        {"name": "get_user", "parameters": {"name": "Ann", "age": 30}},
        {
            "type": "function",
            "function": {"name": "get_user", "arguments": '{"name": "Ann", "age": 30}'},
        },
        {"name": "get_time"},
        {"name": "get_date", "arguments": None},
        {"name": "get_day", "arguments": ""},
    ]

    result = normalise_reference(reference)

    assert result.calls[:2] == (GET_USER, GET_USER)
    assert [(call.name, dict(call.params)) for call in result.calls[2:]] == [
        ("get_time", {}),
        ("get_date", {}),
        ("get_day", {}),
    ]


def test_bfcl_possible_answers_keep_value_lists_as_tuples() -> None:
    possible = [
        {"calculate_area": {"base": [10], "height": [5], "unit": ["", "units", "cm"]}},
        {"math.hypot": {"point": [[3, 4], [3.0, 4.0]]}},
    ]

    assert normalise_reference(possible) == Reference(
        calls=(
            ReferenceCall(
                "calculate_area", {"base": (10,), "height": (5,), "unit": ("", "units", "cm")}
            ),
            ReferenceCall("math.hypot", {"point": ([3, 4], [3.0, 4.0])}),
        ),
        exact=False,
    )
    assert normalise_reference(json.dumps(possible)) == normalise_reference(possible)


def test_a_function_called_name_is_a_possible_answer_not_an_exact_call() -> None:
    assert normalise_reference([{"name": {"x": [1]}}]) == Reference(
        calls=(ReferenceCall("name", {"x": (1,)}),), exact=False
    )


def test_single_entries_are_one_call_references() -> None:
    assert normalise_reference({"name": "get_user", "arguments": {"name": "Ann", "age": 30}}) == (
        Reference(calls=(GET_USER,), exact=True)
    )
    assert normalise_reference({"f": {"x": [1, 2]}}) == Reference(
        calls=(ReferenceCall("f", {"x": (1, 2)}),), exact=False
    )


@pytest.mark.parametrize("reference", [None, [], (), "", "  \n", "[]", "null", b"[]"])
def test_no_call_forms(reference: Any) -> None:
    result = normalise_reference(reference)

    assert result == NO_CALL
    assert result.expects_no_call


def test_a_reference_passes_through() -> None:
    reference = Reference(calls=(GET_USER,), exact=False)

    assert normalise_reference(reference) is reference


@pytest.mark.parametrize(
    ("reference", "label"),
    [
        ("[{", "invalid_json"),
        ("not json", "invalid_json"),
        ('[{"name": "f", "arguments": {"x": NaN}}]', "invalid_json"),
        ('"[]"', "invalid_format"),
        (42, "invalid_format"),
        (True, "invalid_format"),
        ("42", "invalid_format"),
        ([42], "invalid_call"),
        (["get_user"], "invalid_call"),
        ([{"a": {"x": [1]}, "b": {"y": [2]}}], "invalid_call"),
        ([{"arguments": {"x": 1}, "id": "1"}], "invalid_call"),
        ([{}], "invalid_call"),
        ([{"name": 5, "arguments": {}}], "invalid_name"),
        ([{"name": "  ", "arguments": {}}], "invalid_name"),
        ([{"": {"x": [1]}}], "invalid_name"),
        ([{"name": "f", "arguments": [1]}], "invalid_arguments"),
        ([{"name": "f", "arguments": "{bad"}], "invalid_arguments"),
        ([{"name": "f", "arguments": "[1]"}], "invalid_arguments"),
        ([{"name": "f", "arguments": {1: "x"}}], "invalid_arguments"),
        ([{"f": [1, 2]}], "invalid_possible_answer"),
        ([{"f": {"x": 1}}], "invalid_possible_answer"),
        ([{"f": {"x": "abc"}}], "invalid_possible_answer"),
        ([{"name": "f", "arguments": {}}, {"g": {"x": [1]}}], "mixed_forms"),
    ],
)
def test_malformed_references_raise_labelled_client_errors(reference: Any, label: str) -> None:
    with pytest.raises(InvalidReferenceError) as error:
        normalise_reference(reference)

    assert error.value.label == f"reference:{label}"
    assert error.value.param == "reference"
    assert error.value.status_code == 400


def test_error_messages_name_the_offending_entry() -> None:
    with pytest.raises(InvalidReferenceError, match=r"reference\[1\]"):
        normalise_reference([{"name": "f", "arguments": {}}, {"name": "g", "arguments": 5}])


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=10,
)


@settings(max_examples=150, deadline=None)
@given(JSON_VALUES)
def test_any_value_normalises_or_raises_a_labelled_reference_error(value: Any) -> None:
    for reference in (value, [value], json.dumps(value, allow_nan=True)):
        try:
            result = normalise_reference(reference)
        except ToolGradeError as error:
            assert isinstance(error, InvalidReferenceError)
            assert error.label.startswith("reference:")
        else:
            assert all(call.name.strip() for call in result.calls)
            assert all(isinstance(v, tuple) for call in result.calls for v in call.params.values())


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.text(min_size=1).filter(str.strip),
            st.dictionaries(st.text(), JSON_VALUES, max_size=4),
        ),
        max_size=4,
    )
)
def test_exact_calls_round_trip_through_their_json_string(
    calls: list[tuple[str, dict[str, Any]]],
) -> None:
    objects = [{"name": name, "arguments": arguments} for name, arguments in calls]

    result = normalise_reference(json.dumps(objects))

    assert result.exact is True
    assert [(c.name, {k: v[0] for k, v in c.params.items()}) for c in result.calls] == calls
    assert all(len(values) == 1 for c in result.calls for values in c.params.values())


# --- the per-content cache of decoded references -------------------------------------------------

_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-3, max_value=3)
    | st.sampled_from([1.0, -0.0, 0.0, 2.5, float("nan"), float("inf"), 2**70])
    | st.sampled_from(["", "a", "A"])
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(st.sampled_from(["x", "y"]), inner, max_size=2)
    ),
    max_leaves=6,
)
_EXACT = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["f", "g"]),
        "arguments": st.dictionaries(st.sampled_from(["x", "y"]), _VALUES, max_size=2),
    }
)
_POSSIBLE = st.dictionaries(
    st.sampled_from(["f", "g"]),
    st.dictionaries(
        st.sampled_from(["x", "y"]), st.lists(_VALUES, max_size=3) | st.tuples(_VALUES)
    ),
    min_size=1,
    max_size=1,
)


def _uncached(reference: Any) -> Reference | str:
    try:
        return _normalise_decoded(reference)
    except InvalidReferenceError as error:
        return error.label


def _through_cache(reference: Any) -> Reference | str:
    try:
        return normalise_reference(reference)
    except InvalidReferenceError as error:
        return error.label


@settings(max_examples=300, deadline=None)
@given(
    first=st.lists(_EXACT, max_size=2) | st.lists(_POSSIBLE, max_size=2),
    second=st.lists(_EXACT, max_size=2) | st.lists(_POSSIBLE, max_size=2),
)
def test_cached_normalisation_is_the_uncached_one_types_included(
    first: list[Any], second: list[Any]
) -> None:
    # repr tells 1, 1.0 and True, a tuple and a list, and NaN apart, where == would not.
    for reference in (first, second, first, second):
        assert repr(_through_cache(reference)) == repr(_uncached(reference))


def test_cache_does_not_confuse_equal_but_differently_typed_references() -> None:
    as_int = [{"name": "f", "arguments": {"x": 1}}]
    as_float = [{"name": "f", "arguments": {"x": 1.0}}]
    as_bool = [{"name": "f", "arguments": {"x": True}}]
    as_tuple = [{"name": "f", "arguments": {"x": (1, 2)}}]
    as_list = [{"name": "f", "arguments": {"x": [1, 2]}}]

    values = [
        normalise_reference(reference).calls[0].params["x"][0]
        for reference in (as_int, as_float, as_bool, as_list, as_tuple, as_int, as_list)
    ]

    assert [type(value) for value in values] == [int, float, bool, list, tuple, int, list]


def test_mutating_a_scored_reference_never_changes_a_later_verdict() -> None:
    reference = [{"name": "f", "arguments": {"x": [1, 2]}}]
    first = normalise_reference(reference)
    reference[0]["arguments"]["x"].append(3)  # type: ignore[index]

    assert first.calls[0].params == {"x": ([1, 2],)}
    assert normalise_reference(reference).calls[0].params == {"x": ([1, 2, 3],)}
    assert normalise_reference([{"name": "f", "arguments": {"x": [1, 2]}}]) == first
