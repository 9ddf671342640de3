"""``toolgrade eval`` end to end: the real CLI, the real service with the real vLLM engine on the
default model (the shared ``engine_server`` fixture), a small BFCL-format file and generated
xLAM rows. The report's numbers must equal what the live ``POST /score`` answers for the same
items, and the charts must be real pictures.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from matplotlib import image as mpimg

from tests.shared import REPO_ROOT

pytestmark = [pytest.mark.slow, pytest.mark.requires_vllm]

BFCL_SAMPLE = REPO_ROOT / "tests" / "clients" / "evaluation" / "data" / "BFCL_v4_sample.json"
BFCL_CATEGORIES = {
    "irrelevance": 3,
    "live_relevance": 1,
    "live_simple": 2,
    "multiple": 2,
    "parallel": 2,
    "parallel_multiple": 1,
    "simple_python": 4,
}
CHARTS = ("metrics.png", "categories.png", "errors.png")


def toolgrade(*args: str, timeout_s: float = 600) -> subprocess.CompletedProcess[str]:
    """The real command line, in a child process, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "service", *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        cwd=REPO_ROOT,
        check=False,
    )


def eval_run(server: Any, dataset: Path, out: Path, *extra: str) -> Path:
    result = toolgrade(
        "eval", "run", str(dataset),
        "--base-url", f"{server.base_url}/v1",
        "--out", str(out),
        "--concurrency", "4",
        "--max-tokens", "48",
        "--no-progress",
        *extra,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def read_results(run: Path) -> list[dict[str, Any]]:
    lines = (run / "results.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from the PNG header (IHDR is the first chunk)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.fixture(scope="module")
def bfcl_run(engine_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return eval_run(engine_server, BFCL_SAMPLE, tmp_path_factory.mktemp("eval") / "bfcl")


def test_run_writes_every_report_file(bfcl_run: Path, engine_server: Any) -> None:
    report = json.loads((bfcl_run / "report.json").read_text(encoding="utf-8"))
    served = httpx.get(f"{engine_server.base_url}/v1/models", timeout=30).json()["data"]
    assert report["run"]["model"] == served[0]["id"]
    assert report["run"]["dataset_format"] == "bfcl"
    assert report["count"] == 15
    assert report["request_errors"] == 0
    assert report["category_counts"] == BFCL_CATEGORIES
    results = read_results(bfcl_run)
    assert [r["id"] for r in results][:2] == ["simple_python_0", "simple_python_1"]
    assert all(r["prediction"]["role"] == "assistant" for r in results)
    assert all(r["usage"]["completion_tokens"] > 0 for r in results)
    assert sum(report["finish_reasons"].values()) == 15
    markdown = (bfcl_run / "report.md").read_text(encoding="utf-8")
    for name, value in report["summary"]["metrics"].items():
        shown = "—" if value is None else f"{value:.3f}"
        assert f"| {name} | {shown} |" in markdown
    html = (bfcl_run / "report.html").read_text(encoding="utf-8")
    assert html.count('src="data:image/png;base64,') == 3


@pytest.mark.parametrize("chart", CHARTS)
def test_charts_are_real_pictures(bfcl_run: Path, chart: str) -> None:
    path = bfcl_run / chart
    width, height = png_size(path)
    assert width >= 800 and height >= 280, (width, height)
    assert path.stat().st_size > 12_000
    pixels = mpimg.imread(path)
    colours = np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0)
    assert len(colours) > 50  # bars, text and anti-aliasing, not a blank canvas


def test_report_numbers_equal_the_live_score_endpoint(bfcl_run: Path, engine_server: Any) -> None:
    results = read_results(bfcl_run)
    items = [
        {
            "id": r["id"],
            "prediction": r["prediction"],
            "reference": r["reference"],
            "tools": r["tools"],
            "category": r["category"],
        }
        for r in results
    ]
    response = httpx.post(
        f"{engine_server.base_url}/score",
        json={"items": items, "include_items": True},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    live = response.json()
    summary = json.loads((bfcl_run / "report.json").read_text(encoding="utf-8"))["summary"]
    assert summary["count"] == live["count"] == 15
    assert summary["metrics"]["relevance_accuracy"] is not None
    assert summary["metrics"] == live["metrics"]
    assert summary["by_category"] == live["by_category"]
    assert summary["ci"] == live["ci"]
    verdicts = {item["id"]: (item["valid"], item["error_type"]) for item in live["items"]}
    assert verdicts == {r["id"]: (r["score"]["valid"], r["score"]["error_type"]) for r in results}


def test_xlam_rows_and_a_comparison_of_two_runs(engine_server: Any, tmp_path: Path) -> None:
    from training.synth import SynthOptions, iter_rows, write_jsonl

    dataset = tmp_path / "xlam.jsonl"
    write_jsonl(list(iter_rows(SynthOptions(count=12, seed=5))), dataset)
    auto = eval_run(engine_server, dataset, tmp_path / "auto")
    required = eval_run(engine_server, dataset, tmp_path / "required", "--tool-choice", "required")
    report_auto = json.loads((auto / "report.json").read_text(encoding="utf-8"))
    report_required = json.loads((required / "report.json").read_text(encoding="utf-8"))
    assert report_auto["run"]["dataset_format"] == "xlam"
    assert report_required["run"]["generation"]["tool_choice"] == "required"
    assert report_auto["count"] == report_required["count"] == 12

    result = toolgrade("eval", "compare", str(auto), str(required), "--out", str(tmp_path / "cmp"))
    assert result.returncode == 0, result.stdout + result.stderr
    comparison = json.loads((tmp_path / "cmp" / "compare.json").read_text(encoding="utf-8"))
    assert comparison["paired"] == 12
    metrics_auto = report_auto["summary"]["metrics"]
    metrics_required = report_required["summary"]["metrics"]
    for delta in comparison["metrics"]:
        name = delta["metric"]
        assert delta["a"] == pytest.approx(metrics_auto[name])
        assert delta["b"] == pytest.approx(metrics_required[name])
        assert delta["delta"] == pytest.approx(metrics_required[name] - metrics_auto[name])
        assert 0.0 < delta["p_value"] <= 1.0
    assert png_size(tmp_path / "cmp" / "compare.png")[0] >= 800
