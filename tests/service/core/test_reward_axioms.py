"""The reward axioms, proven by property tests for every profile.

Hypothesis generates tools (typed parameters, some required), a reference over them (exact
calls or BFCL possible answers, one to three calls, tools possibly repeated), the reference's
correct completion and mutations of it, and checks each axiom:

1. the correct completion, in any order and with any acceptable BFCL values, earns 1.0;
2. adding a call to a function the reference does not call never raises the reward (from any
   completion that makes calls);
3. leaving out a reference call never raises it, and at default weights strictly lowers it;
4. a copy of a call, or a wrong-valued copy, beside the right answer never raises the reward,
   and at default weights earns strictly less;
5. permuting predicted or reference calls changes nothing;
6. (default weights) a call that cannot execute earns no more than the same call made
   executable with a wrong value;
7. every reward and component is finite and in [0, 1].

Axioms 1, 2, 5, 7 and the weak halves of 3 and 4 are checked at random weights too.
"""

from __future__ import annotations

import math
from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from service.core.rewards import RewardBreakdown, RewardProfile, compute_rewards

PROFILES = list(RewardProfile)
WORDS = ["Paris", "Rome", "New York", "192.168.1.1", "a-b", "Oslo", "x_y"]
TOOL_NAMES = ["alpha", "beta", "gamma", "delta"]
PARAM_NAMES = ["p", "q", "r", "s"]
TYPES = ["string", "integer", "number", "boolean", "array"]
TOLERANCE = 1e-9

Call = dict[str, Any]


def value_of(draw: st.DrawFn, kind: str) -> Any:
    if kind == "string":
        return draw(st.sampled_from(WORDS))
    if kind == "integer":
        return draw(st.integers(0, 50))
    if kind == "number":
        return draw(st.sampled_from([0.5, 1.25, 3.0, 7.5]))
    if kind == "boolean":
        return draw(st.booleans())
    return draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=2))


def wrong_value(kind: str, acceptable: list[Any]) -> Any:
    """A value of the parameter's type that no acceptable value equals, even standardised."""
    if kind == "string":
        return "zz" + "".join(str(v) for v in acceptable if v != "").replace(" ", "") + "zz"
    if kind == "integer":
        return max([v for v in acceptable if isinstance(v, int)], default=0) + 1
    if kind == "number":
        return max([v for v in acceptable if isinstance(v, float)], default=0.0) + 10.5
    if kind == "boolean":
        options = {v for v in acceptable if isinstance(v, bool)}
        return None if options == {True, False} else not next(iter(options), False)
    return ["zz-not-a-word"]


@st.composite
def cases(draw: st.DrawFn) -> dict[str, Any]:
    """Tools, a reference, its correct completion and what each call's parameters are."""
    names = draw(st.lists(st.sampled_from(TOOL_NAMES), min_size=1, max_size=3, unique=True))
    tools = []
    schemas: dict[str, dict[str, str]] = {}
    required: dict[str, list[str]] = {}
    for name in names:
        params = draw(st.lists(st.sampled_from(PARAM_NAMES), max_size=3, unique=True))
        kinds = {p: draw(st.sampled_from(TYPES)) for p in params}
        must = [p for p in params if draw(st.booleans())]
        properties = {
            p: {"type": kind, **({"items": {"type": "string"}} if kind == "array" else {})}
            for p, kind in kinds.items()
        }
        tools.append(
            {
                "name": name,
                "parameters": {"type": "object", "properties": properties, "required": must},
            }
        )
        schemas[name] = kinds
        required[name] = must
    bfcl = draw(st.booleans())
    called = draw(st.lists(st.sampled_from(names), min_size=1, max_size=3))
    reference: list[Any] = []
    correct: list[Call] = []
    for name in called:
        kinds = schemas[name]
        given_params = [p for p in kinds if p in required[name] or draw(st.booleans())]
        if not bfcl:
            arguments = {p: value_of(draw, kinds[p]) for p in given_params}
            reference.append({"name": name, "arguments": arguments})
            correct.append({"name": name, "arguments": arguments})
            continue
        answer: dict[str, list[Any]] = {}
        arguments = {}
        for p in given_params:
            options = [value_of(draw, kinds[p]) for _ in range(draw(st.integers(1, 2)))]
            omittable = p not in required[name] and draw(st.booleans())
            answer[p] = options + ([""] if omittable else [])
            if not (omittable and draw(st.booleans())):
                arguments[p] = draw(st.sampled_from(options))
        reference.append({name: answer})
        correct.append({"name": name, "arguments": arguments})
    return {
        "tools": tools,
        "reference": reference,
        "correct": correct,
        "kinds": schemas,
        "required": required,
        "bfcl": bfcl,
    }


def acceptable_values(case: dict[str, Any], index: int, param: str) -> list[Any]:
    entry = case["reference"][index]
    if case["bfcl"]:
        ((_, answer),) = entry.items()
        return list(answer.get(param, []))
    return [entry["arguments"].get(param)]


def wrong_valued(case: dict[str, Any], index: int, draw: st.DrawFn) -> Call | None:
    call = case["correct"][index]
    if not call["arguments"]:
        return None
    param = draw(st.sampled_from(sorted(call["arguments"])))
    kind = case["kinds"][call["name"]][param]
    wrong = wrong_value(kind, acceptable_values(case, index, param))
    if wrong is None:
        return None
    return {"name": call["name"], "arguments": {**call["arguments"], param: wrong}}


def broken_variants(case: dict[str, Any], index: int) -> list[Call]:
    """The call made unexecutable: a required parameter left out, an unknown one, a wrong type."""
    call = case["correct"][index]
    arguments = call["arguments"]
    variants = [{"name": call["name"], "arguments": {**arguments, "unknown_param": 1}}]
    for param in case["required"][call["name"]]:
        if param in arguments:
            rest = {k: v for k, v in arguments.items() if k != param}
            variants.append({"name": call["name"], "arguments": rest})
    for param in arguments:
        kind = case["kinds"][call["name"]][param]
        mistyped = {"string": 12345, "integer": "12345", "number": "1.5", "boolean": "yes"}
        variants.append(
            {
                "name": call["name"],
                "arguments": {**arguments, param: mistyped.get(kind, {"not": "a list"})},
            }
        )
    return variants


def reward_of(
    calls: list[Call],
    case: dict[str, Any],
    profile: RewardProfile,
    weights: dict[str, float] | None = None,
    reference: list[Any] | None = None,
    string_match: str = "exact",
) -> RewardBreakdown:
    (breakdown,) = compute_rewards(
        [calls],
        [case["reference"] if reference is None else reference],
        tools=case["tools"],
        weights=weights,
        profile=profile,
        string_match=string_match,
    )
    for value in breakdown.to_dict().values():  # axiom 7 on every completion scored here
        assert math.isfinite(value)
        assert 0.0 <= value <= 1.0
    return breakdown


weightings = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {
            name: st.floats(0, 10, allow_nan=False)
            for name in ("json_parse", "schema_hit", "exec", "semantic")
        }
    ).filter(lambda weights: sum(weights.values()) > 1e-3),
)


@st.composite
def base_completions(draw: st.DrawFn, case: dict[str, Any]) -> list[Call]:
    """A non-empty completion mixing right, wrong-valued and broken answers to reference calls."""
    calls: list[Call] = []
    for index in range(len(case["correct"])):
        options: list[Call | None] = [case["correct"][index], wrong_valued(case, index, draw)]
        options += broken_variants(case, index)
        options.append(None)  # the call is left out
        chosen = draw(st.sampled_from(options))
        if chosen is not None:
            calls.append(chosen)
    if not calls:
        calls.append(case["correct"][0])
    return draw(st.permutations(calls))


def stranger_calls(case: dict[str, Any]) -> list[Call]:
    """Calls to functions the reference does not call: a declared tool or an undeclared one."""
    referenced = {call["name"] for call in case["correct"]}
    strangers: list[Call] = [{"name": "undeclared_tool", "arguments": {}}]
    for tool in case["tools"]:
        name = tool["name"]
        if name not in referenced:
            properties = tool["parameters"]["properties"]
            arguments = {
                p: {"string": "Oslo", "integer": 1, "number": 2.5, "boolean": True}.get(
                    schema["type"], ["Oslo"]
                )
                for p, schema in properties.items()
            }
            strangers.append({"name": name, "arguments": arguments})
    return strangers


SETTINGS = settings(max_examples=150, deadline=None)


@SETTINGS
@given(
    data=st.data(),
    case=cases(),
    profile=st.sampled_from(PROFILES),
    weights=weightings,
    string_match=st.sampled_from(["exact", "bfcl"]),
)
def test_axiom_1_the_reference_earns_one(
    data: st.DataObject,
    case: dict[str, Any],
    profile: RewardProfile,
    weights: dict[str, float] | None,
    string_match: str,
) -> None:
    completion = data.draw(st.permutations(case["correct"]))
    reward = reward_of(completion, case, profile, weights, string_match=string_match).reward
    assert reward == 1.0


@SETTINGS
@given(data=st.data(), case=cases(), profile=st.sampled_from(PROFILES), weights=weightings)
def test_axiom_2_padding_never_pays(
    data: st.DataObject,
    case: dict[str, Any],
    profile: RewardProfile,
    weights: dict[str, float] | None,
) -> None:
    base = data.draw(base_completions(case))
    stranger = data.draw(st.sampled_from(stranger_calls(case)))
    position = data.draw(st.integers(0, len(base)))
    padded = [*base[:position], stranger, *base[position:]]

    before = reward_of(base, case, profile, weights)
    after = reward_of(padded, case, profile, weights)

    assert after.reward <= before.reward + TOLERANCE
    for component in ("json_parse", "schema_hit", "exec", "semantic"):
        assert getattr(after, component) <= getattr(before, component) + TOLERANCE


@SETTINGS
@given(data=st.data(), case=cases(), profile=st.sampled_from(PROFILES), weights=weightings)
def test_axiom_3_dropping_a_reference_call_never_pays(
    data: st.DataObject,
    case: dict[str, Any],
    profile: RewardProfile,
    weights: dict[str, float] | None,
) -> None:
    correct = case["correct"]
    dropped = data.draw(st.integers(0, len(correct) - 1))
    remaining = [call for index, call in enumerate(correct) if index != dropped]

    full = reward_of(correct, case, profile, weights).reward
    short = reward_of(remaining, case, profile, weights).reward
    strict_default = reward_of(remaining, case, profile).reward

    assert short <= full
    assert strict_default < reward_of(correct, case, profile).reward


@SETTINGS
@given(data=st.data(), case=cases(), profile=st.sampled_from(PROFILES), weights=weightings)
def test_axiom_4_duplicates_and_hedges_never_pay(
    data: st.DataObject,
    case: dict[str, Any],
    profile: RewardProfile,
    weights: dict[str, float] | None,
) -> None:
    correct = case["correct"]
    index = data.draw(st.integers(0, len(correct) - 1))
    hedge = wrong_valued(case, index, data.draw)
    extra = data.draw(st.sampled_from([correct[index]] + ([hedge] if hedge else [])))
    position = data.draw(st.integers(0, len(correct)))
    padded = [*correct[:position], extra, *correct[position:]]

    assert reward_of(padded, case, profile, weights).reward <= 1.0
    assert reward_of(padded, case, profile).reward < reward_of(correct, case, profile).reward


@SETTINGS
@given(data=st.data(), case=cases(), profile=st.sampled_from(PROFILES), weights=weightings)
def test_axiom_5_order_changes_nothing(
    data: st.DataObject,
    case: dict[str, Any],
    profile: RewardProfile,
    weights: dict[str, float] | None,
) -> None:
    base = data.draw(base_completions(case))
    shuffled = data.draw(st.permutations(base))
    shuffled_reference = data.draw(st.permutations(case["reference"]))

    original = reward_of(base, case, profile, weights)
    for other in (
        reward_of(shuffled, case, profile, weights),
        reward_of(base, case, profile, weights, reference=shuffled_reference),
    ):
        for name, value in original.to_dict().items():
            assert math.isclose(other.to_dict()[name], value, abs_tol=TOLERANCE), name


@SETTINGS
@given(data=st.data(), case=cases(), profile=st.sampled_from(PROFILES))
def test_axiom_6_executable_beats_broken(
    data: st.DataObject, case: dict[str, Any], profile: RewardProfile
) -> None:
    correct = case["correct"]
    index = data.draw(st.integers(0, len(correct) - 1))
    executable = wrong_valued(case, index, data.draw)
    assume(executable is not None)
    broken = data.draw(st.sampled_from(broken_variants(case, index)))

    def replaced(call: Call) -> list[Call]:
        return [call if i == index else other for i, other in enumerate(correct)]

    assert executable is not None
    broken_reward = reward_of(replaced(broken), case, profile).reward
    executable_reward = reward_of(replaced(executable), case, profile).reward
    assert broken_reward <= executable_reward + TOLERANCE
