"""Loading xLAM rows, BFCL question/answer pairs and prepared splits into evaluation items."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from clients.evaluation.datasets import (
    DatasetError,
    DatasetFormat,
    detect_format,
    load_dataset,
)
from service.core.metrics import score_item

WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Weather for a city.",
    "parameters": {"city": {"type": "str", "description": "City name."}},
}


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_xlam_rows_with_json_string_fields_become_items(tmp_path: Path) -> None:
    answers = [{"name": "get_weather", "arguments": {"city": "Oslo"}}]
    path = tmp_path / "xlam.json"
    path.write_text(
        json.dumps(
            [
                {
                    "id": 7,
                    "query": "Weather in Oslo?",
                    "tools": json.dumps([WEATHER_TOOL]),
                    "answers": json.dumps(answers),
                },
                {"id": 8, "query": "Hi!", "tools": [WEATHER_TOOL], "answers": "[]"},
                {
                    "id": 9,
                    "query": "Oslo and Rome",
                    "tools": [WEATHER_TOOL],
                    "answers": answers * 2,
                },
            ]
        ),
        encoding="utf-8",
    )
    assert detect_format(path) is DatasetFormat.XLAM
    first, second, third = load_dataset(path)
    assert first.id == "7"
    assert first.messages == ({"role": "user", "content": "Weather in Oslo?"},)
    assert first.tools == (WEATHER_TOOL,)
    assert first.reference == answers
    assert (first.category, second.category, third.category) == ("simple", "no_call", "parallel")
    assert second.reference == []


def test_bfcl_questions_join_their_possible_answers_from_the_bfcl_layout(tmp_path: Path) -> None:
    function = {"name": "math.factorial", "parameters": {"type": "dict", "properties": {}}}
    question_rows = [
        {
            "id": "simple_python_0",
            "question": [[{"role": "user", "content": "5!"}]],
            "function": [function],
        },
        {
            "id": "live_simple_3-2-1",
            "question": [[{"role": "user", "content": "6!"}]],
            "function": [function],
        },
    ]
    answer_rows = [
        {"id": "live_simple_3-2-1", "ground_truth": [{"math.factorial": {"number": [6]}}]},
        {"id": "simple_python_0", "ground_truth": [{"math.factorial": {"number": [5]}}]},
    ]
    questions = write_jsonl(tmp_path / "BFCL_v4_x.json", question_rows)
    write_jsonl(tmp_path / "possible_answer" / "BFCL_v4_x.json", answer_rows)
    assert detect_format(questions) is DatasetFormat.BFCL
    simple, live = load_dataset(questions)
    assert (simple.category, live.category) == ("simple_python", "live_simple")
    assert simple.reference == [{"math.factorial": {"number": [5]}}]
    assert live.reference == [{"math.factorial": {"number": [6]}}]
    assert simple.messages == ({"role": "user", "content": "5!"},)
    assert simple.tools == (function,)


def test_bfcl_answers_can_be_named_explicitly(tmp_path: Path) -> None:
    questions = write_jsonl(
        tmp_path / "q.jsonl",
        [{"id": "multiple_4", "question": [[{"role": "user", "content": "x"}]], "function": []}],
    )
    answers = write_jsonl(
        tmp_path / "elsewhere.jsonl", [{"id": "multiple_4", "ground_truth": [{"f": {}}]}]
    )
    (item,) = load_dataset(questions, answers=answers)
    assert (item.category, item.reference) == ("multiple", [{"f": {}}])


def test_bfcl_irrelevance_needs_no_answer_file_and_expects_no_call(tmp_path: Path) -> None:
    questions = write_jsonl(
        tmp_path / "BFCL_v4_irrelevance.json",
        [
            {
                "id": "irrelevance_3",
                "question": [[{"role": "user", "content": "hi"}]],
                "function": [WEATHER_TOOL],
            }
        ],
    )
    (item,) = load_dataset(questions)
    assert (item.category, item.reference) == ("irrelevance", [])


def test_bfcl_row_without_an_answer_is_an_error_not_a_silent_no_call(tmp_path: Path) -> None:
    questions = write_jsonl(
        tmp_path / "q.json",
        [
            {
                "id": "simple_python_1",
                "question": [[{"role": "user", "content": "x"}]],
                "function": [],
            }
        ],
    )
    with pytest.raises(DatasetError) as caught:
        load_dataset(questions)
    assert caught.value.label == "dataset:missing_answer"


def test_bfcl_multi_turn_rows_are_refused(tmp_path: Path) -> None:
    turn = [{"role": "user", "content": "x"}]
    questions = write_jsonl(
        tmp_path / "q.json",
        [{"id": "irrelevance_1", "question": [turn, turn], "function": []}],
    )
    with pytest.raises(DatasetError) as caught:
        load_dataset(questions)
    assert caught.value.label == "dataset:multi_turn_unsupported"


def test_prepared_split_takes_the_last_assistant_turn_as_reference(tmp_path: Path) -> None:
    call = {
        "type": "function",
        "function": {"name": "get_weather", "arguments": json.dumps({"city": "Oslo"})},
    }
    rows = [
        {
            "messages": [
                {"role": "system", "content": "You call tools."},
                {"role": "user", "content": "Weather in Oslo?"},
                {"role": "assistant", "tool_calls": [call]},
            ],
            "tools": json.dumps([WEATHER_TOOL]),
        },
        {
            "messages": [
                {"role": "user", "content": "Tell me a joke"},
                {"role": "assistant", "content": "No tool for that."},
            ],
            "tools": [WEATHER_TOOL],
        },
    ]
    write_jsonl(tmp_path / "prepared" / "trl" / "eval.jsonl", rows)
    assert detect_format(tmp_path / "prepared") is DatasetFormat.PREPARED
    with_call, without = load_dataset(tmp_path / "prepared")
    assert with_call.messages == tuple(rows[0]["messages"][:2])
    assert with_call.reference == [{"name": "get_weather", "arguments": {"city": "Oslo"}}]
    assert with_call.tools == (WEATHER_TOOL,)
    assert (with_call.category, without.category) == ("simple", "no_call")
    assert without.reference == []
    assert (with_call.id, without.id) == ("0", "1")


def test_limit_and_category_filters(tmp_path: Path) -> None:
    rows = [
        {
            "id": i,
            "query": f"q{i}",
            "tools": [WEATHER_TOOL],
            "answers": [] if i % 2 else [{"name": "get_weather", "arguments": {"city": "x"}}],
        }
        for i in range(6)
    ]
    path = write_jsonl(tmp_path / "x.jsonl", rows)
    assert [item.id for item in load_dataset(path, limit=4)] == ["0", "1", "2", "3"]
    only = load_dataset(path, categories=["no_call"], limit=2)
    assert [item.id for item in only] == ["1", "3"]


@pytest.mark.parametrize(
    ("content", "label"),
    [
        ('{"id": 1, "query": "x", "answers": []}\n{"id": 2,\n', "dataset:invalid_json"),
        (
            '{"id": 1, "query": "x", "answers": []}\n{"id": 1, "query": "y", "answers": []}\n',
            "dataset:duplicate_id",
        ),
        ('{"prompt": "x"}\n', "dataset:unknown_format"),
        ("\n", "dataset:empty"),
        ("[1, 2]", "dataset:not_object"),
        ('{"id": 1, "query": "", "answers": []}\n', "dataset:missing_query"),
    ],
)
def test_malformed_files_raise_labelled_errors(tmp_path: Path, content: str, label: str) -> None:
    path = tmp_path / "data.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DatasetError) as caught:
        load_dataset(path)
    assert caught.value.label == label


def test_invalid_json_line_names_its_line_number(tmp_path: Path) -> None:
    path = tmp_path / "data.jsonl"
    path.write_text('{"id": 1, "query": "x", "answers": []}\n\n{oops\n', encoding="utf-8")
    with pytest.raises(DatasetError, match=r"data.jsonl:3: invalid JSON line"):
        load_dataset(path)


def test_missing_file_and_directory_without_split(tmp_path: Path) -> None:
    with pytest.raises(DatasetError) as missing:
        load_dataset(tmp_path / "nope.jsonl")
    assert missing.value.label == "dataset:not_found"
    with pytest.raises(DatasetError) as no_split:
        load_dataset(tmp_path)
    assert no_split.value.label == "dataset:no_split"


def test_rows_written_by_toolgrade_prepare_load_with_their_references(tmp_path: Path) -> None:
    """The real TRL rows of ``prepare`` (training/prepare.py), from the committed xLAM sample."""
    from tests.shared import REPO_ROOT
    from training.prepare import XlamRow, trl_record, validate_row

    sample = REPO_ROOT / "training" / "fixtures" / "xlam_sample.jsonl"
    raw_rows = [json.loads(line) for line in sample.read_text(encoding="utf-8").splitlines()]
    validated = [(raw, validate_row(raw, index)) for index, raw in enumerate(raw_rows)]
    kept = [(raw, row) for raw, row in validated if isinstance(row, XlamRow)]
    first_of_id = {pair[1].id: pair for pair in reversed(kept)}  # prepare drops repeats
    kept = [pair for pair in kept if first_of_id[pair[1].id] is pair]
    assert len(kept) >= 10  # the sample also holds rows prepare rejects on purpose
    records = [trl_record(row, "Use the tools.", "Cannot help.") for _, row in kept]
    write_jsonl(tmp_path / "prepared" / "trl" / "eval.jsonl", records)

    items = load_dataset(tmp_path / "prepared")
    assert len(items) == len(kept)
    for item, (raw, row), record in zip(items, kept, records, strict=True):
        assert item.id == str(raw["id"])
        assert item.category == record["category"]
        assert item.messages[0] == {"role": "system", "content": "Use the tools."}
        assert item.messages[-1] == {"role": "user", "content": raw["query"]}
        assert item.reference == list(row.answers)


def test_a_bfcl_id_selection_loads_its_items_from_the_category_files(tmp_path: Path) -> None:
    """BFCL's format_sensitivity file selects ids from the category files beside it."""
    function = {"name": "f", "parameters": {"type": "dict", "properties": {}}}
    rows = [
        {
            "id": f"simple_python_{n}",
            "question": [[{"role": "user", "content": str(n)}]],
            "function": [function],
        }
        for n in range(3)
    ]
    write_jsonl(tmp_path / "BFCL_v4_simple_python.json", rows)
    write_jsonl(
        tmp_path / "possible_answer" / "BFCL_v4_simple_python.json",
        [{"id": row["id"], "ground_truth": [{"f": {}}]} for row in rows],
    )
    selection = tmp_path / "BFCL_v4_format_sensitivity.json"
    selection.write_text(
        json.dumps({"simple_python": ["simple_python_2", "simple_python_0"]}, indent=4)
    )
    items = load_dataset(selection)
    assert [(item.id, item.category, item.reference) for item in items] == [
        ("simple_python_0", "simple_python", [{"f": {}}]),
        ("simple_python_2", "simple_python", [{"f": {}}]),
    ]
    selection.write_text(json.dumps({"simple_python": ["simple_python_9"]}))
    with pytest.raises(DatasetError) as raised:
        load_dataset(selection)
    assert raised.value.label == "dataset:missing_item"


def test_bfcls_own_format_sensitivity_file_loads() -> None:
    bfcl = pytest.importorskip("bfcl_eval")
    data = Path(bfcl.__file__).parent / "data"
    items = load_dataset(data / "BFCL_v4_format_sensitivity.json")
    selection = json.loads((data / "BFCL_v4_format_sensitivity.json").read_text())
    assert len(items) == sum(len(ids) for ids in selection.values())
    assert all(item.reference for item in items)


def test_bfcl_relevance_items_expect_any_call_to_an_offered_tool(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "BFCL_v4_live_relevance.json",
        [
            {
                "id": "live_relevance_0-0-0",
                "question": [[{"role": "user", "content": "weather in Oslo"}]],
                "function": [WEATHER_TOOL],
            }
        ],
    )
    (item,) = load_dataset(path)
    assert (item.category, item.reference) == ("live_relevance", {"any_call": True})
    call = '{"name": "get_weather", "arguments": {"city": "anywhere"}}'
    scored = score_item(call, item.reference, list(item.tools))
    assert (scored.valid, scored.expects_any_call) == (True, True)
    assert not score_item("Oslo is nice.", item.reference, list(item.tools)).valid


def test_bfcls_own_live_relevance_file_loads() -> None:
    bfcl = pytest.importorskip("bfcl_eval")
    items = load_dataset(Path(bfcl.__file__).parent / "data" / "BFCL_v4_live_relevance.json")
    assert items and {item.category for item in items} == {"live_relevance"}
    assert all(item.reference == {"any_call": True} and item.tools for item in items)
