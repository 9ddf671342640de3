"""The corpus metric table, one rule for every place that shows it (``toolgrade score``,
``toolgrade eval run`` and the evaluation report).

The rows are plain strings, so the core stays free of any output library; :func:`rich_table`
imports ``rich`` (a dependency of the command line) only when a terminal table is asked for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["METRIC_TABLE_HEADER", "markdown_rows", "metric_rows", "rich_table"]

METRIC_TABLE_HEADER = ("metric", "value", "95 % CI")


def metric_rows(
    metrics: Mapping[str, float | None],
    ci: Mapping[str, Sequence[float]],
    *,
    digits: int = 3,
) -> list[tuple[str, str, str]]:
    """``(metric, value, interval)`` text for each metric, in ``metrics``' order.

    An undefined value shows as ``—``; a metric without an interval shows an empty one.

    Args:
        metrics: Metric name to rate (``ScoreReport.metrics`` or its JSON form).
        ci: Metric name to ``(low, high)`` bounds (``ScoreReport.ci``).
        digits: Decimal places.

    Returns:
        One row per metric.

    Example:
        >>> metrics = {"parse_rate": 0.5, "irrelevance_accuracy": None}
        >>> metric_rows(metrics, {"parse_rate": (0.25, 0.75)})
        [('parse_rate', '0.500', '[0.250, 0.750]'), ('irrelevance_accuracy', '—', '')]
    """
    rows = []
    for name, value in metrics.items():
        bounds = ci.get(name)
        value_text = "—" if value is None else f"{value:.{digits}f}"
        interval = f"[{bounds[0]:.{digits}f}, {bounds[1]:.{digits}f}]" if bounds else ""
        rows.append((name, value_text, interval))
    return rows


def markdown_rows(rows: Sequence[tuple[str, str, str]]) -> list[str]:
    """The rows of :func:`metric_rows` as a Markdown pipe table (header and alignment first).

    Example:
        >>> print("\\n".join(markdown_rows([("parse_rate", "0.500", "")])))
        | metric | value | 95 % CI |
        |---|---:|---|
        | parse_rate | 0.500 |  |
    """
    return [
        "| " + " | ".join(METRIC_TABLE_HEADER) + " |",
        "|---|---:|---|",
        *(f"| {name} | {value} | {interval} |" for name, value, interval in rows),
    ]


def rich_table(title: str, rows: Sequence[tuple[str, str, str]]) -> Any:
    """The rows of :func:`metric_rows` as a ``rich`` table for a terminal."""
    from rich.table import Table

    table = Table(title=title)
    table.add_column(METRIC_TABLE_HEADER[0])
    table.add_column(METRIC_TABLE_HEADER[1], justify="right")
    table.add_column(METRIC_TABLE_HEADER[2], justify="right")
    for row in rows:
        table.add_row(*row)
    return table
