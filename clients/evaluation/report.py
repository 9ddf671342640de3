"""Write an evaluation run to disk: ``results.jsonl``, ``report.json``, ``report.md``,
``report.html`` and three PNG charts (metrics with CIs, per-category heat map, error types).

``results.jsonl`` is the full record (one line per item: what was sent, what came back, the
core's score); ``report.json`` the machine-readable summary, whose ``summary`` block is exactly
what ``POST /score`` answers for the same items; the Markdown and HTML pages are for people.
"""

from __future__ import annotations

import base64
import html
import json
import math
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from clients.evaluation import charts
from clients.evaluation.layout import CHART_FILES, REPORT_HTML, REPORT_JSON, REPORT_MD, RESULTS_FILE
from clients.evaluation.runner import ScoredOutcome
from service.core.metric_table import markdown_rows, metric_rows
from service.core.metrics import ScoreReport

# Label used in the error histogram for items whose request failed after every retry: they are
# scored as empty predictions, but a reader must see that the endpoint, not the model, failed.
REQUEST_FAILED = "request:failed"
_EXAMPLES_SHOWN = 10


@dataclass(frozen=True, slots=True)
class RunInfo:
    """Where a run's items came from and how they were sent."""

    dataset: str
    dataset_format: str
    endpoint: str
    model: str
    started_at: str
    duration_s: float
    concurrency: int
    retries: int
    generation: Mapping[str, Any]


def write_run(
    out_dir: Path, info: RunInfo, scored: Sequence[ScoredOutcome], report: ScoreReport
) -> dict[str, Path]:
    """Write every artefact of a run into ``out_dir`` and return their paths by kind."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"results": out_dir / RESULTS_FILE, "report_json": out_dir / REPORT_JSON}
    with paths["results"].open("w", encoding="utf-8") as handle:
        for entry in scored:
            handle.write(json.dumps(result_record(entry), ensure_ascii=False) + "\n")

    summary = report_summary(info, scored, report)
    paths["report_json"].write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")

    title = f"{Path(info.dataset).name} · {info.model} · n={report.count}"
    metrics, ci = report.metrics, report.ci
    paths["metrics_png"] = charts.plot_metrics(
        metrics, ci, out_dir / CHART_FILES["metrics"], title=title
    )
    paths["categories_png"] = charts.plot_categories(
        report.by_category,
        out_dir / CHART_FILES["categories"],
        title=f"By category · {title}",
        counts=summary["category_counts"],
    )
    paths["errors_png"] = charts.plot_error_types(
        summary["error_types"], out_dir / CHART_FILES["errors"], title=f"Error types · {title}"
    )
    paths["report_md"] = out_dir / REPORT_MD
    paths["report_md"].write_text(render_markdown(summary, scored), encoding="utf-8")
    paths["report_html"] = out_dir / REPORT_HTML
    paths["report_html"].write_text(render_html(summary, scored, out_dir), encoding="utf-8")
    return paths


def result_record(entry: ScoredOutcome) -> dict[str, Any]:
    """One line of ``results.jsonl``: the item, the endpoint's answer and the core's score."""
    outcome, item = entry.outcome, entry.outcome.item
    return {
        "id": item.id,
        "category": item.category,
        "messages": list(item.messages),
        "tools": list(item.tools),
        "reference": item.reference,
        "prediction": outcome.prediction,
        "finish_reason": outcome.finish_reason,
        "attempts": outcome.attempts,
        "latency_s": round(outcome.latency_s, 4),
        "request_error": outcome.request_error,
        "usage": outcome.usage,
        "score": entry.score.to_dict(),
    }


def report_summary(
    info: RunInfo, scored: Sequence[ScoredOutcome], report: ScoreReport
) -> dict[str, Any]:
    """The content of ``report.json``."""
    latencies = sorted(entry.outcome.latency_s for entry in scored)
    failed = [entry for entry in scored if entry.outcome.request_error is not None]
    return {
        "run": asdict(info),
        "count": report.count,
        "request_errors": len(failed),
        "retried_items": sum(1 for entry in scored if entry.outcome.attempts > 1),
        "latency_s": _latency_summary(latencies),
        "usage": {
            key: sum(entry.outcome.usage.get(key, 0) for entry in scored)
            for key in ("prompt_tokens", "completion_tokens")
        },
        "finish_reasons": dict(
            Counter(entry.outcome.finish_reason or "none" for entry in scored).most_common()
        ),
        "category_counts": {
            category: int(values.get("count") or 0)
            for category, values in report.by_category.items()
        },
        "error_types": dict(
            Counter(label for entry in scored if (label := error_label(entry))).most_common()
        ),
        "summary": report.to_dict(),
        "charts": dict(CHART_FILES),
    }


def error_label(entry: ScoredOutcome) -> str | None:
    """The label shown for an item in the error histogram (``None`` when it is fully valid)."""
    if entry.outcome.request_error is not None:
        return REQUEST_FAILED
    return None if entry.score.valid else (entry.score.error_type or "unlabelled")


def render_markdown(summary: Mapping[str, Any], scored: Sequence[ScoredOutcome]) -> str:
    """``report.md``: run facts, metric table, per-category table, error types, failures."""
    run, metrics = summary["run"], summary["summary"]
    lines = [
        f"# ToolGrade evaluation — {Path(run['dataset']).name} on `{run['model']}`",
        "",
        "| run | |",
        "|---|---|",
        *[f"| {name} | {value} |" for name, value in _run_facts(summary)],
        "",
        "## Metrics",
        "",
        *markdown_rows(metric_rows(metrics["metrics"], metrics["ci"])),
    ]
    lines += ["", f"![metrics]({CHART_FILES['metrics']})", "", "## By category", ""]
    lines += _category_table(metrics["by_category"], summary["category_counts"])
    lines += ["", f"![categories]({CHART_FILES['categories']})", "", "## Error types", ""]
    if summary["error_types"]:
        lines += ["| label | items | share |", "|---|---:|---:|"]
        for label, count in summary["error_types"].items():
            lines.append(f"| `{label}` | {count} | {count / summary['count']:.1%} |")
    else:
        lines.append("Every item was fully valid.")
    lines += ["", f"![error types]({CHART_FILES['errors']})", ""]
    failures = [entry for entry in scored if error_label(entry)][:_EXAMPLES_SHOWN]
    if failures:
        lines += ["## First failures", "", "| id | category | label | expected | got |"]
        lines.append("|---|---|---|---|---|")
        for entry in failures:
            lines.append(
                "| "
                + " | ".join(
                    [
                        f"`{entry.outcome.item.id}`",
                        entry.outcome.item.category or "",
                        f"`{error_label(entry)}`",
                        _cell(entry.outcome.item.reference),
                        _cell(_shown_prediction(entry)),
                    ]
                )
                + " |"
            )
        lines.append("")
    return "\n".join(lines)


def render_html(summary: Mapping[str, Any], scored: Sequence[ScoredOutcome], out_dir: Path) -> str:
    """``report.html``: one self-contained page (charts embedded) with the same content."""
    run, metrics = summary["run"], summary["summary"]
    escape = html.escape
    facts = "".join(
        f"<tr><th>{escape(str(name))}</th><td>{escape(str(value))}</td></tr>"
        for name, value in _run_facts(summary)
    )
    metric_cells = "".join(
        f"<tr><td>{escape(name)}</td><td class=num>{value}</td><td>{interval}</td></tr>"
        for name, value, interval in metric_rows(metrics["metrics"], metrics["ci"])
    )
    category_rows = _html_table(_category_table(metrics["by_category"], summary["category_counts"]))
    error_rows = "".join(
        f"<tr><td><code>{escape(label)}</code></td><td class=num>{count}</td></tr>"
        for label, count in summary["error_types"].items()
    )
    failures = "".join(
        f"<tr><td><code>{escape(entry.outcome.item.id)}</code></td>"
        f"<td><code>{escape(str(error_label(entry)))}</code></td>"
        f"<td><pre>{escape(_compact(entry.outcome.item.reference))}</pre></td>"
        f"<td><pre>{escape(_compact(_shown_prediction(entry)))}</pre></td></tr>"
        for entry in [entry for entry in scored if error_label(entry)][:_EXAMPLES_SHOWN]
    )
    images = {
        kind: base64.b64encode((out_dir / name).read_bytes()).decode("ascii")
        for kind, name in CHART_FILES.items()
    }
    title = f"ToolGrade evaluation — {Path(run['dataset']).name} on {run['model']}"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 1000px; margin: 2em auto; color: #212529; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
th, td {{ border: 1px solid #dee2e6; padding: 4px 10px; text-align: left; vertical-align: top; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
pre {{ margin: 0; white-space: pre-wrap; max-width: 380px; font-size: 12px; }}
img {{ max-width: 100%; }}
</style></head><body>
<h1>{escape(title)}</h1>
<table>{facts}</table>
<h2>Metrics</h2>
<table><tr><th>metric</th><th>value</th><th>95 % CI</th></tr>{metric_cells}</table>
<img alt="metrics with confidence intervals" src="data:image/png;base64,{images["metrics"]}">
<h2>By category</h2>
{category_rows}
<img alt="per-category heat map" src="data:image/png;base64,{images["categories"]}">
<h2>Error types</h2>
<table><tr><th>label</th><th>items</th></tr>{error_rows}</table>
<img alt="error type histogram" src="data:image/png;base64,{images["errors"]}">
<h2>First failures</h2>
<table><tr><th>id</th><th>label</th><th>expected</th><th>got</th></tr>{failures}</table>
</body></html>
"""


def _run_facts(summary: Mapping[str, Any]) -> list[tuple[str, Any]]:
    run, latency, usage = summary["run"], summary["latency_s"], summary["usage"]
    duration = run["duration_s"]
    throughput = summary["count"] / duration if duration > 0 else 0.0
    return [
        ("dataset", f"{run['dataset']} ({run['dataset_format']})"),
        ("endpoint", run["endpoint"]),
        ("model", run["model"]),
        ("started", run["started_at"]),
        ("items", summary["count"]),
        ("request errors", summary["request_errors"]),
        ("items retried", summary["retried_items"]),
        (
            "duration",
            f"{duration:.1f} s ({throughput:.2f} items/s, concurrency {run['concurrency']})",
        ),
        ("latency p50 / p95", f"{latency['p50']:.3f} s / {latency['p95']:.3f} s"),
        (
            "tokens (prompt / completion)",
            f"{usage['prompt_tokens']} / {usage['completion_tokens']}",
        ),
        ("finish reasons", ", ".join(f"{k}: {v}" for k, v in summary["finish_reasons"].items())),
    ]


def _category_table(
    by_category: Mapping[str, Mapping[str, float | None]], counts: Mapping[str, int]
) -> list[str]:
    if not by_category:
        return ["No categories."]
    metric_names = [name for name in next(iter(by_category.values())) if name != "count"]
    lines = [
        "| category | n | " + " | ".join(metric_names) + " |",
        "|---|---:|" + "---:|" * len(metric_names),
    ]
    for category in sorted(by_category):
        values = by_category[category]
        cells = [_fmt(values.get(name)) for name in metric_names]
        lines.append(f"| {category} | {counts.get(category, '')} | " + " | ".join(cells) + " |")
    return lines


def _html_table(markdown_lines: list[str]) -> str:
    """Render the small pipe tables built above as HTML (header, separator, rows)."""
    if len(markdown_lines) < 2:
        return f"<p>{html.escape(markdown_lines[0])}</p>"
    rows = [line.strip("|").split("|") for line in markdown_lines[:1] + markdown_lines[2:]]
    header = "".join(f"<th>{html.escape(cell.strip())}</th>" for cell in rows[0])
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell.strip())}</td>" for cell in row) + "</tr>"
        for row in rows[1:]
    )
    return f"<table><tr>{header}</tr>{body}</table>"


def _latency_summary(latencies: Sequence[float]) -> dict[str, float]:
    if not latencies:
        return {"mean": 0.0, "p50": 0.0, "p95": 0.0, "max": 0.0}
    return {
        "mean": round(statistics.fmean(latencies), 4),
        "p50": round(_percentile(latencies, 0.50), 4),
        "p95": round(_percentile(latencies, 0.95), 4),
        "max": round(latencies[-1], 4),
    }


def _percentile(ordered: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending sequence."""
    rank = max(0, min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1))
    return ordered[rank]


def _shown_prediction(entry: ScoredOutcome) -> Any:
    if entry.outcome.request_error is not None:
        return entry.outcome.request_error
    calls = entry.score.to_dict().get("calls")
    return calls if calls else (entry.outcome.prediction or {}).get("content")


def _compact(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _cell(value: Any, width: int = 120) -> str:
    text = _compact(value).replace("|", "\\|").replace("\n", " ")
    return "`" + (text if len(text) <= width else text[: width - 1] + "…") + "`"


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"
