"""``toolgrade audit``: what a reward profile pays for wrong answers, before anyone trains on it.

Reads a JSONL file of ``/score`` items (``reference`` and ``tools``), GRPO prompt rows (``label``
and ``tools``) or xLAM rows (``answers`` and ``tools``), runs the core's
:func:`service.core.audit.audit_rewards` with a progress bar, prints the per-mutation table
(mean and maximum reward per profile), the hack ceilings and any axiom violation, and writes
``audit.json`` (the report) and ``audit.png`` (a mutation × profile heat map of the mean reward)
to ``--output-dir``. Exit code 1 when an axiom is violated, 2 when the input cannot be read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from service.commands.score import StringMatch, StringMatchOption

if TYPE_CHECKING:
    from service.core.audit import AuditReport


def audit_command(
    input_path: Annotated[
        Path,
        typer.Option(
            "--input",
            "-i",
            help="JSONL of /score items, GRPO prompt rows (label + tools) or xLAM rows.",
            dir_okay=False,
        ),
    ],
    profile: Annotated[
        str | None,
        typer.Option(help="Audit one profile (weighted, strict, toolrl); default: all three."),
    ] = None,
    weights: Annotated[
        str | None,
        typer.Option(help="Weights for the weighted profile as JSON, e.g. '{\"semantic\": 3}'."),
    ] = None,
    output_dir: Annotated[
        Path, typer.Option("--output-dir", "-o", help="Where audit.json and audit.png go.")
    ] = Path("."),
    string_match: StringMatchOption = StringMatch.EXACT,
) -> None:
    """Audit reward profiles on a dataset: wrong completions, hack ceilings, axiom violations."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from service.core.audit import AUDIT_PROFILES, audit_rewards
    from service.core.errors import ToolGradeError

    rows = _read_rows(input_path)
    parsed_weights = _parse_weights(weights)
    console = Console(stderr=True)
    try:
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        ) as progress:
            task = progress.add_task("auditing", total=len(rows))
            report = audit_rewards(
                rows,
                profiles=AUDIT_PROFILES if profile is None else (profile,),
                weights=parsed_weights,
                string_match=string_match.value,
                on_item=lambda: progress.advance(task),
            )
    except ToolGradeError as error:
        typer.echo(f"error: {error.label}: {error.message}", err=True)
        raise typer.Exit(code=2) from None
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "audit.json").write_text(
        json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    write_heat_map(report, output_dir / "audit.png")
    _print_report(report, output_dir)
    if report.violation_total:
        raise typer.Exit(code=1)


def _read_rows(path: Path) -> list[Any]:
    if not path.is_file():
        typer.echo(f"error: input file {path} does not exist", err=True)
        raise typer.Exit(code=2)
    rows = []
    with path.open("rb") as handle:
        for line_number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                rows.append(json.loads(raw))
            except ValueError as error:
                typer.echo(f"error: line {line_number} is not JSON: {error}", err=True)
                raise typer.Exit(code=2) from None
    return rows


def _parse_weights(text: str | None) -> dict[str, float] | None:
    if text is None:
        return None
    try:
        weights = json.loads(text)
    except ValueError:
        typer.echo(f"error: --weights is not JSON: {text!r}", err=True)
        raise typer.Exit(code=2) from None
    if not isinstance(weights, dict):
        typer.echo("error: --weights must be a JSON object", err=True)
        raise typer.Exit(code=2)
    return weights


def write_heat_map(report: AuditReport, path: Path) -> None:
    """A mutation × profile heat map of the mean reward (matplotlib, headless).

    Args:
        report: The audit report.
        path: The PNG to write.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    profiles = [audit.profile for audit in report.profiles]
    mutations: list[str] = []
    for audit in report.profiles:
        mutations += [s.mutation for s in audit.mutations if s.mutation not in mutations]
    means = [
        [
            next((s.mean for s in audit.mutations if s.mutation == mutation), float("nan"))
            for audit in report.profiles
        ]
        for mutation in mutations
    ]
    figure, axes = plt.subplots(figsize=(2.2 + 1.6 * len(profiles), 1.2 + 0.38 * len(mutations)))
    image = axes.imshow(means, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    axes.set_xticks(range(len(profiles)), profiles)
    axes.set_yticks(range(len(mutations)), mutations)
    for row, values in enumerate(means):
        for column, value in enumerate(values):
            colour = "black" if value > 0.6 else "white"
            axes.text(column, row, f"{value:.2f}", ha="center", va="center", color=colour)
    ceilings = ", ".join(f"{a.profile} {a.hack_ceiling:.3f}" for a in report.profiles)
    axes.set_title(
        f"Mean reward per completion kind ({report.items} items)\nhack ceiling: {ceilings}"
    )
    figure.colorbar(image, ax=axes, label="mean reward")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _print_report(report: AuditReport, output_dir: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    title = f"Reward audit — {report.items} items"
    if report.skipped:
        title += f", {len(report.skipped)} skipped"
    table = Table(title=title)
    table.add_column("mutation")
    for audit in report.profiles:
        table.add_column(f"{audit.profile}\nmean / max", justify="right")
    mutations: list[str] = []
    for audit in report.profiles:
        mutations += [s.mutation for s in audit.mutations if s.mutation not in mutations]
    for mutation in mutations:
        cells = []
        for audit in report.profiles:
            stats = next((s for s in audit.mutations if s.mutation == mutation), None)
            cells.append("—" if stats is None else f"{stats.mean:.3f} / {stats.max:.3f}")
        table.add_row(mutation, *cells)
    table.add_section()
    table.add_row("hack ceiling", *(f"{a.hack_ceiling:.3f}" for a in report.profiles))
    table.add_row(
        "axiom violations", *(str(sum(a.violation_counts.values())) for a in report.profiles)
    )
    console.print(table)
    for audit in report.profiles:
        for violation in audit.violations:
            console.print(
                f"[red]axiom {violation.axiom}[/red] {audit.profile} item {violation.item!r} "
                f"{violation.mutation}: {violation.detail} ({violation.reward:.4f} vs "
                f"{violation.bound:.4f})"
            )
    for skipped in report.skipped:
        console.print(f"skipped item {skipped['item']!r}: {skipped['label']}: {skipped['message']}")
    console.print(f"wrote {output_dir / 'audit.json'} and {output_dir / 'audit.png'}")
