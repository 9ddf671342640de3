"""Every reward-integrity case a new user found, with its number before and after the fix.

The setting throughout: tools ``get_weather(city: string, required)`` and
``get_time(tz: string, optional)``; the reference is ``[get_weather(city="Paris")]`` unless a
test says otherwise. Numbers are hand-computed in the comments.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from service.core.errors import InvalidWeightsError
from service.core.matching import argument_overlap, match_value
from service.core.metrics import score_item, summarise
from service.core.references import normalise_reference
from service.core.rewards import RewardBreakdown, compute_rewards, normalise_weights
from service.core.types import ToolCall

WEATHER = {
    "name": "get_weather",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}
TIME = {
    "name": "get_time",
    "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}},
}
TOOLS = [WEATHER, TIME]
PARIS = [{"name": "get_weather", "arguments": {"city": "Paris"}}]
PROFILES = ("weighted", "strict", "toolrl")


def call(name: str, /, **arguments: Any) -> dict[str, Any]:
    return {"name": name, "arguments": arguments}


def reward(calls: list[dict[str, Any]], label: Any = PARIS, **options: Any) -> RewardBreakdown:
    options.setdefault("tools", TOOLS)
    (breakdown,) = compute_rewards([json.dumps(calls)], [label], **options)
    return breakdown


RIGHT = call("get_weather", city="Paris")
WRONG = call("get_weather", city="Rome")


# --- padding (was 0.667 alone, 0.892 with nine get_time(), 0.909 with thirty) ------------------


def test_padding_with_cheap_valid_calls_lowers_the_reward() -> None:
    unknown_parameter = call("get_weather", city="Paris", verbose=True)
    # Alone (one call, one reference: the plain shares): json 1, schema 1, exec 0 (verbose is
    # unknown), semantic P 1/2, R 1 → 2/3; reward 0.25·(1 + 1 + 0 + 2/3) = 2/3.
    alone = reward([unknown_parameter]).reward
    # With nine get_time(): schema 1/10 (one reference call answered, every call has its
    # required parameters), exec 0, semantic P 1/11, R 1 → 1/6; 0.25·(1 + 0.1 + 1/6) = 0.3167.
    nine = reward([unknown_parameter] + [call("get_time")] * 9).reward
    # With thirty: schema 1/31, semantic P 1/32 → 2/33; 0.25·(1 + 1/31 + 2/33) = 0.2732.
    thirty = reward([unknown_parameter] + [call("get_time")] * 30).reward

    assert alone == pytest.approx(2 / 3)
    assert nine == pytest.approx(0.25 * (1 + 0.1 + 1 / 6))
    assert thirty == pytest.approx(0.25 * (1 + 1 / 31 + 2 / 33))
    assert thirty < nine < alone


@pytest.mark.parametrize(
    "broken", [call("get_weather"), call("getWeather", city="Paris")], ids=["missing", "undeclared"]
)
def test_padding_a_broken_call_earns_nothing_more(broken: dict[str, Any]) -> None:
    # Was 0.25 alone and 0.70 padded: only json_parse is earned, alone or padded.
    assert reward([broken]).reward == pytest.approx(0.25)
    assert reward([broken] + [call("get_time")] * 9).reward == pytest.approx(0.25)


# --- extra, dropped, duplicated and hedged calls ------------------------------------------------


def test_an_extra_call_costs_reward() -> None:
    # Was 1.0. schema 1/2, exec 1/2, semantic P 1/2 (get_time() is one unmatched unit), R 1 →
    # 2/3; 0.25·(1 + 0.5 + 0.5 + 2/3) = 2/3.
    assert reward([RIGHT, call("get_time")]).reward == pytest.approx(2 / 3)
    assert reward([RIGHT, call("get_time")], profile="strict").reward == 0.0


def test_dropping_a_call_costs_reward_and_argument_recall() -> None:
    both = [PARIS[0], call("get_time")]
    # Was 1.0 (and argument_f1 1.0): get_time() has no arguments, but a dropped call is one
    # unit of recall. schema 1/2, exec 1/2, semantic P 1, R 1/2 → 2/3.
    assert reward([RIGHT], both).reward == pytest.approx(2 / 3)
    assert reward([RIGHT, call("get_time")], both).reward == 1.0
    score = score_item(json.dumps([RIGHT]), both, TOOLS)
    assert (score.argument_precision, score.argument_recall) == (1.0, 0.5)
    assert score.argument_f1 == pytest.approx(2 / 3)


def test_hedging_earns_less_than_committing_to_a_wrong_value() -> None:
    # Was 0.917 (seed) and 0.857 (toolrl): above a wrong commitment, so hedging paid whenever
    # the policy was less than ~67 % sure. Now below the wrong value alone under every profile.
    hedge_weighted = reward([RIGHT, WRONG]).reward
    hedge_toolrl = reward([RIGHT, WRONG], profile="toolrl").reward
    # weighted: schema 1/2, exec 1/2, semantic P 1/2, R 1 → 2/3; reward 2/3.
    assert hedge_weighted == pytest.approx(2 / 3)
    assert hedge_weighted < reward([WRONG]).reward == pytest.approx(0.75)
    # toolrl: names 1/2 + the right pair (1 + 1) × coverage 1/2 = 1.5 of S_max 3 → 4/7.
    assert hedge_toolrl == pytest.approx(4 / 7)
    assert hedge_toolrl < reward([WRONG], profile="toolrl").reward == pytest.approx(5 / 7)
    assert reward([RIGHT, RIGHT]).reward == pytest.approx(2 / 3)
    assert reward([RIGHT, WRONG], profile="strict").reward == 0.0


# --- strings compare by the reference's kind ------------------------------------------------------

PING = {
    "name": "ping",
    "parameters": {"type": "object", "properties": {"host": {"type": "string"}}},
}


@pytest.mark.parametrize(
    ("written", "predicted"),
    [
        ("192.168.1.1", "19.216.811"),
        ("-33.86,151.21", "33.86,151.21"),
        ("1.10.2", "11.0.2"),
        ("dQw4w9WgXcQ", "dqw4w9wgxcq"),
    ],
)
def test_exact_references_compare_strings_as_written(written: str, predicted: str) -> None:
    label = [call("ping", host=written)]
    completion = [call("ping", host=predicted)]
    # Was 1.0 under every profile (BFCL's standardisation applied to exact references).
    assert reward(completion, label, tools=[PING]).reward == pytest.approx(0.75)
    assert reward(completion, label, tools=[PING], profile="strict").reward == 0.0
    assert reward(completion, label, tools=[PING], profile="toolrl").reward == pytest.approx(5 / 7)
    assert not score_item(json.dumps(completion), label, [PING]).valid
    # Opting in per request restores BFCL's leniency.
    for profile in PROFILES:
        lenient = reward(completion, label, tools=[PING], profile=profile, string_match="bfcl")
        assert lenient.reward == 1.0
    assert score_item(json.dumps(completion), label, [PING], string_match="bfcl").valid


def test_bfcl_answers_keep_bfcls_standardisation() -> None:
    label = [{"ping": {"host": ["192.168.1.1"]}}]
    assert reward([call("ping", host="19.216.811")], label, tools=[PING]).reward == 1.0


def test_unknown_string_match_is_a_client_error() -> None:
    with pytest.raises(Exception) as error:
        reward([RIGHT], string_match="fuzzy")
    assert getattr(error.value, "label", None) == "reference:unknown_string_match"


# --- toolrl's ceiling ---------------------------------------------------------------------

BOOK = {
    "name": "book",
    "parameters": {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "nights": {"type": "integer"},
            "guests": {"type": "integer"},
            "pool": {"type": "boolean"},
        },
        "required": ["city"],
    },
}
BOOK_PARIS = [{"book": {"city": ["Paris"], "nights": ["", 1], "guests": ["", 2], "pool": [""]}}]


def test_toolrl_ceiling_holds_with_omittable_parameters() -> None:
    # Was 0.821 for book() and 0.857 for a wrong city, above the documented 5/7.
    # book() cannot execute (city is required): names 0/1, no value points; S = 1 of 3 → 3/7.
    omitted = reward([call("book")], BOOK_PARIS, tools=[BOOK], profile="toolrl").reward
    wrong_city = reward([call("book", city="Rome")], BOOK_PARIS, tools=[BOOK], profile="toolrl")
    right = reward([call("book", city="Paris")], BOOK_PARIS, tools=[BOOK], profile="toolrl")

    assert omitted == pytest.approx(3 / 7)
    assert wrong_city.reward == pytest.approx(5 / 7)
    assert right.reward == 1.0


# --- argument_f1, BFCL any, strict, summarise -------------------------------------------------


def test_argument_f1_does_not_depend_on_reference_order() -> None:
    # Was 0.667 one way and 1.0 the other. Either way the single call pairs with f(a=1) and
    # the optional-only f leaves one unit of recall: P 1, R 1/2 → 2/3.
    optional_first = normalise_reference([{"f": {"a": ["", 2]}}, {"f": {"a": [1]}}])
    optional_last = normalise_reference([{"f": {"a": [1]}}, {"f": {"a": ["", 2]}}])
    calls = [ToolCall("f", {"a": 1})]
    forward = argument_overlap(calls, optional_first, {}).f1
    backward = argument_overlap(calls, optional_last, {}).f1
    assert forward == backward == pytest.approx(2 / 3)


def test_bfcl_any_answer_one_does_not_accept_true() -> None:
    assert not match_value(True, (1,), {})
    assert not match_value(1, (True,), {})
    assert match_value(1, (1,), {})
    answer = [{"f": {"x": [1]}}]
    tool = {"name": "f", "parameters": {"type": "dict", "properties": {"x": {"type": "any"}}}}
    assert not score_item(json.dumps([call("f", x=True)]), answer, [tool]).valid


def test_strict_refuses_a_call_to_a_tool_missing_from_tools() -> None:
    # Was 1.0: the call matches the reference, but no declared tool could execute it.
    assert reward([RIGHT], tools=[TIME], profile="strict").reward == 0.0
    assert reward([RIGHT], profile="strict").reward == 1.0


def test_summarise_accepts_mixed_type_categories() -> None:
    categories: tuple[Any, ...] = ("a", 1, None)  # the core's callers are not all typed
    scores = [
        score_item(json.dumps([RIGHT]), PARIS, TOOLS, category=category) for category in categories
    ]
    report = summarise(scores, bootstrap_samples=0)
    assert sorted(map(str, report.by_category)) == ["1", "a", "uncategorised"]


def test_weights_overflowing_their_sum_are_a_labelled_client_error() -> None:
    with pytest.raises(InvalidWeightsError) as error:
        normalise_weights({"exec": 1e308, "semantic": 1e308})
    assert error.value.label == "weights:non_finite"
    assert normalise_weights({"exec": 1e307, "semantic": 1e307})["exec"] == 0.5
