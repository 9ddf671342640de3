"""Compare two evaluation runs item by item: deltas, paired confidence intervals, p-values.

Both runs must score the same items (paired by id, same references). Per metric:

* ``delta`` = B − A on the paired items, with a 95 % paired-bootstrap interval (items
  resampled together, so the interval reflects per-item agreement, not two independent runs);
* a two-sided p-value: the exact McNemar test for yes/no metrics (``ast_accuracy``,
  ``name_accuracy``, ``parse_rate``, ``schema_hit_rate``, ``exec_rate``,
  ``irrelevance_accuracy``, ``relevance_accuracy``: only items that flipped carry
  information), and a paired
  sign-flip permutation test for the argument precision/recall/F1 averages.

p-values are per metric, not corrected for the several metrics compared.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.stats import binomtest

from clients.evaluation import charts
from clients.evaluation.layout import RESULTS_FILE
from service.core.errors import ToolGradeError
from service.core.metrics import METRIC_NAMES

# Which per-item field of an ItemScore each corpus rate averages (service/core/metrics.py).
BINARY_METRICS: dict[str, str] = {
    "parse_rate": "parsed",
    "name_accuracy": "name_match",
    "schema_hit_rate": "schema_hit",
    "exec_rate": "exec_ok",
    "ast_accuracy": "valid",
}
GRADED_METRICS: dict[str, str] = {
    "argument_precision": "argument_precision",
    "argument_recall": "argument_recall",
    "argument_f1": "argument_f1",
}
# irrelevance_accuracy is ``valid`` over the items whose reference expects no call,
# relevance_accuracy over those whose reference expects any call.
IRRELEVANCE = "irrelevance_accuracy"
RELEVANCE = "relevance_accuracy"
# The core report's metric order, so comparisons list metrics as the reports do.
METRIC_ORDER = METRIC_NAMES
CATEGORY_METRICS = ("ast_accuracy", "name_accuracy", "argument_f1")
_CELLS_PER_CHUNK = 2_000_000


class CompareError(ToolGradeError):
    """Two runs that cannot be compared (labels ``compare:...``)."""


@dataclass(frozen=True, slots=True)
class MetricDelta:
    """The change of one metric from run A to run B over the paired items."""

    metric: str
    items: int
    a: float
    b: float
    delta: float
    ci: tuple[float, float]
    p_value: float
    test: str
    improved: int
    regressed: int
    significant: bool


@dataclass(frozen=True, slots=True)
class Comparison:
    """Everything ``toolgrade eval compare`` reports."""

    run_a: str
    run_b: str
    paired: int
    only_in_a: int
    only_in_b: int
    alpha: float
    metrics: tuple[MetricDelta, ...]
    by_category: dict[str, tuple[MetricDelta, ...]]
    fixed: tuple[str, ...]
    broken: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def load_scores(run_dir: Path) -> dict[str, dict[str, Any]]:
    """Per-item score records of a run directory, by item id (as a string).

    Raises:
        CompareError: the directory holds no ``results.jsonl``.
    """
    results = run_dir / RESULTS_FILE
    if not results.is_file():
        raise CompareError(
            f"{run_dir} is not an evaluation run (no {RESULTS_FILE})", label="compare:not_a_run"
        )
    records = {}
    for line in results.read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            records[str(record["id"])] = record
    return records


def compare_runs(
    run_a: Path,
    run_b: Path,
    *,
    alpha: float = 0.05,
    bootstrap_samples: int = 2000,
    permutations: int = 10_000,
    seed: int = 0,
) -> Comparison:
    """Compare run B against run A (B − A) on the items both runs scored.

    Args:
        run_a: the baseline run directory.
        run_b: the candidate run directory.
        alpha: significance level for the ``significant`` flag.
        bootstrap_samples: resamples of the paired interval.
        permutations: random sign flips of the permutation test (graded metrics).
        seed: seed of both resampling procedures.

    Raises:
        CompareError: a directory is not a run, no item is shared, or a shared id has
            different references in the two runs (different datasets).
    """
    records_a, records_b = load_scores(run_a), load_scores(run_b)
    shared = sorted(records_a.keys() & records_b.keys())
    if not shared:
        raise CompareError(
            f"{run_a} and {run_b} share no item ids", label="compare:no_shared_items"
        )
    mismatched = [i for i in shared if records_a[i]["reference"] != records_b[i]["reference"]]
    if mismatched:
        raise CompareError(
            f"{len(mismatched)} shared ids have different references (first: {mismatched[0]!r}):"
            " the runs used different datasets",
            label="compare:different_references",
        )
    scores_a = [records_a[i]["score"] for i in shared]
    scores_b = [records_b[i]["score"] for i in shared]
    rng_seed = np.random.SeedSequence(seed)
    metrics = paired_deltas(
        scores_a, scores_b, alpha, bootstrap_samples, permutations, rng_seed.spawn(1)[0]
    )
    by_category: dict[str, tuple[MetricDelta, ...]] = {}
    categories = sorted({str(score.get("category")) for score in scores_a})
    for category, category_seed in zip(categories, rng_seed.spawn(len(categories)), strict=True):
        members = [k for k, score in enumerate(scores_a) if str(score.get("category")) == category]
        by_category[category] = tuple(
            delta
            for delta in paired_deltas(
                [scores_a[k] for k in members],
                [scores_b[k] for k in members],
                alpha,
                bootstrap_samples,
                permutations,
                category_seed,
            )
            if delta.metric in CATEGORY_METRICS
        )
    pairs = list(zip(shared, scores_a, scores_b, strict=True))
    fixed = tuple(i for i, a, b in pairs if b["valid"] and not a["valid"])
    broken = tuple(i for i, a, b in pairs if a["valid"] and not b["valid"])
    return Comparison(
        run_a=str(run_a),
        run_b=str(run_b),
        paired=len(shared),
        only_in_a=len(records_a.keys() - records_b.keys()),
        only_in_b=len(records_b.keys() - records_a.keys()),
        alpha=alpha,
        metrics=tuple(metrics),
        by_category=by_category,
        fixed=fixed,
        broken=broken,
    )


def paired_deltas(
    scores_a: Sequence[Mapping[str, Any]],
    scores_b: Sequence[Mapping[str, Any]],
    alpha: float,
    bootstrap_samples: int,
    permutations: int,
    seed: np.random.SeedSequence,
) -> list[MetricDelta]:
    """One :class:`MetricDelta` per metric defined on the paired scores (same order in A, B)."""
    deltas = []
    no_call = [k for k, score in enumerate(scores_a) if score.get("expects_no_call")]
    any_call = [k for k, score in enumerate(scores_a) if score.get("expects_any_call")]
    for metric, metric_seed in zip(METRIC_ORDER, seed.spawn(len(METRIC_ORDER)), strict=True):
        if metric == IRRELEVANCE:
            rows, field, binary = no_call, "valid", True
        elif metric == RELEVANCE:
            rows, field, binary = any_call, "valid", True
        else:
            rows = list(range(len(scores_a)))
            field = BINARY_METRICS.get(metric) or GRADED_METRICS[metric]
            binary = metric in BINARY_METRICS
        if not rows:
            continue
        a = np.array([float(scores_a[k][field]) for k in rows])
        b = np.array([float(scores_b[k][field]) for k in rows])
        rng = np.random.default_rng(metric_seed)
        improved, regressed = int(np.sum(b > a)), int(np.sum(b < a))
        if binary:
            p_value, test = mcnemar_exact(improved, regressed), "mcnemar_exact"
        else:
            p_value, test = sign_flip_p_value(b - a, permutations, rng), "paired_permutation"
        deltas.append(
            MetricDelta(
                metric=metric,
                items=len(rows),
                a=float(a.mean()),
                b=float(b.mean()),
                delta=float((b - a).mean()),
                ci=paired_bootstrap_ci(b - a, bootstrap_samples, rng),
                p_value=p_value,
                test=test,
                improved=improved,
                regressed=regressed,
                significant=p_value < alpha,
            )
        )
    return deltas


def mcnemar_exact(improved: int, regressed: int) -> float:
    """Two-sided exact McNemar p-value from the discordant pair counts.

    Under "no difference" each flipped item is equally likely to flip either way, so the
    improvements among the flips follow Binomial(flips, 1/2).

    Example:
        >>> round(mcnemar_exact(9, 1), 4), mcnemar_exact(0, 0)
        (0.0215, 1.0)
    """
    flips = improved + regressed
    if flips == 0:
        return 1.0
    return float(binomtest(improved, flips, 0.5).pvalue)


def sign_flip_p_value(
    differences: npt.NDArray[np.float64], permutations: int, rng: np.random.Generator
) -> float:
    """Two-sided paired permutation test of "mean difference is zero" by random sign flips.

    Returns ``(1 + #{|permuted mean| >= |observed mean|}) / (1 + permutations)``, which is
    never 0 and is exact in expectation.
    """
    observed = abs(float(differences.mean()))
    if observed == 0.0:
        return 1.0
    n = len(differences)
    at_least = 0
    chunk = max(1, _CELLS_PER_CHUNK // n)
    for start in range(0, permutations, chunk):
        size = min(chunk, permutations - start)
        signs = rng.integers(0, 2, size=(size, n)) * 2 - 1
        permuted = np.abs(signs @ differences / n)
        # Tolerance: sums in another order must not turn a tie into a miss.
        at_least += int(np.sum(permuted >= observed - 1e-12))
    return (1 + at_least) / (1 + permutations)


def paired_bootstrap_ci(
    differences: npt.NDArray[np.float64], samples: int, rng: np.random.Generator
) -> tuple[float, float]:
    """95 % percentile interval of the mean per-item difference, items resampled jointly."""
    n = len(differences)
    if n == 0 or samples == 0 or np.all(differences == differences[0]):
        value = float(differences[0]) if n else 0.0
        return (value, value)
    means = np.empty(samples)
    chunk = max(1, _CELLS_PER_CHUNK // n)
    for start in range(0, samples, chunk):
        size = min(chunk, samples - start)
        means[start : start + size] = differences[rng.integers(0, n, size=(size, n))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return (float(low), float(high))


def write_comparison(comparison: Comparison, out_dir: Path) -> dict[str, Path]:
    """Write ``compare.json``, ``compare.md`` and ``compare.png`` into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": out_dir / "compare.json",
        "md": out_dir / "compare.md",
        "png": out_dir / "compare.png",
    }
    paths["json"].write_text(json.dumps(comparison.to_dict(), indent=2) + "\n", encoding="utf-8")
    charts.plot_deltas(
        {delta.metric: delta.delta for delta in comparison.metrics},
        {delta.metric: delta.ci for delta in comparison.metrics},
        {delta.metric: delta.significant for delta in comparison.metrics},
        paths["png"],
        title=f"{Path(comparison.run_b).name} − {Path(comparison.run_a).name} "
        f"(n={comparison.paired} paired items)",
    )
    paths["md"].write_text(render_comparison_markdown(comparison), encoding="utf-8")
    return paths


def render_comparison_markdown(comparison: Comparison) -> str:
    """``compare.md``: the delta table, per-category deltas and the flipped items."""
    lines = [
        f"# {Path(comparison.run_b).name} vs {Path(comparison.run_a).name}",
        "",
        f"B = `{comparison.run_b}`, A = `{comparison.run_a}`; {comparison.paired} paired items"
        f" ({comparison.only_in_a} only in A, {comparison.only_in_b} only in B).",
        f"Significant: p < {comparison.alpha} (not corrected across metrics).",
        "",
        *_delta_table(comparison.metrics, first_column="metric"),
        "",
        "![deltas](compare.png)",
        "",
        "## By category",
        "",
    ]
    for category, deltas in comparison.by_category.items():
        lines += [f"### {category}", "", *_delta_table(deltas, first_column="metric"), ""]
    lines += [
        "## Flipped items (ast_accuracy)",
        "",
        f"- fixed in B ({len(comparison.fixed)}): " + _id_list(comparison.fixed),
        f"- broken in B ({len(comparison.broken)}): " + _id_list(comparison.broken),
        "",
    ]
    return "\n".join(lines)


def _delta_table(deltas: Sequence[MetricDelta], *, first_column: str) -> list[str]:
    lines = [
        f"| {first_column} | n | A | B | B − A | 95 % CI | p | test | ↑ / ↓ items |",
        "|---|---:|---:|---:|---:|---|---:|---|---:|",
    ]
    for d in deltas:
        change = f"**{d.delta:+.3f}**" if d.significant else f"{d.delta:+.3f}"
        lines.append(
            f"| {d.metric} | {d.items} | {d.a:.3f} | {d.b:.3f} | {change}"
            f" | [{d.ci[0]:+.3f}, {d.ci[1]:+.3f}] | {format_p_value(d.p_value)}"
            f" | {d.test} | {d.improved} / {d.regressed} |"
        )
    return lines


def format_p_value(p_value: float) -> str:
    """Four decimals, or scientific notation below 0.0001 (never a misleading ``0.0000``).

    Example:
        >>> format_p_value(0.01234), format_p_value(0.0000123)
        ('0.0123', '1.2e-05')
    """
    return f"{p_value:.4f}" if p_value >= 1e-4 else f"{p_value:.1e}"


def _id_list(ids: Sequence[str], shown: int = 20) -> str:
    if not ids:
        return "none"
    listed = ", ".join(f"`{i}`" for i in ids[:shown])
    return listed + (f" … (+{len(ids) - shown})" if len(ids) > shown else "")
