"""The report folder: files, numbers and charts written from scored outcomes (no endpoint)."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import httpx
import pytest

from clients.evaluation.datasets import EvalItem
from clients.evaluation.report import REQUEST_FAILED, RunInfo, write_run
from clients.evaluation.runner import ItemOutcome, score_outcomes
from service.core.metrics import summarise

TOOL = {
    "name": "get_weather",
    "parameters": {"city": {"type": "str"}, "days": {"type": "int, optional"}},
}
OSLO = [{"name": "get_weather", "arguments": {"city": "Oslo"}}]


def outcome(
    item_id: str,
    content: str | None,
    *,
    reference: list[dict[str, object]] | None = None,
    category: str = "simple",
    error: str | None = None,
    attempts: int = 1,
    latency_s: float = 0.5,
) -> ItemOutcome:
    return ItemOutcome(
        item=EvalItem(
            id=item_id,
            category=category,
            messages=({"role": "user", "content": f"question {item_id}"},),
            tools=(TOOL,),
            reference=OSLO if reference is None else reference,
        ),
        prediction=None if error else {"role": "assistant", "content": content},
        finish_reason=None if error else "stop",
        attempts=attempts,
        latency_s=latency_s,
        request_error=error,
        usage={} if error else {"prompt_tokens": 20, "completion_tokens": 7},
    )


def call(city: str) -> str:
    return f'<tool_call>{{"name": "get_weather", "arguments": {{"city": "{city}"}}}}</tool_call>'


OUTCOMES = [
    outcome("a", call("Oslo"), latency_s=0.1),
    outcome("b", call("Rome"), latency_s=0.2, attempts=2),
    outcome("c", "I cannot tell.", latency_s=0.3),
    outcome("d", "No tool needed.", reference=[], category="no_call", latency_s=0.4),
    outcome("e", None, error="http_503: overloaded", attempts=4, latency_s=2.0),
]
INFO = RunInfo(
    dataset="data/sample.jsonl",
    dataset_format="xlam",
    endpoint="http://127.0.0.1:9/v1",
    model="tiny",
    started_at="2026-01-01T00:00:00+00:00",
    duration_s=4.0,
    concurrency=2,
    retries=3,
    generation={"temperature": 0.0, "max_tokens": 64, "tool_choice": "auto", "extra_body": None},
)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    scored, report = score_outcomes(OUTCOMES, bootstrap_samples=200)
    out = tmp_path_factory.mktemp("report")
    write_run(out, INFO, scored, report)
    return out


def test_report_json_summarises_the_run(run_dir: Path) -> None:
    summary = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    assert summary["count"] == 5
    assert summary["request_errors"] == 1
    assert summary["retried_items"] == 2
    # nearest-rank percentiles of 0.1, 0.2, 0.3, 0.4, 2.0
    assert summary["latency_s"] == {"mean": 0.6, "p50": 0.3, "p95": 2.0, "max": 2.0}
    assert summary["usage"] == {"prompt_tokens": 80, "completion_tokens": 28}
    assert summary["finish_reasons"] == {"stop": 4, "none": 1}
    assert summary["category_counts"] == {"no_call": 1, "simple": 4}
    # b: wrong value; c: plain answer where a call was expected; e: the request failed
    assert summary["error_types"]["parse:no_call_found"] == 1
    assert summary["error_types"][REQUEST_FAILED] == 1
    assert sum(summary["error_types"].values()) == 3
    metrics = summary["summary"]["metrics"]
    assert metrics["ast_accuracy"] == pytest.approx(2 / 5)  # a and d
    assert metrics["parse_rate"] == pytest.approx(3 / 5)  # a, b, d
    assert metrics["irrelevance_accuracy"] == 1.0
    assert summary["run"]["model"] == "tiny"


def test_summary_block_is_the_core_report(run_dir: Path) -> None:
    scored, _ = score_outcomes(OUTCOMES, bootstrap_samples=0)
    expected = summarise([entry.score for entry in scored], bootstrap_samples=200).to_dict()
    summary = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))["summary"]
    assert summary == json.loads(json.dumps(expected))


def test_results_keep_every_item_with_its_score(run_dir: Path) -> None:
    lines = (run_dir / "results.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["id"] for r in records] == ["a", "b", "c", "d", "e"]
    failed = records[4]
    assert failed["request_error"] == "http_503: overloaded"
    assert failed["prediction"] is None
    assert failed["attempts"] == 4
    assert records[0]["score"]["valid"] is True
    assert records[0]["score"]["calls"] == [{"name": "get_weather", "arguments": {"city": "Oslo"}}]
    assert records[1]["reference"] == OSLO
    assert records[1]["tools"] == [TOOL]


def test_markdown_and_html_show_the_same_numbers(run_dir: Path) -> None:
    markdown = (run_dir / "report.md").read_text(encoding="utf-8")
    assert "| ast_accuracy | 0.400 |" in markdown
    assert "| irrelevance_accuracy | 1.000 |" in markdown
    assert "| `request:failed` | 1 | 20.0% |" in markdown
    assert "| no_call | 1 |" in markdown
    assert "`http_503: overloaded`" in markdown  # the failure is shown, not hidden
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    assert "<td>ast_accuracy</td><td class=num>0.400</td>" in html
    assert html.count('src="data:image/png;base64,') == 3


@pytest.mark.parametrize("chart", ["metrics.png", "categories.png", "errors.png"])
def test_charts_are_pngs_of_sensible_size(run_dir: Path, chart: str) -> None:
    data = (run_dir / chart).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert width >= 800 and height >= 280
    assert len(data) > 10_000


def test_a_run_without_errors_still_draws_every_chart(tmp_path: Path) -> None:
    scored, report = score_outcomes([outcome("a", call("Oslo"))], bootstrap_samples=0)
    paths = write_run(tmp_path, INFO, scored, report)
    assert paths["errors_png"].stat().st_size > 5_000
    assert "Every item was fully valid." in paths["report_md"].read_text(encoding="utf-8")


def test_summary_equals_the_live_score_endpoint(run_dir: Path, scoring_server: Any) -> None:
    """The same items POSTed to a real (scoring-only) service give the report's numbers."""
    records = [
        json.loads(line)
        for line in (run_dir / "results.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    items = [
        {key: record[key] for key in ("id", "prediction", "reference", "tools", "category")}
        for record in records
    ]
    response = httpx.post(
        f"{scoring_server.base_url}/score",
        json={"items": items, "include_items": True, "bootstrap_samples": 200},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    live = response.json()
    summary = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))["summary"]
    assert {key: live[key] for key in ("count", "metrics", "ci", "by_category")} == summary
    assert [item["error_type"] for item in live["items"]] == [
        record["score"]["error_type"] for record in records
    ]
