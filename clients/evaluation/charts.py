"""PNG charts of an evaluation run and of a comparison (matplotlib, Agg backend, no display).

Each function draws one figure from plain numbers and writes it; nothing here scores.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: never look for a display, even on a desktop

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

_DPI = 120
_GOOD = "#2b8a3e"
_BAD = "#c92a2a"
_NEUTRAL = "#495057"
_BAR = "#1c7ed6"


def plot_metrics(
    metrics: Mapping[str, float | None],
    ci: Mapping[str, Sequence[float]],
    out_path: Path,
    *,
    title: str,
) -> Path:
    """Horizontal bars of every rate with its 95 % confidence interval; missing rates listed.

    Args:
        metrics: metric name -> value in [0, 1] (``None`` when it does not apply).
        ci: metric name -> ``(low, high)``.
        out_path: the PNG to write.
        title: the figure title (dataset and model, typically).

    Returns:
        ``out_path``.
    """
    names = [name for name, value in metrics.items() if value is not None]
    values = np.array([float(metrics[name] or 0.0) for name in names])
    lows = np.array([_ci_bound(ci, name, 0, values[i]) for i, name in enumerate(names)])
    highs = np.array([_ci_bound(ci, name, 1, values[i]) for i, name in enumerate(names)])
    errors = np.vstack([np.clip(values - lows, 0, None), np.clip(highs - values, 0, None)])

    figure, axes = plt.subplots(figsize=(8, max(3.0, 0.5 * len(names) + 1.4)), dpi=_DPI)
    positions = np.arange(len(names))
    axes.barh(positions, values, xerr=errors, color=_BAR, capsize=4, ecolor=_NEUTRAL)
    for position, value, high in zip(positions.tolist(), values, highs, strict=True):
        axes.text(min(high + 0.015, 1.0), position, f"{value:.3f}", va="center", fontsize=9)
    axes.set_yticks(positions, names)
    axes.invert_yaxis()
    axes.set_xlim(0, 1.12)
    axes.set_xlabel("rate (bars: 95 % bootstrap CI)")
    skipped = [name for name, value in metrics.items() if value is None]
    axes.set_title(title + (f"\nnot applicable: {', '.join(skipped)}" if skipped else ""))
    axes.grid(axis="x", alpha=0.3)
    return _save(figure, out_path)


def plot_categories(
    by_category: Mapping[str, Mapping[str, float | None]],
    out_path: Path,
    *,
    title: str,
    counts: Mapping[str, int] | None = None,
) -> Path:
    """A heat map: one row per category, one column per metric, each cell annotated.

    Cells for a metric that does not apply to a category are left blank (grey).
    """
    categories = sorted(by_category)
    # Keep the core's metric order; the per-category item count is not a rate.
    metric_names = list(
        dict.fromkeys(name for values in by_category.values() for name in values if name != "count")
    )
    grid = np.full((len(categories), len(metric_names)), np.nan)
    for row, category in enumerate(categories):
        for column, name in enumerate(metric_names):
            value = by_category[category].get(name)
            if value is not None:
                grid[row, column] = float(value)

    width = max(7.0, 0.9 * len(metric_names) + 2.5)
    height = max(3.0, 0.45 * len(categories) + 2.2)
    figure, axes = plt.subplots(figsize=(width, height), dpi=_DPI)
    colour_map = matplotlib.colormaps["RdYlGn"].with_extremes(bad="#dee2e6")
    image = axes.imshow(np.ma.masked_invalid(grid), cmap=colour_map, vmin=0, vmax=1, aspect="auto")
    for row in range(len(categories)):
        for column in range(len(metric_names)):
            value = grid[row, column]
            if not np.isnan(value):
                # The colour map is dark at both ends: light text there stays readable.
                ink = "white" if value < 0.2 or value > 0.85 else "black"
                axes.text(
                    column, row, f"{value:.2f}", ha="center", va="center", fontsize=8, color=ink
                )
    labels = [
        f"{category} (n={counts[category]})" if counts and category in counts else category
        for category in categories
    ]
    axes.set_yticks(range(len(categories)), labels)
    axes.set_xticks(range(len(metric_names)), metric_names, rotation=35, ha="right")
    axes.set_title(title)
    figure.colorbar(image, ax=axes, fraction=0.03, pad=0.02)
    return _save(figure, out_path)


def plot_error_types(error_counts: Mapping[str, int], out_path: Path, *, title: str) -> Path:
    """A histogram of per-item error labels, most frequent first (``ok`` items excluded)."""
    ordered = sorted(error_counts.items(), key=lambda pair: (-pair[1], pair[0]))
    figure, axes = plt.subplots(figsize=(8, max(3.0, 0.45 * len(ordered) + 1.4)), dpi=_DPI)
    if ordered:
        labels = [label for label, _ in ordered]
        counts = [count for _, count in ordered]
        positions = np.arange(len(labels))
        axes.barh(positions, counts, color=_BAD)
        for position, count in zip(positions.tolist(), counts, strict=True):
            axes.text(count, position, f" {count}", va="center", fontsize=9)
        axes.set_yticks(positions, labels)
        axes.invert_yaxis()
        axes.set_xlim(0, max(counts) * 1.15)
    else:
        axes.text(0.5, 0.5, "no errors", ha="center", va="center", fontsize=14, color=_GOOD)
        axes.set_yticks([])
    axes.set_xlabel("items")
    axes.set_title(title)
    axes.grid(axis="x", alpha=0.3)
    return _save(figure, out_path)


def plot_deltas(
    deltas: Mapping[str, float],
    intervals: Mapping[str, Sequence[float]],
    significant: Mapping[str, bool],
    out_path: Path,
    *,
    title: str,
) -> Path:
    """Per-metric change B − A with its paired 95 % CI; significant changes coloured."""
    names = list(deltas)
    values = np.array([deltas[name] for name in names])
    lows = np.array([intervals[name][0] for name in names])
    highs = np.array([intervals[name][1] for name in names])
    errors = np.vstack([np.clip(values - lows, 0, None), np.clip(highs - values, 0, None)])
    colours = [
        (_GOOD if value > 0 else _BAD) if significant[name] else _NEUTRAL
        for name, value in zip(names, values, strict=True)
    ]
    figure, axes = plt.subplots(figsize=(8, max(3.0, 0.5 * len(names) + 1.6)), dpi=_DPI)
    positions = np.arange(len(names))
    axes.barh(positions, values, xerr=errors, color=colours, capsize=4, ecolor=_NEUTRAL)
    axes.axvline(0, color="black", linewidth=0.8)
    limit = max(0.05, float(np.max(np.abs(np.concatenate([lows, highs, values])))) * 1.35)
    for position, value, high, low in zip(positions.tolist(), values, highs, lows, strict=True):
        # Label beyond the interval's end on the side the change points to.
        anchor, align = (high, "left") if value >= 0 else (low, "right")
        offset = 0.01 * limit if value >= 0 else -0.01 * limit
        axes.text(anchor + offset, position, f"{value:+.3f}", va="center", ha=align, fontsize=9)
    axes.set_yticks(positions, names)
    axes.invert_yaxis()
    axes.set_xlim(-limit, limit)
    axes.set_xlabel("B − A (bars: paired 95 % CI; colour: significant at α = 0.05)")
    axes.set_title(title)
    axes.grid(axis="x", alpha=0.3)
    return _save(figure, out_path)


def _ci_bound(ci: Mapping[str, Sequence[float]], name: str, side: int, value: float) -> float:
    bounds = ci.get(name)
    return float(bounds[side]) if bounds else float(value)


def _save(figure: Figure, out_path: Path) -> Path:
    out_path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(out_path, format="png")
    plt.close(figure)
    return out_path
