"""Per-item verdicts and corpus metrics, with hand-computed numbers."""

from __future__ import annotations

import dataclasses
import json
import math
import random
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.core.errors import InvalidReferenceError, InvalidToolSchemaError
from service.core.metrics import (
    ITEM_RATES,
    METRIC_NAMES,
    BatchScorer,
    ItemScore,
    ItemSummary,
    error_breakdown,
    score_item,
    score_items,
    summarise,
)
from service.core.types import ToolCall
from tests.service.core.tool_schemas import GET_USER, get_weather

GET_WEATHER = get_weather("dict")
TOOLS = [GET_USER, GET_WEATHER]
ANN = [{"name": "get_user", "arguments": {"name": "Ann", "age": 30, "city": "Paris"}}]


def call_json(tool: str, /, **arguments: object) -> str:
    return json.dumps({"name": tool, "arguments": arguments})


# --- score_item: the basic semantics -----------------------------------------------------------


def test_correct_call_is_valid_on_every_check() -> None:
    score = score_item(call_json("get_user", name="Ann", age=30, city="Paris"), ANN, TOOLS)

    assert (score.parsed, score.valid, score.name_match) == (True, True, True)
    assert (score.schema_hit, score.exec_ok, score.error_type) == (True, True, None)
    assert (score.argument_precision, score.argument_recall, score.argument_f1) == (1.0, 1.0, 1.0)
    assert score.calls == (ToolCall("get_user", {"name": "Ann", "age": 30, "city": "Paris"}),)


def test_argument_f1_on_a_multi_parameter_call() -> None:
    # Predicted pairs: name=Ann (right), age=31 (wrong); expected: name, age, city.
    # precision 1/2, recall 1/3, F1 = 2·(1/2·1/3)/(1/2+1/3) = 2/5.
    score = score_item(call_json("get_user", name="Ann", age=31), ANN, TOOLS)

    assert score.argument_precision == pytest.approx(1 / 2)
    assert score.argument_recall == pytest.approx(1 / 3)
    assert score.argument_f1 == pytest.approx(2 / 5)
    assert (score.schema_hit, score.exec_ok, score.name_match) == (True, True, True)
    assert score.valid is False
    assert score.error_type is not None and score.error_type.startswith("match:")


def test_schema_hit_fails_on_a_missing_required_parameter() -> None:
    score = score_item(call_json("get_user", name="Ann", city="Paris"), ANN, TOOLS)

    assert score.parsed is True
    assert score.schema_hit is False
    assert score.exec_ok is False  # a call missing a required argument does not execute
    assert score.valid is False
    assert score.error_type == "schema:missing_required"
    # Two of three expected pairs given, both right: precision 1, recall 2/3, F1 4/5.
    assert score.argument_f1 == pytest.approx(4 / 5)


def test_exec_fails_on_a_string_for_an_integer() -> None:
    score = score_item(call_json("get_user", name="Ann", age="30", city="Paris"), ANN, TOOLS)

    assert score.schema_hit is True  # every required parameter is there
    assert score.exec_ok is False  # but "30" is not an integer
    assert score.error_type == "exec:type_mismatch"
    assert score.valid is False  # BFCL: "5" is not an integer either
    # age does not match by BFCL's rules: 2 of 3 pairs right on both sides.
    assert score.argument_f1 == pytest.approx(2 / 3)


def test_json_embedded_in_prose_is_parsed() -> None:
    text = (
        "Sure, let me look that up for you.\n"
        + call_json("get_user", name="Ann", age=30, city="Paris")
        + "\nI will report back once I have it."
    )

    score = score_item(text, ANN, TOOLS)

    assert (score.parsed, score.valid, score.argument_f1) == (True, True, 1.0)


def test_undeclared_tool_fails_schema_and_names() -> None:
    score = score_item(call_json("get_person", name="Ann", age=30, city="Paris"), ANN, TOOLS)

    assert (score.parsed, score.name_match, score.schema_hit, score.exec_ok) == (
        True,
        False,
        False,
        False,
    )
    assert score.error_type == "schema:undeclared_tool"
    assert score.argument_f1 == 0.0  # calls pair by name only


def test_enum_violation_fails_exec_only() -> None:
    reference = [{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}]

    score = score_item(call_json("get_weather", city="Paris", unit="kelvin"), reference, TOOLS)

    assert (score.schema_hit, score.exec_ok) == (True, False)
    assert score.error_type == "exec:enum_mismatch"


def test_plain_answer_against_a_call_reference() -> None:
    score = score_item("I am not sure which user you mean.", ANN, TOOLS)

    assert score.parsed is False
    assert score.error_type == "parse:no_call_found"
    assert (score.name_match, score.schema_hit, score.exec_ok, score.valid) == (
        False,
        False,
        False,
        False,
    )
    assert score.argument_f1 == 0.0
    assert score.calls == ()


def test_malformed_call_gets_no_credit_even_if_a_call_was_recovered() -> None:
    score = score_item('<tool_call>{"name": "get_user", "arguments": {"name": "Ann",', ANN, TOOLS)

    assert score.parsed is False
    assert score.error_type is not None and score.error_type.startswith("parse:")
    assert (score.valid, score.argument_f1, score.calls) == (False, 0.0, ())


def test_name_accuracy_compares_multisets() -> None:
    reference = [
        {"name": "get_weather", "arguments": {"city": "Paris"}},
        {"name": "get_weather", "arguments": {"city": "Rome"}},
    ]
    once = score_item(call_json("get_weather", city="Paris"), reference, TOOLS)
    twice_reordered = score_item(
        json.dumps(
            [
                {"name": "get_weather", "arguments": {"city": "Rome"}},
                {"name": "get_weather", "arguments": {"city": "Paris"}},
            ]
        ),
        reference,
        TOOLS,
    )

    assert once.name_match is False
    assert (twice_reordered.name_match, twice_reordered.valid) == (True, True)


def test_plain_answer_to_a_no_call_reference_is_a_correct_abstention() -> None:
    score = score_item("There is no tool for that, sorry.", [], TOOLS, category="irrelevance")

    assert (score.parsed, score.valid, score.name_match, score.expects_no_call) == (
        True,
        True,
        True,
        True,
    )
    assert (score.schema_hit, score.exec_ok, score.argument_f1, score.error_type) == (
        True,
        True,
        1.0,
        None,
    )


def test_call_against_a_no_call_reference_is_wrong_but_may_execute() -> None:
    score = score_item(call_json("get_weather", city="Paris"), None, TOOLS)

    assert (score.parsed, score.valid, score.name_match) == (True, False, False)
    assert (score.schema_hit, score.exec_ok) == (True, True)
    assert score.error_type is not None and score.error_type.startswith("match:")
    assert score.argument_f1 == 0.0


def test_malformed_markup_against_a_no_call_reference_is_not_parsed() -> None:
    score = score_item('<tool_call>{"name": "get_weather", "arguments": {', "[]", TOOLS)

    assert (score.parsed, score.valid) == (False, False)
    assert score.error_type is not None and score.error_type.startswith("parse:")


ANY_CALL = {"any_call": True}


@pytest.mark.parametrize(
    "prediction",
    [
        call_json("get_weather", city="Paris"),
        # Whatever the arguments: no particular call was specified.
        call_json("get_user", nonsense=[1, 2]),
        # One call to an offered tool is enough, beside one that is not.
        [{"name": "book_flight", "arguments": {}}, {"name": "get_user", "arguments": {}}],
    ],
)
def test_a_call_to_an_offered_tool_answers_an_any_call_reference(prediction: object) -> None:
    score = score_item(prediction, ANY_CALL, TOOLS, category="live_relevance")

    assert (score.parsed, score.valid, score.name_match, score.error_type) == (
        True,
        True,
        True,
        None,
    )
    assert (score.expects_any_call, score.expects_no_call) == (True, False)
    assert (score.argument_precision, score.argument_recall, score.argument_f1) == (1.0, 1.0, 1.0)
    assert score.calls


@pytest.mark.parametrize(
    ("prediction", "parsed", "error_type"),
    [
        ("I would need more details first.", False, "parse:no_call_found"),
        (
            '<tool_call>{"name": "get_weather", "arguments": {',
            False,
            "parse:unterminated_tool_call",
        ),
        (call_json("book_flight", to="Oslo"), True, "schema:undeclared_tool"),
    ],
)
def test_no_call_to_an_offered_tool_fails_an_any_call_reference(
    prediction: str, parsed: bool, error_type: str
) -> None:
    score = score_item(prediction, json.dumps(ANY_CALL), TOOLS)

    assert (score.parsed, score.valid, score.name_match, score.error_type) == (
        parsed,
        False,
        False,
        error_type,
    )
    assert score.expects_any_call and score.argument_f1 == 0.0


def test_relevance_accuracy_is_valid_over_any_call_items_only() -> None:
    items = [
        {"prediction": call_json("get_weather", city="Rome"), "reference": ANY_CALL},
        {"prediction": "no call", "reference": ANY_CALL},
        {"prediction": "no call", "reference": []},
        {"prediction": call_json("get_weather", city="Rome"), "reference": ANN},
    ]
    scores = score_items({**item, "tools": TOOLS, "category": "c"} for item in items)
    report = summarise(scores, bootstrap_samples=100)

    assert report.metrics["relevance_accuracy"] == pytest.approx(1 / 2)
    assert report.metrics["irrelevance_accuracy"] == 1.0
    # The relevance rows' AST verdict counts in ast_accuracy, as the irrelevance rows' does.
    assert report.metrics["ast_accuracy"] == pytest.approx(2 / 4)
    assert "relevance_accuracy" in report.ci
    assert report.by_category["c"]["relevance_accuracy"] == pytest.approx(1 / 2)
    assert summarise(scores[2:], bootstrap_samples=10).metrics["relevance_accuracy"] is None


@pytest.mark.parametrize(
    "reference", [{"any_call": False}, {"any_call": 1}, {"any_call": True, "get_user": {}}]
)
def test_a_malformed_any_call_reference_is_a_labelled_client_error(reference: object) -> None:
    with pytest.raises(InvalidReferenceError) as raised:
        score_item(call_json("get_user"), reference, TOOLS)
    assert raised.value.label == "reference:invalid_any_call"


def test_bfcl_possible_answers_and_plain_tools() -> None:
    reference = [{"get_weather": {"city": ["Paris", "paris, france"], "unit": ["", "celsius"]}}]

    omitted = score_item("get_weather(city='Paris')", reference, [GET_WEATHER])
    alternative = score_item(call_json("get_weather", city="Paris, France"), reference, TOOLS)

    assert (omitted.valid, alternative.valid) == (True, True)


def test_malformed_reference_and_tools_raise_client_errors() -> None:
    with pytest.raises(InvalidReferenceError) as reference_error:
        score_item("x", 42, TOOLS)
    with pytest.raises(InvalidToolSchemaError) as tools_error:
        score_item("x", ANN, [{"description": "no name"}])

    assert reference_error.value.label.startswith("reference:")
    assert tools_error.value.label.startswith("schema:")


# --- batches: BatchScorer / score_items ----------------------------------------------------------


def test_score_items_equals_score_item_on_shared_and_fresh_objects() -> None:
    no_call: list[object] = []
    predictions = [
        call_json("get_user", name="Ann", age=30, city="Paris"),
        call_json("get_user", name="Ann", age="30"),
        "get_weather(city='Paris')",
        "no call",
    ]
    items = [
        {"id": index, "category": "c", "prediction": prediction, "reference": ANN, "tools": TOOLS}
        for index, prediction in enumerate(predictions)
    ]
    items.append({"id": 9, "prediction": "no call", "reference": no_call, "tools": TOOLS})
    items.append({"id": 10, "prediction": "no call", "reference": "", "tools": None})

    expected = [
        score_item(
            item["prediction"],
            item["reference"],
            item["tools"],
            item_id=item["id"],
            category=item.get("category"),
        )
        for item in items
    ]
    scores = score_items(items)

    assert scores == expected
    assert [(s.id, s.valid, s.error_type) for s in scores] == [
        (0, True, None),
        (1, False, "exec:type_mismatch"),
        (2, False, "match:wrong_name"),
        (3, False, "parse:no_call_found"),
        (9, True, None),
        (10, True, None),
    ]


def test_batch_scorer_never_confuses_objects_whose_ids_could_be_reused() -> None:
    # Each item's reference is a fresh list that the caller drops at once; were the scorer
    # not holding it, CPython could hand the next list the same id and a stale Reference.
    def items() -> Iterator[dict[str, object]]:
        for index in range(200):
            age = index % 3
            yield {
                "id": index,
                "prediction": call_json("get_user", name="Ann", age=1),
                "reference": [{"name": "get_user", "arguments": {"name": "Ann", "age": age}}],
                "tools": [dict(GET_USER)],
            }

    scores = score_items(items())

    assert [s.valid for s in scores] == [index % 3 == 1 for index in range(200)]


def test_score_items_raises_client_errors_like_score_item() -> None:
    scorer = BatchScorer()
    with pytest.raises(InvalidReferenceError):
        scorer.score("x", 42, TOOLS)
    with pytest.raises(InvalidToolSchemaError):
        score_items([{"prediction": "x", "reference": ANN, "tools": [{"description": "?"}]}])


def test_item_to_dict_is_json_ready() -> None:
    score = score_item(
        call_json("get_user", name="Ann", age=30, city="Paris"),
        ANN,
        TOOLS,
        item_id="q-1",
        category="simple",
    )

    payload = json.loads(json.dumps(score.to_dict()))

    assert payload["id"] == "q-1"
    assert payload["category"] == "simple"
    assert payload["calls"] == [
        {"name": "get_user", "arguments": {"name": "Ann", "age": 30, "city": "Paris"}}
    ]
    assert set(payload) == {
        "id",
        "category",
        "parsed",
        "valid",
        "error_type",
        "name_match",
        "schema_hit",
        "exec_ok",
        "argument_precision",
        "argument_recall",
        "argument_f1",
        "expects_no_call",
        "expects_any_call",
        "calls",
    }


# --- summarise ---------------------------------------------------------------------------------


def make_score(
    *,
    parsed: bool = True,
    valid: bool = True,
    name_match: bool = True,
    schema_hit: bool = True,
    exec_ok: bool = True,
    precision: float = 1.0,
    recall: float = 1.0,
    f1: float = 1.0,
    expects_no_call: bool = False,
    expects_any_call: bool = False,
    category: str | None = None,
    error_type: str | None = None,
) -> ItemScore:
    return ItemScore(
        id=None,
        category=category,
        parsed=parsed,
        valid=valid,
        error_type=error_type,
        name_match=name_match,
        schema_hit=schema_hit,
        exec_ok=exec_ok,
        argument_precision=precision,
        argument_recall=recall,
        argument_f1=f1,
        expects_no_call=expects_no_call,
        expects_any_call=expects_any_call,
        calls=(),
    )


def test_summarise_hand_computed_metrics() -> None:
    scores = [
        make_score(category="simple"),
        make_score(valid=False, precision=0.5, recall=1 / 3, f1=0.4, category="simple"),
        make_score(
            parsed=False,
            valid=False,
            name_match=False,
            schema_hit=False,
            exec_ok=False,
            precision=0.0,
            recall=0.0,
            f1=0.0,
            category="multiple",
        ),
        make_score(expects_no_call=True, category="irrelevance"),
        make_score(
            valid=False,
            name_match=False,
            f1=0.0,
            precision=0.0,
            recall=0.0,
            expects_no_call=True,
            category="irrelevance",
        ),
    ]

    report = summarise(scores, bootstrap_samples=200)

    assert report.count == 5
    assert list(report.metrics) == list(METRIC_NAMES)
    assert report.metrics["parse_rate"] == pytest.approx(4 / 5)
    assert report.metrics["name_accuracy"] == pytest.approx(3 / 5)
    assert report.metrics["argument_precision"] == pytest.approx((1 + 0.5 + 0 + 1 + 0) / 5)
    assert report.metrics["argument_recall"] == pytest.approx((1 + 1 / 3 + 0 + 1 + 0) / 5)
    assert report.metrics["argument_f1"] == pytest.approx((1 + 0.4 + 0 + 1 + 0) / 5)
    assert report.metrics["schema_hit_rate"] == pytest.approx(4 / 5)
    assert report.metrics["exec_rate"] == pytest.approx(4 / 5)
    assert report.metrics["ast_accuracy"] == pytest.approx(2 / 5)
    assert report.metrics["irrelevance_accuracy"] == pytest.approx(1 / 2)

    assert list(report.by_category) == ["irrelevance", "multiple", "simple"]
    assert report.by_category["simple"]["count"] == 2
    assert report.by_category["simple"]["argument_f1"] == pytest.approx(0.7)
    assert report.by_category["simple"]["irrelevance_accuracy"] is None
    assert report.by_category["multiple"]["parse_rate"] == 0.0
    assert report.by_category["irrelevance"]["irrelevance_accuracy"] == pytest.approx(0.5)


def test_irrelevance_accuracy_is_none_without_no_call_items() -> None:
    report = summarise([make_score(), make_score(valid=False)], bootstrap_samples=50)

    assert report.metrics["irrelevance_accuracy"] is None
    assert "irrelevance_accuracy" not in report.ci
    assert set(report.ci) == set(ITEM_RATES)


def test_uncategorised_items_get_their_own_bucket() -> None:
    report = summarise([make_score(), make_score(category="simple")], bootstrap_samples=0)

    assert report.by_category["uncategorised"]["count"] == 1
    assert report.by_category["simple"]["count"] == 1


def test_empty_input_has_no_rates() -> None:
    report = summarise([])

    assert report.count == 0
    assert all(value is None for value in report.metrics.values())
    assert report.ci == {}
    assert report.by_category == {}


def test_bootstrap_interval_matches_the_normal_approximation() -> None:
    # 400 Bernoulli(1/2) items: standard error sqrt(0.25/400) = 0.025, so the 95 % interval is
    # about 0.5 ± 1.96·0.025 = [0.451, 0.549].
    scores = [make_score(valid=i % 2 == 0) for i in range(400)]

    low, high = summarise(scores, bootstrap_samples=2000).ci["ast_accuracy"]

    assert low == pytest.approx(0.451, abs=0.01)
    assert high == pytest.approx(0.549, abs=0.01)


def test_bootstrap_is_deterministic_per_seed_and_degenerate_on_constants() -> None:
    scores = [make_score(valid=i % 3 == 0, f1=i / 10) for i in range(11)]

    first = summarise(scores, seed=7)
    second = summarise(scores, seed=7)
    other_seed = summarise(scores, seed=8)

    assert first == second
    assert first.ci != other_seed.ci
    assert first.ci["parse_rate"] == (1.0, 1.0)  # every item parsed
    for name in ITEM_RATES:
        low, high = first.ci[name]
        value = first.metrics[name]
        assert value is not None
        assert 0.0 <= low <= value <= high <= 1.0


def test_bootstrap_can_be_disabled_and_rejects_negative_samples() -> None:
    assert summarise([make_score()], bootstrap_samples=0).ci == {}
    with pytest.raises(ValueError, match="bootstrap_samples"):
        summarise([make_score()], bootstrap_samples=-1)


def test_large_binary_corpus_interval_width() -> None:
    # 50,000 items, few distinct values (the multinomial path).
    rng = random.Random(3)
    scores = [make_score(valid=rng.random() < 0.3) for _ in range(50_000)]

    report = summarise(scores)
    low, high = report.ci["ast_accuracy"]
    value = report.metrics["ast_accuracy"]

    assert value is not None
    # Standard error sqrt(p(1-p)/n) ≈ 0.00205 at p ≈ 0.3: half-width ≈ 1.96·0.00205.
    assert high - low == pytest.approx(2 * 1.96 * math.sqrt(value * (1 - value) / 50_000), rel=0.1)


def test_many_distinct_values_are_resampled_item_by_item() -> None:
    # 3,000 uniform F1 values (every value distinct): resampled in chunks of items. The mean
    # of U(0, 1) has standard error sqrt(1/12/3000) ≈ 0.00527: half-width ≈ 0.0103.
    rng = random.Random(5)
    scores = [make_score(f1=rng.random()) for _ in range(3_000)]

    report = summarise(scores)
    low, high = report.ci["argument_f1"]
    value = report.metrics["argument_f1"]

    assert value is not None
    assert low < value < high
    assert high - low == pytest.approx(2 * 1.96 * math.sqrt(1 / 12 / 3_000), rel=0.1)


def test_multinomial_bootstrap_matches_resampling_items() -> None:
    # The shortcut (resampling counts of distinct values) and a plain item bootstrap estimate
    # the same distribution: their intervals agree to well within the Monte Carlo noise.
    rng = random.Random(11)
    f1_values = [rng.choice([0.0, 0.4, 0.5, 2 / 3, 0.8, 1.0]) for _ in range(2_000)]
    scores = [make_score(f1=value) for value in f1_values]

    low, high = summarise(scores, bootstrap_samples=4_000).ci["argument_f1"]

    column = np.array(f1_values)
    draws = np.random.default_rng(0).integers(0, len(column), size=(4_000, len(column)))
    plain_low, plain_high = np.percentile(column[draws].mean(axis=1), [2.5, 97.5])
    assert low == pytest.approx(plain_low, abs=0.003)
    assert high == pytest.approx(plain_high, abs=0.003)


def test_report_to_dict_is_json_ready() -> None:
    report = summarise([make_score(category="a"), make_score(valid=False, category="b")])

    payload = json.loads(json.dumps(report.to_dict()))

    assert set(payload) == {"count", "metrics", "ci", "by_category"}
    assert payload["metrics"]["ast_accuracy"] == 0.5
    assert payload["ci"]["parse_rate"] == [1.0, 1.0]
    assert payload["by_category"]["b"]["ast_accuracy"] == 0.0


def test_error_breakdown_counts_labels_most_frequent_first() -> None:
    scores = [
        make_score(valid=False, error_type="schema:missing_required"),
        make_score(valid=False, error_type="exec:type_mismatch"),
        make_score(valid=False, error_type="schema:missing_required"),
        make_score(),
    ]

    assert error_breakdown(scores) == {"schema:missing_required": 2, "exec:type_mismatch": 1}


unit_floats = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
item_scores = st.builds(
    make_score,
    parsed=st.booleans(),
    valid=st.booleans(),
    name_match=st.booleans(),
    schema_hit=st.booleans(),
    exec_ok=st.booleans(),
    precision=unit_floats,
    recall=unit_floats,
    f1=unit_floats,
    expects_no_call=st.booleans(),
    category=st.sampled_from([None, "simple", "parallel"]),
    error_type=st.sampled_from([None, "exec:type_mismatch", "match:wrong_count"]),
)


@settings(max_examples=60, deadline=None)
@given(scores=st.lists(item_scores, min_size=1, max_size=40), shuffle_seed=st.integers(0, 2**16))
def test_report_does_not_depend_on_item_order(scores: list[ItemScore], shuffle_seed: int) -> None:
    shuffled = list(scores)
    random.Random(shuffle_seed).shuffle(shuffled)

    assert summarise(shuffled, bootstrap_samples=100) == summarise(scores, bootstrap_samples=100)


def test_a_summary_has_every_field_of_a_score_but_its_calls() -> None:
    score_fields = [field.name for field in dataclasses.fields(ItemScore)]

    assert list(ItemSummary._fields) == [name for name in score_fields if name != "calls"]


@settings(max_examples=40, deadline=None)
@given(scores=st.lists(item_scores, min_size=1, max_size=40), mixed=st.booleans())
def test_summaries_report_what_their_scores_report(scores: list[ItemScore], mixed: bool) -> None:
    """toolgrade score's workers send summaries, not scores: the report cannot tell them apart."""
    summaries = [
        score if mixed and index % 2 else ItemSummary.of(score)
        for index, score in enumerate(scores)
    ]

    assert summarise(summaries, bootstrap_samples=100) == summarise(scores, bootstrap_samples=100)
    assert error_breakdown(summaries) == error_breakdown(scores)


# A plain implementation compares (parameter, canonical JSON with sorted keys) pairs. On exact
# references our argument F1 must agree with it wherever BFCL's standardisation and 5 == 5.0 do
# not apply: strings of lower-case letters, integers, booleans and structures of them.
plain_values = st.recursive(
    st.integers(-5, 5) | st.booleans() | st.text(alphabet="abcxyz", min_size=1, max_size=4),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(["k", "m"]), children, max_size=2)
    ),
    max_leaves=5,
)
parameters = st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), plain_values, min_size=1)


def seed_f1(predicted: dict[str, object], expected: dict[str, object]) -> float:
    def pairs(arguments: dict[str, object]) -> set[tuple[str, str]]:
        return {(name, json.dumps(value, sort_keys=True)) for name, value in arguments.items()}

    hits = len(pairs(predicted) & pairs(expected))
    precision, recall = hits / len(predicted), hits / len(expected)
    return 2 * precision * recall / (precision + recall) if hits else 0.0


@settings(max_examples=200, deadline=None)
@given(expected=parameters, predicted=parameters, shared=st.lists(st.booleans(), max_size=4))
def test_argument_f1_agrees_with_the_seed_on_exact_references(
    expected: dict[str, object], predicted: dict[str, object], shared: list[bool]
) -> None:
    # Copy some expected values into the prediction so that hits are common.
    for name, copy_it in zip(sorted(expected), shared, strict=False):
        if copy_it:
            predicted[name] = expected[name]
    reference = [{"name": "f", "arguments": expected}]

    score = score_item(json.dumps({"name": "f", "arguments": predicted}), reference, [])

    assert score.argument_f1 == pytest.approx(seed_f1(predicted, expected))
