"""The offline xLAM-format generator: deterministic, typed, varied, all four row shapes."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from service.core.shapes import call_shape
from training.prepare import XlamRow, validate_row
from training.synth import (
    DEFAULT_SHAPE_WEIGHTS,
    TOOL_LIBRARY,
    SynthOptions,
    generate_rows,
    write_jsonl,
)


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return generate_rows(SynthOptions(count=600, seed=3))


def test_same_seed_same_rows_other_seed_other_rows() -> None:
    first = generate_rows(SynthOptions(count=50, seed=11))
    assert first == generate_rows(SynthOptions(count=50, seed=11))
    assert first != generate_rows(SynthOptions(count=50, seed=12))


def test_rows_have_the_real_xlam_shape(rows: list[dict]) -> None:
    for row in rows:
        assert {"id", "query", "tools", "answers"} <= set(row)
        # As on the hub: tools and answers are JSON strings holding lists.
        assert isinstance(row["tools"], str) and isinstance(json.loads(row["tools"]), list)
        assert isinstance(row["answers"], str) and isinstance(json.loads(row["answers"]), list)
    assert [row["id"] for row in rows] == list(range(len(rows)))


def test_every_row_is_valid_for_its_own_tools(rows: list[dict]) -> None:
    # The generator's calls satisfy the schemas it declares: prepare keeps them all, unflagged.
    for index, row in enumerate(rows):
        kept = validate_row(row, index)
        assert isinstance(kept, XlamRow), kept
        assert kept.flags == ()


def test_all_shapes_in_roughly_the_configured_mix(rows: list[dict]) -> None:
    shapes = Counter(call_shape(json.loads(row["answers"])) for row in rows)
    assert set(shapes) == set(DEFAULT_SHAPE_WEIGHTS)
    for shape, weight in DEFAULT_SHAPE_WEIGHTS.items():
        assert abs(shapes[shape] / len(rows) - weight) < 0.06, (shape, shapes)


def test_parallel_rows_repeat_one_tool_with_different_arguments(rows: list[dict]) -> None:
    for row in rows:
        answers = json.loads(row["answers"])
        if call_shape(answers) == "parallel":
            assert 2 <= len(answers) <= 3
            arguments = [json.dumps(call["arguments"], sort_keys=True) for call in answers]
            assert len(set(arguments)) == len(arguments)


def test_no_call_rows_offer_no_tool_that_fits_and_carry_a_response(rows: list[dict]) -> None:
    no_call = [row for row in rows if json.loads(row["answers"]) == []]
    assert no_call
    for row in no_call:
        assert row["response"].strip()
        assert json.loads(row["tools"])  # tools are offered, just not the right one


def test_queries_mention_the_string_arguments_they_ask_for(rows: list[dict]) -> None:
    for row in rows:
        for call in json.loads(row["answers"]):
            for value in call["arguments"].values():
                if isinstance(value, str):
                    assert value in row["query"], (value, row["query"])


def test_phrasings_vary_and_types_use_xlam_syntax(rows: list[dict]) -> None:
    queries = [row["query"] for row in rows]
    assert len(set(queries)) > 0.85 * len(queries)
    types = {
        param["type"]
        for row in rows
        for tool in json.loads(row["tools"])
        for param in tool["parameters"].values()
    }
    assert {"str", "int", "float", "List[int]", "Tuple[float, float]", "int, optional"} <= types
    defaults = [
        param["default"]
        for tool in TOOL_LIBRARY
        for param in tool.schema()["parameters"].values()
        if "default" in param
    ]
    assert defaults and all(isinstance(default, str) for default in defaults)  # as in xLAM


def test_distractor_tools_are_offered(rows: list[dict]) -> None:
    offered_more = sum(
        len(json.loads(row["tools"])) > len({c["name"] for c in json.loads(row["answers"])})
        for row in rows
    )
    assert offered_more > len(rows) / 2


def test_write_jsonl_round_trips(tmp_path, rows: list[dict]) -> None:
    path = tmp_path / "nested" / "rows.jsonl"
    write_jsonl(rows[:5], path)
    assert [json.loads(line) for line in path.read_text().splitlines()] == rows[:5]


def test_unknown_shape_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown row shapes"):
        generate_rows(SynthOptions(count=1, shape_weights={"simple": 1, "chatty": 1}))
