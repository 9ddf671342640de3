"""``toolgrade score`` through typer's CliRunner and as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from service.cli import app
from service.core.metrics import score_item, summarise
from tests.shared import REPO_ROOT

GET_USER = {
    "type": "function",
    "function": {
        "name": "get_user",
        "parameters": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
            "required": ["name", "age"],
        },
    },
}
XLAM_TOOLS = json.dumps(
    [{"name": "add", "parameters": {"a": {"type": "int"}, "b": {"type": "int, optional"}}}]
)
ANN = [{"name": "get_user", "arguments": {"name": "Ann", "age": 30}}]


def call_text(tool: str, /, **arguments: Any) -> str:
    return "<tool_call>" + json.dumps({"name": tool, "arguments": arguments}) + "</tool_call>"


VALID_ITEMS = [
    {
        "id": "right",
        "prediction": call_text("get_user", name="Ann", age=30),
        "reference": ANN,
        "tools": [GET_USER],
        "category": "simple",
    },
    {
        "id": "string-age",
        "prediction": call_text("get_user", name="Ann", age="30"),
        "reference": ANN,
        "tools": [GET_USER],
        "category": "simple",
    },
    {
        "id": 3,
        "prediction": call_text("add", a=1),
        "reference": json.dumps([{"name": "add", "arguments": {"a": 1}}]),
        "tools": XLAM_TOOLS,
        "category": "xlam",
    },
    {
        "id": "abstain",
        "prediction": "There is no tool for the weather.",
        "reference": [],
        "tools": [GET_USER],
        "category": "irrelevance",
    },
]


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def mixed_input(tmp_path: Path) -> Path:
    item = VALID_ITEMS
    lines = [
        json.dumps(item[0]),  # line 1
        '{"id": "broken", "prediction": ',  # line 2: bad JSON
        json.dumps(item[1]),  # line 3
        json.dumps({"id": "no-ref", "prediction": "x", "tools": []}),  # line 4: missing field
        json.dumps({**item[0], "id": "bad-ref", "reference": 42}),  # line 5: invalid reference
        "[1, 2]",  # line 6: not an object
        "",  # line 7: blank, ignored
        json.dumps(item[2]),  # line 8
        json.dumps({**item[0], "id": "bad-tools", "tools": [{"no": "name"}]}),  # line 9
        json.dumps(item[3]),  # line 10
    ]
    return write_lines(tmp_path / "items.jsonl", lines)


def test_scores_valid_lines_and_reports_malformed_ones(mixed_input: Path, tmp_path: Path) -> None:
    output, report = tmp_path / "results.jsonl", tmp_path / "report.json"

    result = CliRunner().invoke(
        app,
        ["score", "--input", str(mixed_input), "--output", str(output), "--report", str(report)],
    )

    assert result.exit_code == 0, result.output
    results = [json.loads(line) for line in output.read_text().splitlines()]
    assert [(r["line"], r["id"]) for r in results] == [
        (1, "right"),
        (3, "string-age"),
        (8, 3),
        (10, "abstain"),
    ]
    assert [r["valid"] for r in results] == [True, False, True, True]
    assert [r["error_type"] for r in results] == [None, "exec:type_mismatch", None, None]
    assert results[1]["argument_f1"] == pytest.approx(0.5)  # name right, age "30" wrong
    assert results[1]["calls"] == [{"name": "get_user", "arguments": {"name": "Ann", "age": "30"}}]

    skipped = {line.split(":")[0] for line in result.stderr.splitlines() if "skipped" in line}
    assert skipped == {"line 2", "line 4", "line 5", "line 6", "line 9"}
    assert "line 2: skipped: invalid JSON" in result.stderr
    assert "line 4: skipped: missing field reference" in result.stderr
    assert "line 5: skipped: reference:" in result.stderr
    assert "line 6: skipped: expected a JSON object, got array" in result.stderr
    assert "line 9: skipped: schema:" in result.stderr

    summary = json.loads(report.read_text())
    assert summary["count"] == 4
    assert summary["metrics"]["ast_accuracy"] == pytest.approx(3 / 4)
    assert summary["metrics"]["exec_rate"] == pytest.approx(3 / 4)
    assert summary["metrics"]["argument_f1"] == pytest.approx((1 + 0.5 + 1 + 1) / 4)
    assert summary["metrics"]["irrelevance_accuracy"] == 1.0
    assert summary["by_category"]["simple"]["count"] == 2
    # The report is exactly what the core produces for the same items.
    direct = summarise(
        [
            score_item(
                i["prediction"], i["reference"], i["tools"], item_id=i["id"], category=i["category"]
            )
            for i in VALID_ITEMS
        ]
    )
    assert summary == json.loads(json.dumps(direct.to_dict()))

    assert "4 items scored, 5 lines skipped" in result.stdout
    assert "ast_accuracy" in result.stdout and "0.7500" in result.stdout
    assert "exec:type_mismatch" in result.stdout  # the error-type table


def test_relevance_lines_are_scored_and_a_bad_any_call_reference_is_skipped(
    tmp_path: Path,
) -> None:
    lines = [
        {"id": "calls", "prediction": call_text("get_user", name="Bo", age=1), "category": "rel"},
        {"id": "prose", "prediction": "Who?", "category": "rel"},
        {"id": "bad", "prediction": "Who?", "reference": {"any_call": "yes"}},
    ]
    path = tmp_path / "relevance.jsonl"
    path.write_text(
        "".join(
            json.dumps({"reference": {"any_call": True}, "tools": [GET_USER], **line}) + "\n"
            for line in lines
        )
    )
    report = tmp_path / "report.json"
    result = CliRunner().invoke(app, ["score", "--input", str(path), "--report", str(report)])
    assert result.exit_code == 0, result.output
    summary = json.loads(report.read_text())
    assert (summary["count"], summary["metrics"]["relevance_accuracy"]) == (2, 0.5)
    assert "line 3: skipped: reference:invalid_any_call" in result.stderr


def test_no_valid_line_exits_non_zero(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "bad.jsonl", ["not json", json.dumps({"prediction": "x"})])
    report = tmp_path / "report.json"

    result = CliRunner().invoke(app, ["score", "--input", str(path), "--report", str(report)])

    assert result.exit_code == 1
    assert "line 1: skipped: invalid JSON" in result.stderr
    assert "line 2: skipped: missing fields reference, tools" in result.stderr
    assert "no valid items" in result.stderr
    assert not report.exists()


def test_empty_and_missing_inputs(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")

    assert CliRunner().invoke(app, ["score", "--input", str(empty)]).exit_code == 1
    missing = CliRunner().invoke(app, ["score", "--input", str(tmp_path / "nope.jsonl")])
    assert missing.exit_code == 2
    assert "does not exist" in missing.stderr


def test_reads_stdin_and_checks_field_types(tmp_path: Path) -> None:
    lines = [
        json.dumps(VALID_ITEMS[0]),
        json.dumps({**VALID_ITEMS[0], "category": 5}),
        json.dumps({**VALID_ITEMS[0], "id": {"nested": 1}}),
    ]
    output = tmp_path / "out.jsonl"

    result = CliRunner().invoke(
        app, ["score", "--input", "-", "--output", str(output)], input="\n".join(lines)
    )

    assert result.exit_code == 0
    assert [json.loads(line)["id"] for line in output.read_text().splitlines()] == ["right"]
    assert "line 2: skipped: category must be a string, got number" in result.stderr
    assert "line 3: skipped: id must be a string or an integer, got object" in result.stderr


def run_cli(*arguments: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "service", "score", *arguments],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def test_subprocess_run_writes_report_and_results(mixed_input: Path, tmp_path: Path) -> None:
    output, report = tmp_path / "new" / "results.jsonl", tmp_path / "new" / "report.json"

    completed = run_cli("--input", str(mixed_input), "-o", str(output), "-r", str(report))

    assert completed.returncode == 0, completed.stderr
    assert len(output.read_text().splitlines()) == 4
    summary = json.loads(report.read_text())
    assert summary["metrics"]["parse_rate"] == 1.0
    assert summary["ci"]["parse_rate"] == [1.0, 1.0]
    assert "line 9: skipped" in completed.stderr
    assert "ToolGrade" in completed.stdout


def test_progress_bar_appears_on_large_inputs_only(tmp_path: Path) -> None:
    large = write_lines(tmp_path / "large.jsonl", [json.dumps(VALID_ITEMS[1])] * 1_200)
    small = write_lines(tmp_path / "small.jsonl", [json.dumps(VALID_ITEMS[1])] * 5)
    terminal = {"TTY_COMPATIBLE": "1", "TTY_INTERACTIVE": "1"}

    large_run = run_cli("--input", str(large), "--bootstrap-samples", "0", env=terminal)
    small_run = run_cli("--input", str(small), "--bootstrap-samples", "0", env=terminal)

    assert large_run.returncode == 0 and small_run.returncode == 0
    assert "scoring" in large_run.stderr
    assert "scoring" not in small_run.stderr
    assert "1200 items scored" in large_run.stdout


def test_integers_past_64_bits_are_read_and_written(tmp_path: Path) -> None:
    """orjson refuses them; the standard library takes over, in and out."""
    huge = 2**70
    item = {
        "id": huge,
        "prediction": call_text("add", a=huge),
        "reference": [{"name": "add", "arguments": {"a": huge}}],
        "tools": XLAM_TOOLS,
    }
    source = write_lines(tmp_path / "huge.jsonl", [json.dumps(item)])
    output = tmp_path / "results.jsonl"

    result = CliRunner().invoke(app, ["score", "-i", str(source), "-o", str(output)])

    assert result.exit_code == 0, result.output
    (line,) = output.read_text().splitlines()
    written = json.loads(line)
    assert written["id"] == huge and written["valid"] is True


def test_items_with_the_same_tools_text_share_one_normalisation() -> None:
    from service.commands.score import SHARED_TOOLS_LIMIT, _SharedTools

    shared = _SharedTools()
    first = shared.normalised([GET_USER])
    assert shared.normalised(json.loads(json.dumps([GET_USER]))) is first
    assert shared.normalised(XLAM_TOOLS) is not first
    for index in range(SHARED_TOOLS_LIMIT + 1):  # bounded: the oldest text is dropped
        shared.normalised([{"name": f"tool_{index}", "parameters": {}}])
    assert shared.normalised([GET_USER]) is not first
    assert shared.normalised([GET_USER]) == first


def test_worker_processes_give_the_same_results_in_the_same_order(
    mixed_input: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from service.commands import score as score_module

    # Many small segments (a few lines each), so several are in flight and out-of-order
    # completion would show.
    monkeypatch.setattr(score_module, "SEGMENT_BYTES", 300)
    lines = mixed_input.read_text().splitlines() * 7
    source = write_lines(tmp_path / "many.jsonl", lines)
    outcomes = {}
    for workers in ("1", "3"):
        output, report = tmp_path / f"r{workers}.jsonl", tmp_path / f"s{workers}.json"
        result = CliRunner().invoke(
            app,
            ["score", "-i", str(source), "-o", str(output), "-r", str(report),
             "--workers", workers, "--bootstrap-samples", "50"],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        outcomes[workers] = (output.read_bytes(), report.read_text(), result.stderr)

    assert outcomes["3"] == outcomes["1"]
    numbers = [json.loads(line)["line"] for line in outcomes["3"][0].splitlines()]
    assert numbers == sorted(numbers) and len(numbers) == 4 * 7
    skipped = [line for line in outcomes["3"][2].splitlines() if "skipped" in line]
    assert len(skipped) == 5 * 7 and skipped[0].startswith("line 2:")


def test_workers_default_to_the_usable_cpus_only_for_large_inputs() -> None:
    from service.commands.score import PARALLEL_MIN_LINES, _worker_count

    assert _worker_count(0, PARALLEL_MIN_LINES - 1) == 1
    assert _worker_count(0, PARALLEL_MIN_LINES) == len(os.sched_getaffinity(0))
    assert _worker_count(3, 10) == 3


@pytest.mark.parametrize("segment_bytes", [1, 50, 300, 1 << 20])
@pytest.mark.parametrize("trailing_newline", [True, False])
def test_lines_keep_their_numbers_however_the_input_is_cut(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, segment_bytes: int, trailing_newline: bool
) -> None:
    """Results and skipped lines carry their line numbers in the file, from a file or stdin,
    whatever the segment size (a segment may end inside or right after a blank line)."""
    from service.commands import score as score_module

    monkeypatch.setattr(score_module, "SEGMENT_BYTES", segment_bytes)
    lines = ["", json.dumps(VALID_ITEMS[0]), "not json", "", "", json.dumps(VALID_ITEMS[2])] * 4
    text = "\n".join(lines) + ("\n" if trailing_newline else "")
    source = tmp_path / "items.jsonl"
    source.write_text(text, encoding="utf-8")
    expected_scored = [n for n, line in enumerate(lines, 1) if line.startswith("{")]
    expected_skipped = [n for n, line in enumerate(lines, 1) if line == "not json"]
    for arguments, given in ((["-i", str(source)], None), (["-i", "-"], text)):
        output = tmp_path / "results.jsonl"
        result = CliRunner().invoke(app, ["score", *arguments, "-o", str(output)], input=given)
        assert result.exit_code == 0, result.output
        scored = [json.loads(line)["line"] for line in output.read_text().splitlines()]
        skipped = [int(line.split(":")[0].removeprefix("line ")) for line in
                   result.stderr.splitlines() if "skipped" in line]  # fmt: skip
        assert scored == expected_scored
        assert skipped == expected_skipped


def test_result_lines_are_the_scores_as_dicts() -> None:
    """Result lines are written straight from the score objects: each must read back as
    ``{"line", **score.to_dict()}``, also where orjson cannot write the score itself."""
    from types import MappingProxyType

    from service.commands.score import _result_line
    from service.core.types import ToolCall

    scores = [
        score_item(item["prediction"], item["reference"], item["tools"], item_id=item["id"],
                   category=item["category"])
        for item in VALID_ITEMS
    ]  # fmt: skip
    odd = score_item("x", [], [], item_id=2**70)  # past 64 bits: orjson refuses the id
    add = score_item(call_text("add", a=1), json.loads(VALID_ITEMS[2]["reference"]), XLAM_TOOLS)
    proxied_call = ToolCall("add", MappingProxyType({"a": 1}))  # not a dict: orjson refuses it
    proxied = type(add)(**{**add.to_dict(), "calls": (proxied_call,)})
    for number, score in enumerate([*scores, odd, proxied], start=1):
        line = _result_line(number, score)
        assert line.endswith(b"\n") and line.count(b"\n") == 1
        assert json.loads(line) == {"line": number, **json.loads(json.dumps(score.to_dict()))}


@pytest.mark.parametrize("segment_bytes", [1, 50, 1 << 20])
def test_each_segment_reports_its_own_last_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, segment_bytes: int
) -> None:
    """The progress bar advances to each segment's last line and ends on the input's last."""
    from service.commands import score as score_module

    monkeypatch.setattr(score_module, "SEGMENT_BYTES", segment_bytes)
    source_path = write_lines(tmp_path / "items.jsonl", [json.dumps(VALID_ITEMS[0]), ""] * 3)
    source = score_module._read_source(source_path)
    options = score_module._WorkerOptions("exact", with_results=False)

    parts = list(score_module._score_segments(source, options))

    assert [part.last_line for part in parts] == [
        segment.first_line - 1 for segment in source.segments[1:]
    ] + [source.total_lines]
    assert source.total_lines == 6
