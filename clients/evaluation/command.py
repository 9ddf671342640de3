"""``toolgrade eval run`` and ``toolgrade eval compare``.

The evaluation package (``openai``, ``matplotlib``) is imported inside the commands so the rest
of the CLI starts fast.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from service.core.errors import ToolGradeError
from service.core.metric_table import metric_rows, rich_table

if TYPE_CHECKING:
    from rich.console import Console

app = typer.Typer(
    name="eval",
    help="Evaluate a model behind any OpenAI-compatible endpoint, and compare two runs.",
    no_args_is_help=True,
)


def _consoles() -> tuple[Console, Console]:
    """Standard output and standard error consoles (rich is imported when a command runs)."""
    from rich.console import Console

    return Console(), Console(stderr=True)


@app.command("run")
def run_command(
    dataset: Annotated[
        Path,
        typer.Argument(
            help="xLAM JSON/JSONL, a BFCL question file, or a prepared split (file or folder)."
        ),
    ],
    answers: Annotated[
        Path | None,
        typer.Option(
            help="BFCL possible-answer file (default: possible_answer/<name> beside DATASET)."
        ),
    ] = None,
    dataset_format: Annotated[
        str, typer.Option("--format", help="auto | xlam | bfcl | prepared.")
    ] = "auto",
    base_url: Annotated[
        str,
        typer.Option(
            envvar="TOOLGRADE_EVAL_BASE_URL",
            help="OpenAI-compatible base URL: ToolGrade, a vLLM server or a hosted API.",
        ),
    ] = "http://127.0.0.1:8000/v1",
    model: Annotated[
        str | None, typer.Option(help="Model name (default: the endpoint's first model).")
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            envvar="OPENAI_API_KEY", help="Bearer key for the endpoint.", show_default=False
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Output folder (default: runs/eval/<dataset>-<time>).")
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, help="Requests in flight at most.")] = 8,
    retries: Annotated[int, typer.Option(min=0, help="Extra attempts on retryable errors.")] = 3,
    timeout: Annotated[float, typer.Option(min=0.1, help="Seconds per request.")] = 120.0,
    max_tokens: Annotated[int, typer.Option(min=1)] = 512,
    temperature: Annotated[float, typer.Option(min=0.0)] = 0.0,
    tool_choice: Annotated[str, typer.Option(help="auto | required | none.")] = "auto",
    enable_thinking: Annotated[
        bool | None,
        typer.Option(
            "--enable-thinking/--no-thinking",
            help="Send chat_template_kwargs.enable_thinking (Qwen3 on vLLM/ToolGrade).",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Evaluate the first N items.")] = None,
    category: Annotated[
        list[str] | None, typer.Option(help="Keep only this category (repeatable).")
    ] = None,
    bootstrap_samples: Annotated[int, typer.Option(min=0)] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap intervals.")] = 0,
    progress: Annotated[bool, typer.Option("--progress/--no-progress")] = True,
) -> None:
    """Run DATASET through an endpoint, score every answer and write the report folder."""
    import asyncio

    from clients.evaluation.datasets import DatasetFormat
    from clients.evaluation.pipeline import EvalConfig, run_evaluation

    _console, _errors = _consoles()

    try:
        chosen_format = DatasetFormat(dataset_format)
    except ValueError:
        raise typer.BadParameter(
            f"unknown format {dataset_format!r}", param_hint="--format"
        ) from None
    extra_body: dict[str, Any] = {}
    if enable_thinking is not None:
        extra_body["chat_template_kwargs"] = {"enable_thinking": enable_thinking}
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    config = EvalConfig(
        dataset=dataset,
        out_dir=out or Path("runs") / "eval" / f"{dataset.stem}-{stamp}",
        base_url=base_url,
        model=model,
        api_key=api_key,
        answers=answers,
        dataset_format=chosen_format,
        limit=limit,
        categories=tuple(category or ()),
        concurrency=concurrency,
        retries=retries,
        timeout_s=timeout,
        temperature=temperature,
        max_tokens=max_tokens,
        tool_choice=tool_choice,
        extra_body=extra_body,
        bootstrap_samples=bootstrap_samples,
        seed=seed,
        show_progress=progress,
    )
    try:
        run = asyncio.run(run_evaluation(config, console=_errors))
    except ToolGradeError as exc:
        _errors.print(f"[red]error[/red] ({exc.label}): {exc.message}")
        raise typer.Exit(2) from exc

    summary = json.loads(run.paths["report_json"].read_text(encoding="utf-8"))
    title = f"{dataset.name} · {run.info.model} · {run.report.count} items"
    table = rich_table(title, metric_rows(run.report.metrics, run.report.ci))
    _console.print(table)
    if summary["request_errors"]:
        _errors.print(
            f"[yellow]{summary['request_errors']} request(s) failed after retries; "
            "they are scored as empty answers (see results.jsonl: request_error)[/yellow]"
        )
    _console.print(f"report: {run.paths['report_md']}  ·  {run.paths['report_html']}")


@app.command("compare")
def compare_command(
    run_a: Annotated[Path, typer.Argument(help="Baseline run folder (A).")],
    run_b: Annotated[Path, typer.Argument(help="Candidate run folder (B); deltas are B − A.")],
    out: Annotated[
        Path | None, typer.Option(help="Output folder (default: <B>/compare-vs-<A name>).")
    ] = None,
    alpha: Annotated[float, typer.Option(min=0.0, max=1.0)] = 0.05,
    seed: Annotated[int, typer.Option()] = 0,
) -> None:
    """Compare two runs on their shared items: deltas, paired 95 % CIs and p-values."""
    from rich.table import Table

    from clients.evaluation.compare import compare_runs, format_p_value, write_comparison

    _console, _errors = _consoles()

    try:
        comparison = compare_runs(run_a, run_b, alpha=alpha, seed=seed)
    except ToolGradeError as exc:
        _errors.print(f"[red]error[/red] ({exc.label}): {exc.message}")
        raise typer.Exit(2) from exc
    paths = write_comparison(comparison, out or run_b / f"compare-vs-{run_a.name}")

    table = Table(title=f"{run_b.name} − {run_a.name} ({comparison.paired} paired items)")
    for column in ("metric", "A", "B", "B − A", "95 % CI", "p", "test"):
        table.add_column(column, justify="left" if column in ("metric", "test") else "right")
    for delta in comparison.metrics:
        colour = ("green" if delta.delta > 0 else "red") if delta.significant else "white"
        table.add_row(
            delta.metric,
            f"{delta.a:.3f}",
            f"{delta.b:.3f}",
            f"[{colour}]{delta.delta:+.3f}[/{colour}]",
            f"[{delta.ci[0]:+.3f}, {delta.ci[1]:+.3f}]",
            format_p_value(delta.p_value),
            delta.test,
        )
    _console.print(table)
    _console.print(
        f"fixed in B: {len(comparison.fixed)}  ·  broken in B: {len(comparison.broken)}"
        f"  ·  report: {paths['md']}"
    )
