"""Reward components, weights, profiles and their hack ceilings, with hand-computed numbers."""

from __future__ import annotations

import json
import math
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.core.errors import InvalidReferenceError, InvalidWeightsError, ToolGradeError
from service.core.rewards import (
    REWARD_COMPONENTS,
    RewardBreakdown,
    RewardProfile,
    compute_rewards,
    normalise_weights,
    resolve_label,
)
from tests.service.core.tool_schemas import GET_USER, get_weather
from tests.shared import hermes

GET_WEATHER = get_weather()
TOOLS = [GET_USER, GET_WEATHER]
ANN = [{"name": "get_user", "arguments": {"name": "Ann", "age": 30}}]
PARIS = [{"name": "get_weather", "arguments": {"city": "Paris"}}]


def call(tool: str, /, **arguments: Any) -> dict[str, Any]:
    return {"name": tool, "arguments": arguments}


def reward_of(completion: Any, label: Any, **options: Any) -> RewardBreakdown:
    (breakdown,) = compute_rewards([completion], [label], tools=TOOLS, **options)
    return breakdown


# --- components and the weighted sum (one call against one reference) --------------------------


def test_correct_call_earns_full_reward() -> None:
    breakdown = reward_of(hermes(call("get_user", name="Ann", age=30)), ANN)

    assert breakdown == RewardBreakdown(1.0, 1.0, 1.0, 1.0, 1.0)


def test_reward_is_the_quarter_weighted_sum_of_components() -> None:
    # age "30" is not an integer: parses (1), has every required param (1), does not execute
    # (0); argument pairs name=Ann right, age="30" wrong → P = R = 1/2, F1 = 1/2.
    # reward = 0.25·(1 + 1 + 0 + 0.5) = 0.625.
    breakdown = reward_of(hermes(call("get_user", name="Ann", age="30")), ANN)

    assert breakdown.json_parse == 1.0
    assert breakdown.schema_hit == 1.0
    assert breakdown.exec == 0.0
    assert breakdown.semantic == pytest.approx(0.5)
    assert breakdown.reward == pytest.approx(0.625)


def test_shares_over_parallel_calls() -> None:
    # Two calls: the first right, the second misses the required age.
    # schema_hit = exec = 1/2; argument pairs: predicted 3 (name, age, name), expected 2,
    # right 2 → P = 2/3, R = 1, F1 = 0.8; reward = 0.25·(1 + 0.5 + 0.5 + 0.8) = 0.7.
    completion = hermes(call("get_user", name="Ann", age=30), call("get_user", name="Bob"))

    breakdown = reward_of(completion, ANN)

    assert (breakdown.schema_hit, breakdown.exec) == (0.5, 0.5)
    assert breakdown.semantic == pytest.approx(0.8)
    assert breakdown.reward == pytest.approx(0.7)


def test_custom_weights_are_normalised() -> None:
    completion = hermes(call("get_user", name="Ann", age="30"))

    only_semantic = reward_of(completion, ANN, weights={"semantic": 5})
    exec_and_semantic = reward_of(completion, ANN, weights={"exec": 2, "semantic": 2})
    format_heavy = reward_of(completion, ANN, weights={"json_parse": 3, "exec": 1})

    assert only_semantic.reward == pytest.approx(0.5)
    assert exec_and_semantic.reward == pytest.approx(0.25)
    assert format_heavy.reward == pytest.approx(0.75)


def test_json_embedded_in_prose_is_rewarded() -> None:
    text = "Let me check. " + json.dumps(call("get_user", name="Ann", age=30)) + " Done."

    assert reward_of(text, ANN).reward == 1.0


@pytest.mark.parametrize(
    "completion",
    [
        "",
        "I do not know.",
        "<tool_call>{not json</tool_call>",
        '<tool_call>{"name": "get_user", "arguments": {"name": "Ann"',
        '{"name": "get_user", "arguments": {"name": "Ann", "age": 30}',
        None,
        [],
        [{"role": "assistant", "content": None}],
        12,
    ],
)
def test_malformed_or_call_free_completions_score_zero(completion: Any) -> None:
    assert reward_of(completion, ANN) == RewardBreakdown(0.0, 0.0, 0.0, 0.0, 0.0)


@pytest.mark.parametrize("profile", list(RewardProfile))
def test_no_call_reference_rewards_abstention_only(profile: RewardProfile) -> None:
    abstain = reward_of("No tool can answer that.", [], profile=profile)
    calls = reward_of(hermes(call("get_weather", city="Paris")), [], profile=profile)
    malformed = reward_of("<tool_call>{oops", None, profile=profile)

    assert abstain == RewardBreakdown(1.0, 1.0, 1.0, 1.0, 1.0)
    assert calls == RewardBreakdown(0.0, 0.0, 0.0, 0.0, 0.0)
    assert malformed.reward == 0.0


@pytest.mark.parametrize("profile", list(RewardProfile))
@pytest.mark.parametrize("label", [{"any_call": True}, '{"any_call": true}'])
def test_an_any_call_reference_is_refused_not_rewarded(profile: RewardProfile, label: Any) -> None:
    # A relevance item names no call: nothing for argument or count components to reward.
    with pytest.raises(InvalidReferenceError) as raised:
        reward_of(hermes(call("get_weather", city="Paris")), label, profile=profile)
    assert raised.value.label == "reward:any_call_reference_unsupported"
    assert raised.value.status_code == 400


# --- profiles and hack ceilings ------------------------------------------------------------------
# A "hack" is a well-formed call to a declared tool, with schema-valid arguments, that carries
# none of the reference's argument values: what a policy earns for learning the format only.

CITY_REFERENCE = [{"name": "get_weather", "arguments": {"city": "Paris"}}]
WRONG_BUT_WELL_FORMED = [
    hermes(call("get_weather", city="Berlin")),
    hermes(call("get_weather", city="Berlin", unit="celsius")),
    hermes(call("get_user", name="Paris", age=1)),
    hermes(call("get_weather", city="Rome"), call("get_weather", city="Oslo")),
    hermes(call("get_user", name="Ann", age=30), call("get_weather", city="Lima")),
]


def hack_ceiling(profile: str) -> float:
    breakdowns = compute_rewards(
        WRONG_BUT_WELL_FORMED,
        [CITY_REFERENCE] * len(WRONG_BUT_WELL_FORMED),
        tools=TOOLS,
        profile=profile,
    )
    # Every completion parses and gets no argument right; one-call ones also execute.
    assert all(b.json_parse == 1.0 and b.semantic == 0.0 for b in breakdowns)
    assert breakdowns[0].exec == breakdowns[2].exec == 1.0
    return max(b.reward for b in breakdowns)


def test_weighted_hack_ceiling_is_three_quarters() -> None:
    assert hack_ceiling("weighted") == pytest.approx(0.75)


def test_strict_hack_ceiling_is_zero() -> None:
    assert hack_ceiling("strict") == 0.0


def test_toolrl_hack_ceiling_is_five_sevenths() -> None:
    # Right tool, wrong value: name Jaccard 1 + param-name Jaccard 1 + values 0 = 2 of S_max 3;
    # (1 + 6·2/3) / 7 = 5/7.
    assert hack_ceiling("toolrl") == pytest.approx(5 / 7)


@settings(max_examples=50, deadline=None)
@given(
    values=st.lists(st.text(min_size=1, max_size=8), min_size=3, max_size=3),
    keep=st.lists(st.booleans(), min_size=3, max_size=3),
)
def test_no_wrong_valued_call_beats_the_documented_ceilings(
    values: list[str], keep: list[bool]
) -> None:
    # A three-parameter reference and a call giving any subset of its parameters, all wrong.
    tool = {
        "name": "book",
        "parameters": {
            "type": "object",
            "properties": {name: {"type": "string"} for name in ("a", "b", "c")},
        },
    }
    reference = [call("book", a="alpha-value", b="beta-value", c="gamma-value")]
    arguments = {
        name: "zz" + value for name, value, kept in zip("abc", values, keep, strict=True) if kept
    }
    completion = hermes(call("book", **arguments))

    ceilings = {"weighted": 0.75, "strict": 0.0, "toolrl": 5 / 7}
    for profile, ceiling in ceilings.items():
        (breakdown,) = compute_rewards([completion], [reference], tools=[tool], profile=profile)
        assert breakdown.reward <= ceiling + 1e-12


def test_strict_rewards_only_a_fully_valid_call_list() -> None:
    right = hermes(call("get_user", name="Ann", age=30))
    almost = hermes(call("get_user", name="Ann", age=30, city="Paris"))  # not in the answer

    assert reward_of(right, ANN, profile="strict").reward == 1.0
    assert reward_of(almost, ANN, profile="strict").reward == 0.0
    # The components stay the same diagnostics under every profile.
    assert reward_of(almost, ANN, profile="strict").schema_hit == 1.0


def test_toolrl_grades_names_parameter_names_and_values() -> None:
    reference = [call("get_user", name="Ann", age=30, city="Paris")]
    # S_max = 1 + (1 + 3) = 5. The prediction gives name (right) and age (wrong): parameter-
    # name Jaccard {name, age} vs {name, age, city} = 2/3, one right value → S = 1 + 2/3 + 1.
    # reward = (1 + 6·(8/3)/5) / 7 = (1 + 3.2) / 7 = 0.6.
    completion = hermes(call("get_user", name="Ann", age=31))

    assert reward_of(completion, reference, profile="toolrl").reward == pytest.approx(0.6)
    exact = hermes(call("get_user", name="Ann", age=30, city="Paris"))
    assert reward_of(exact, reference, profile="toolrl").reward == pytest.approx(1.0)


def test_toolrl_pairs_parallel_calls_optimally() -> None:
    reference = [call("get_weather", city="Paris"), call("get_weather", city="Rome")]
    swapped = hermes(call("get_weather", city="Rome"), call("get_weather", city="Paris"))
    one_missing = hermes(call("get_weather", city="Rome"))
    # one_missing: names {gw} vs {gw, gw}: Jaccard 1/2; the Rome pair scores 1 + 1 = 2;
    # S_max = 1 + 2·(1 + 1) = 5 → (1 + 6·2.5/5) / 7 = 4/7.

    assert reward_of(swapped, reference, profile="toolrl").reward == pytest.approx(1.0)
    assert reward_of(one_missing, reference, profile="toolrl").reward == pytest.approx(4 / 7)


def test_toolrl_counts_an_omitted_bfcl_optional_parameter_as_matched() -> None:
    reference = [{"get_weather": {"city": ["Paris"], "unit": ["", "celsius"]}}]

    omitted = reward_of(hermes(call("get_weather", city="Paris")), reference, profile="toolrl")

    assert omitted.reward == pytest.approx(1.0)


def test_unknown_profile_is_a_client_error() -> None:
    with pytest.raises(ToolGradeError) as error:
        reward_of("x", ANN, profile="lenient")

    assert error.value.label == "reward:unknown_profile"
    assert error.value.param == "profile"


# --- weights --------------------------------------------------------------------------------------


def test_default_and_partial_weights() -> None:
    assert normalise_weights(None) == dict.fromkeys(REWARD_COMPONENTS, 0.25)
    assert normalise_weights({"json_parse": 1, "schema_hit": 1}) == {
        "json_parse": 0.5,
        "schema_hit": 0.5,
        "exec": 0.0,
        "semantic": 0.0,
    }
    assert math.fsum(normalise_weights({"exec": 0.1, "semantic": 0.2}).values()) == 1.0


@pytest.mark.parametrize(
    ("weights", "label"),
    [
        ({"semantic": -0.5, "exec": 1}, "weights:negative"),
        ({"format": 1.0}, "weights:unknown_component"),
        ({"exec": float("nan")}, "weights:non_finite"),
        ({"exec": float("inf")}, "weights:non_finite"),
        ({"exec": 0, "semantic": 0.0}, "weights:all_zero"),
        ({}, "weights:all_zero"),
        ({"exec": True}, "weights:not_a_number"),
        ({"exec": "1"}, "weights:not_a_number"),
        ([0.25, 0.25, 0.25, 0.25], "weights:not_a_mapping"),
    ],
)
def test_invalid_weights_are_rejected_with_a_label(weights: Any, label: str) -> None:
    with pytest.raises(InvalidWeightsError) as error:
        normalise_weights(weights)

    assert error.value.label == label


# --- completions, labels and requests -----------------------------------------------------------


def test_trl_conversational_completions() -> None:
    content = [{"role": "assistant", "content": hermes(call("get_user", name="Ann", age=30))}]
    openai_message = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_user", "arguments": '{"name": "Ann", "age": 30}'},
            }
        ],
    }
    agentic = [
        openai_message,
        {"role": "tool", "content": '{"id": 7}'},
        {"role": "assistant", "content": "Ann is user 7."},
    ]

    rewards = compute_rewards([content, [openai_message], agentic], [ANN] * 3, tools=TOOLS)

    assert [b.reward for b in rewards] == [1.0, 1.0, 1.0]


def test_calls_from_every_assistant_turn_count() -> None:
    messages = [
        {"role": "assistant", "content": hermes(call("get_weather", city="Paris"))},
        {"role": "tool", "content": "sunny"},
        {"role": "assistant", "content": hermes(call("get_weather", city="Rome"))},
    ]
    both = [call("get_weather", city="Paris"), call("get_weather", city="Rome")]

    (breakdown,) = compute_rewards([messages], [both], tools=TOOLS, profile="strict")

    assert breakdown.reward == 1.0


def test_xlam_style_label_with_its_own_tools() -> None:
    xlam_tools = json.dumps(
        [{"name": "add", "parameters": {"a": {"type": "int"}, "b": {"type": "int, optional"}}}]
    )
    label = json.dumps({"answers": json.dumps([call("add", a=1)]), "tools": xlam_tools})

    (right, wrong_type) = compute_rewards(
        [hermes(call("add", a=1)), hermes(call("add", a="1"))], [label, label]
    )

    assert right.reward == 1.0
    assert (wrong_type.exec, wrong_type.semantic) == (0.0, 0.0)
    reference, tools = resolve_label(label)
    assert [c.name for c in reference.calls] == ["add"]
    assert tools["add"].required == frozenset({"a"})


def test_label_tools_win_over_request_tools() -> None:
    label = {"reference": PARIS, "tools": [GET_WEATHER]}

    reference, tools = resolve_label(label, default_tools=[GET_USER])

    assert list(tools) == ["get_weather"]
    assert [c.name for c in reference.calls] == ["get_weather"]
    _, fallback = resolve_label({"reference": PARIS}, default_tools=[GET_USER])
    assert list(fallback) == ["get_user"]


def test_malformed_requests_raise() -> None:
    with pytest.raises(ToolGradeError) as mismatch:
        compute_rewards(["a", "b"], [ANN])
    with pytest.raises(InvalidReferenceError):
        compute_rewards(["a"], [{"unexpected": "shape"}])

    assert mismatch.value.label == "reward:length_mismatch"


def test_compute_rewards_is_thread_safe() -> None:
    completions = [
        hermes(call("get_user", name="Ann", age=30)),
        hermes(call("get_user", name="Ann", age="30")),
        "no call",
        hermes(call("get_weather", city="Paris"), call("get_user", name="Bob")),
    ] * 25
    labels = [ANN, ANN, ANN, PARIS] * 25
    serial = compute_rewards(completions, labels, tools=TOOLS)

    def run(profile: str) -> list[RewardBreakdown]:
        return compute_rewards(completions, labels, tools=TOOLS, profile=profile)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(run, ["weighted", "toolrl", "strict"] * 8))

    assert all(result == serial for result in results[0::3])
    assert len({tuple(result) for result in results[1::3]}) == 1


# --- TRL reward functions -----------------------------------------------------------------------


# --- properties -------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=12,
)
tool_names = st.sampled_from(["get_user", "get_weather", "unknown_tool", "GET_USER"])
arguments = st.dictionaries(
    st.sampled_from(["name", "age", "city", "unit", "extra"]), json_values, max_size=5
)
call_objects = st.builds(lambda n, a: {"name": n, "arguments": a}, tool_names, arguments)
completions = st.one_of(
    st.text(max_size=200),
    st.lists(call_objects, max_size=4).map(lambda calls: hermes(*calls)),
    st.lists(call_objects, max_size=4).map(json.dumps),
    st.lists(call_objects, max_size=3).map(
        lambda calls: [{"role": "assistant", "content": json.dumps(calls)}]
    ),
    json_values,
)
labels = st.sampled_from(
    [
        ANN,
        PARIS,
        [],
        [call("get_user", name="Ann", age=30), call("get_weather", city="Paris")],
        [call("get_weather", city="Paris"), call("get_weather", city="Rome", unit="celsius")],
        [{"get_weather": {"city": ["Paris", "paris"], "unit": ["", "celsius"]}}],
    ]
)


@settings(max_examples=300, deadline=None)
@given(completion=completions, label=labels, profile=st.sampled_from(list(RewardProfile)))
def test_every_component_is_in_the_unit_interval(
    completion: Any, label: Any, profile: RewardProfile
) -> None:
    (breakdown,) = compute_rewards([completion], [label], tools=TOOLS, profile=profile)

    for value in breakdown.to_dict().values():
        assert 0.0 <= value <= 1.0
    if profile is RewardProfile.WEIGHTED:
        expected = 0.25 * (
            breakdown.json_parse + breakdown.schema_hit + breakdown.exec + breakdown.semantic
        )
        assert breakdown.reward == pytest.approx(expected)
