"""The reward audit: the catalogue, hack ceilings, and violations it must catch."""

from __future__ import annotations

from typing import Any

import pytest

from service.core.audit import MUTATIONS, audit_rewards

WEATHER = {
    "name": "get_weather",
    "parameters": {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        },
        "required": ["city"],
    },
}
TIME = {"name": "get_time", "parameters": {"type": "object", "properties": {}}}
TOOLS = [WEATHER, TIME]


def item(reference: Any, **extra: Any) -> dict[str, Any]:
    return {"reference": reference, "tools": TOOLS, **extra}


PARIS = [{"name": "get_weather", "arguments": {"city": "Paris"}}]
TWO_CALLS = [
    {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}},
    {"name": "get_weather", "arguments": {"city": "Rome", "unit": "celsius"}},
]
BFCL = [{"get_weather": {"city": ["Paris", "paris"], "unit": ["", "celsius"]}}]


def test_every_profile_obeys_the_axioms_on_varied_items() -> None:
    report = audit_rewards([item(PARIS), item(TWO_CALLS), item(BFCL), item([])])

    assert report.items == 4
    assert report.violation_total == 0
    by_profile = {audit.profile: audit for audit in report.profiles}
    assert set(by_profile) == {"weighted", "strict", "toolrl"}
    assert by_profile["strict"].hack_ceiling == 0.0
    weighted = {s.mutation: s for s in by_profile["weighted"].mutations}
    # The format-only answer earns the documented ceilings: 0.75 and 5/7.
    assert weighted["all_values_wrong"].max == pytest.approx(0.75)
    toolrl = {s.mutation: s for s in by_profile["toolrl"].mutations}
    assert toolrl["all_values_wrong"].max == pytest.approx(5 / 7)
    assert weighted["correct"].mean == weighted["correct_reordered"].mean == 1.0
    assert {s.mutation for s in by_profile["weighted"].mutations} <= set(MUTATIONS)
    assert weighted["no_call"].max == weighted["truncated_markup"].max == 0.0


def test_a_reference_its_tools_cannot_execute_is_reported() -> None:
    # The reference's unit breaks the enum: the right answer cannot execute, so weighted and
    # strict cannot pay it 1.0 — the audit names the item and the axiom.
    broken = [{"name": "get_weather", "arguments": {"city": "Paris", "unit": "kelvin"}}]

    report = audit_rewards([item(broken, id="kelvin")], profiles=["weighted", "strict"])

    for audit in report.profiles:
        assert audit.violation_counts.get(1, 0) >= 1
        example = audit.violations[0]
        assert (example.axiom, example.item, example.mutation) == (1, "kelvin", "correct")
        assert example.reward < 1.0


def test_malformed_items_are_skipped_with_their_label() -> None:
    report = audit_rewards([item(PARIS), {"tools": TOOLS}, item([{"a": 1, "b": 2}], id=7), 3])

    assert report.items == 1
    assert [(s["item"], s["label"]) for s in report.skipped] == [
        (1, "audit:missing_reference"),
        (7, "reference:invalid_call"),
        (3, "audit:invalid_item"),
    ]


def test_grpo_rows_and_xlam_rows_are_read() -> None:
    import json

    rows = [
        {"label": {"reference": PARIS, "tools": TOOLS}},
        {"label": json.dumps(PARIS), "tools": TOOLS},
        {"answers": json.dumps(PARIS), "tools": json.dumps(TOOLS)},
    ]
    report = audit_rewards(rows, profiles=["strict"])

    assert report.items == 3
    assert report.violation_total == 0


def test_custom_weights_check_only_the_weak_halves() -> None:
    calls = []
    report = audit_rewards(
        [item(TWO_CALLS)],
        profiles=["weighted"],
        weights={"json_parse": 1},
        on_item=lambda: calls.append(1),
    )

    # json_parse alone pays every well-formed completion 1.0: nothing is strictly lower, and
    # that is allowed away from the default weights.
    assert report.violation_total == 0
    assert report.profiles[0].hack_ceiling == 1.0
    assert calls == [1]
