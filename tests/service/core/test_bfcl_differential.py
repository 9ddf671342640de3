"""Differential test against the anchor: ToolGrade's ``valid`` vs BFCL's own AST checker.

Candidates come from BFCL's shipped data (correct answers and systematic perturbations, see
``bfcl_candidates.py``). The verdicts must agree on at least 99.5 % of them, and every
disagreement must fall in a deviation documented in :mod:`service.core.matching`:

- ``optimal_assignment`` — several expected calls, ToolGrade valid, and a greedy first-fit
  pairing (BFCL's scan, run with ToolGrade's own per-call check) fails;
- ``any_type`` — the call gives a non-string value to a parameter BFCL declares ``any`` (or
  non-string elements to an array of ``any``).

Run with ``-s`` to see the agreement table.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest

from bench.bfcl_candidates import (
    BfclCandidate,
    BfclItem,
    bfcl_checker,
    generate_candidates,
    load_bfcl_items,
    reference_from_possible_answer,
    tool_calls_from_prediction,
)
from service.core.matching import argument_overlap, check_call, judge_calls, match_calls
from service.core.metrics import score_item, score_items
from service.core.schema import normalise_tools
from service.core.types import MatchResult, Reference, ToolCall, ToolSpec

pytest.importorskip("bfcl_eval", reason="bfcl-eval is the differential-test anchor")

# Builds and judges 34k candidates: the full lane (make test) only, not make test-fast.
pytestmark = pytest.mark.slow

REQUIRED_AGREEMENT = 0.995
PERTURBATIONS = {
    "correct",
    "arguments_as_json_string",
    "wrong_name",
    "name_case",
    "missing_required",
    "integer_as_string",
    "int_for_float",
    "float_for_integer",
    "bool_for_integer",
    "extra_unknown_param",
    "extra_schema_param",
    "dropped_optional",
    "null_optional",
    "dropped_answer_param",
    "calls_reversed",
    "calls_rotated",
    "string_case",
    "string_punctuation",
    "string_changed",
    "list_reordered",
    "extra_call",
    "missing_call",
    "call_duplicated_in_place",
}


@dataclass(frozen=True)
class Outcome:
    candidate: BfclCandidate
    theirs: bool
    ours: MatchResult
    calls: list[ToolCall]
    reference: Reference
    tools: dict[str, ToolSpec]


@pytest.fixture(scope="module")
def outcomes() -> list[Outcome]:
    check = bfcl_checker()
    results = []
    for candidate in generate_candidates(load_bfcl_items()):
        calls = tool_calls_from_prediction(candidate.prediction)
        reference = reference_from_possible_answer(candidate.item.possible_answer)
        tools = normalise_tools(candidate.item.functions)
        ours = match_calls(calls, reference, tools)
        results.append(Outcome(candidate, check(candidate), ours, calls, reference, tools))
    return results


def _greedy_is_valid(outcome: Outcome) -> bool:
    """BFCL's first-fit pairing of expected calls, with ToolGrade's per-call check."""
    taken: set[int] = set()
    for expected in outcome.reference.calls:
        spec = outcome.tools.get(expected.name)
        partner = next(
            (
                index
                for index, call in enumerate(outcome.calls)
                if index not in taken and check_call(call, expected, spec) is None
            ),
            None,
        )
        if partner is None:
            return False
        taken.add(partner)
    return True


def _bfcl_types(item: BfclItem) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (function["name"], param): schema
        for function in item.functions
        for param, schema in function["parameters"]["properties"].items()
    }


def _gives_any_a_non_string(outcome: Outcome) -> bool:
    declared = _bfcl_types(outcome.candidate.item)
    for call in outcome.calls:
        for param, value in call.arguments.items():
            schema = declared.get((call.name, param), {})
            if schema.get("type") == "any" and type(value) is not str:
                return True
            element = schema.get("items", {}).get("type") if isinstance(value, list) else None
            if element == "any" and any(type(item) is not str for item in value):
                return True
    return False


def classify(outcome: Outcome) -> str | None:
    """The documented deviation that explains a disagreement, or None."""
    several = len(outcome.reference.calls) > 1
    if several and outcome.ours.valid and not outcome.theirs and not _greedy_is_valid(outcome):
        return "optimal_assignment"
    if _gives_any_a_non_string(outcome):
        return "any_type"
    return None


def test_valid_agrees_with_bfcls_checker(outcomes: list[Outcome]) -> None:
    disagreements = [outcome for outcome in outcomes if outcome.theirs != outcome.ours.valid]
    by_deviation = Counter(classify(outcome) for outcome in disagreements)
    agreement = 1 - len(disagreements) / len(outcomes)

    by_perturbation = Counter(outcome.candidate.perturbation for outcome in outcomes)
    valid_by_bfcl = sum(outcome.theirs for outcome in outcomes)
    print(
        f"\nBFCL differential: {len(outcomes)} candidates from "
        f"{len({o.candidate.item.item_id for o in outcomes})} items, "
        f"{valid_by_bfcl} valid per BFCL; agreement {agreement:.4%}; "
        f"disagreements {len(disagreements)} {dict(by_deviation)}"
    )

    unclassified = [
        (outcome.candidate.item.item_id, outcome.candidate.perturbation, outcome.ours.error)
        for outcome in disagreements
        if classify(outcome) is None
    ]
    assert not unclassified, f"disagreements outside documented deviations: {unclassified[:20]}"
    assert agreement >= REQUIRED_AGREEMENT
    # The candidate set exercises every perturbation and both verdicts in earnest.
    assert set(by_perturbation) >= PERTURBATIONS
    assert 0.2 < valid_by_bfcl / len(outcomes) < 0.8


def test_perturbations_mean_what_they_say(outcomes: list[Outcome]) -> None:
    """Sanity of the generator: perturbations BFCL must reject are rejected by both."""
    always_invalid = {
        "wrong_name",
        "name_case",
        "missing_required",
        "integer_as_string",
        "float_for_integer",
        "bool_for_integer",
        "extra_unknown_param",
        "extra_call",
        "missing_call",
    }
    for outcome in outcomes:
        if outcome.candidate.perturbation in always_invalid:
            assert not outcome.theirs, outcome.candidate.item.item_id
            assert not outcome.ours.valid, outcome.candidate.item.item_id


def _directed_outcome(
    properties: dict[str, Any], answer: list[dict[str, Any]], arguments: list[dict[str, Any]]
) -> Outcome:
    """One hand-made parallel item (tool ``f``), judged by BFCL's checker and by ToolGrade."""
    parameters = {"type": "dict", "properties": properties, "required": []}
    item = BfclItem(
        item_id="directed",
        category="parallel",
        functions=[{"name": "f", "description": "", "parameters": parameters}],
        possible_answer=[{"f": params} for params in answer],
    )
    candidate = BfclCandidate(
        item,
        "directed",
        prediction=[{"name": "f", "arguments": json.dumps(args)} for args in arguments],
        model_output=[{"f": args} for args in arguments],
    )
    calls = tool_calls_from_prediction(candidate.prediction)
    reference = reference_from_possible_answer(item.possible_answer)
    tools = normalise_tools(item.functions)
    ours = match_calls(calls, reference, tools)
    return Outcome(candidate, bfcl_checker()(candidate), ours, calls, reference, tools)


def test_greedy_pairing_is_a_documented_disagreement() -> None:
    # BFCL's scan gives the first expected call (x in {1, 2}) the first predicted call (x=1);
    # the second expected call (x must be 1) is then left with x=2.
    outcome = _directed_outcome(
        {"x": {"type": "integer"}}, [{"x": [1, 2]}, {"x": [1]}], [{"x": 1}, {"x": 2}]
    )
    assert (outcome.theirs, outcome.ours.valid) == (False, True)
    assert classify(outcome) == "optimal_assignment"


@pytest.mark.parametrize(
    ("properties", "answer", "arguments"),
    [
        # BFCL checks "any" as a string: a dict answer is then only compared as a raw value.
        ({"v": {"type": "any"}}, {"v": [{"k": ["v"]}]}, {"v": {"k": "V"}}),
        # ...and "any" array elements as strings (or as the answer's first element type).
        (
            {"v": {"type": "array", "items": {"type": "any"}}},
            {"v": [["a", 1]]},
            {"v": ["a", 1]},
        ),
    ],
)
def test_any_type_is_a_documented_disagreement(
    properties: dict[str, Any], answer: dict[str, Any], arguments: dict[str, Any]
) -> None:
    outcome = _directed_outcome(properties, [answer], [arguments])
    assert (outcome.theirs, outcome.ours.valid) == (False, True)
    assert classify(outcome) == "any_type"


def test_judge_calls_agrees_with_its_parts_on_every_candidate(outcomes: list[Outcome]) -> None:
    for outcome in outcomes[::7]:
        judgement = judge_calls(outcome.calls, outcome.reference, outcome.tools)
        assert judgement.match == outcome.ours
        assert judgement.overlap == argument_overlap(
            outcome.calls, outcome.reference, outcome.tools
        )


def test_a_valid_call_list_has_full_argument_precision(outcomes: list[Outcome]) -> None:
    imperfect = [
        outcome.candidate.item.item_id
        for outcome in outcomes
        if outcome.ours.valid
        and argument_overlap(outcome.calls, outcome.reference, outcome.tools).precision != 1.0
    ]
    assert imperfect == []


def test_batch_scorer_equals_score_item_on_every_candidate(outcomes: list[Outcome]) -> None:
    # A BFCL item's candidates share its possible answer and functions objects, so the batch
    # path reuses their normalisation; every field of every verdict must still be the same.
    candidates = [outcome.candidate for outcome in outcomes[::3]]
    items = [
        {
            "id": c.item.item_id,
            "category": c.category,
            "prediction": c.prediction,
            "reference": c.item.possible_answer,
            "tools": c.item.functions,
        }
        for c in candidates
    ]
    one_by_one = [
        score_item(
            c.prediction,
            c.item.possible_answer,
            c.item.functions,
            item_id=c.item.item_id,
            category=c.category,
        )
        for c in candidates
    ]
    assert score_items(items) == one_by_one
