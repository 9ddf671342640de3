"""``compare_runs``: paired deltas, exact McNemar, sign-flip permutation, bootstrap intervals.

Runs are written as ``results.jsonl`` files with hand-made per-item scores, so every expected
number below is computed by hand.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from clients.evaluation.compare import (
    CompareError,
    compare_runs,
    mcnemar_exact,
    paired_bootstrap_ci,
    sign_flip_p_value,
    write_comparison,
)


def score(
    item_id: str,
    *,
    valid: bool,
    f1: float,
    category: str = "simple",
    no_call: bool = False,
    any_call: bool = False,
) -> dict[str, Any]:
    return {
        "id": item_id,
        "category": category,
        "parsed": True,
        "valid": valid,
        "error_type": None if valid else "match:value_mismatch",
        "name_match": True,
        "schema_hit": True,
        "exec_ok": True,
        "argument_precision": f1,
        "argument_recall": f1,
        "argument_f1": f1,
        "expects_no_call": no_call,
        "expects_any_call": any_call,
        "calls": [],
    }


def write_run(directory: Path, scores: list[dict[str, Any]]) -> Path:
    directory.mkdir(parents=True)
    with (directory / "results.jsonl").open("w", encoding="utf-8") as handle:
        for entry in scores:
            record = {"id": entry["id"], "reference": [], "score": entry}
            handle.write(json.dumps(record) + "\n")
    return directory


@pytest.fixture
def two_runs(tmp_path: Path) -> tuple[Path, Path]:
    """Ten items: B fixes 8 that A got wrong, keeps 2 right; argument F1 up 0.5 on each."""
    a = [score(f"i{k}", valid=k < 2, f1=0.25) for k in range(10)]
    b = [score(f"i{k}", valid=True, f1=0.75) for k in range(10)]
    return write_run(tmp_path / "a", a), write_run(tmp_path / "b", b)


def test_binary_metric_delta_uses_exact_mcnemar(two_runs: tuple[Path, Path]) -> None:
    comparison = compare_runs(*two_runs)
    ast = next(d for d in comparison.metrics if d.metric == "ast_accuracy")
    assert (ast.items, ast.a, ast.b) == (10, 0.2, 1.0)
    assert ast.delta == pytest.approx(0.8)
    assert (ast.improved, ast.regressed) == (8, 0)
    # 8 flips, all one way: two-sided p = 2 * 0.5**8
    assert ast.p_value == pytest.approx(2 * 0.5**8)
    assert ast.test == "mcnemar_exact"
    assert ast.significant
    assert ast.ci[0] <= 0.8 <= ast.ci[1]
    assert comparison.fixed == tuple(f"i{k}" for k in range(2, 10))
    assert comparison.broken == ()


def test_graded_metric_uses_a_sign_flip_permutation_test(two_runs: tuple[Path, Path]) -> None:
    comparison = compare_runs(*two_runs, permutations=20_000)
    f1 = next(d for d in comparison.metrics if d.metric == "argument_f1")
    assert f1.delta == pytest.approx(0.5)
    # Ten equal differences: only the all-plus and all-minus flips reach |mean| 0.5,
    # so the exact p is 2 / 2**10 ≈ 0.00195; the Monte Carlo estimate is close to it.
    assert f1.p_value == pytest.approx(2 / 2**10, abs=0.0015)
    assert f1.test == "paired_permutation"
    assert f1.ci == (0.5, 0.5)  # every item moved by exactly 0.5


def test_unchanged_metric_has_zero_delta_and_p_one(two_runs: tuple[Path, Path]) -> None:
    comparison = compare_runs(*two_runs)
    names = next(d for d in comparison.metrics if d.metric == "name_accuracy")
    assert (names.delta, names.p_value, names.ci, names.significant) == (
        0.0,
        1.0,
        (0.0, 0.0),
        False,
    )
    # No no-call items: irrelevance accuracy is not compared.
    assert "irrelevance_accuracy" not in {d.metric for d in comparison.metrics}


def test_relevance_is_compared_on_any_call_items_only(tmp_path: Path) -> None:
    a = [score("x", valid=False, f1=0, any_call=True), score("y", valid=False, f1=0)]
    b = [score("x", valid=True, f1=1, any_call=True), score("y", valid=True, f1=1)]
    comparison = compare_runs(write_run(tmp_path / "a", a), write_run(tmp_path / "b", b))
    relevance = next(d for d in comparison.metrics if d.metric == "relevance_accuracy")
    assert (relevance.items, relevance.a, relevance.b) == (1, 0.0, 1.0)
    assert "irrelevance_accuracy" not in {d.metric for d in comparison.metrics}


def test_irrelevance_is_compared_on_no_call_items_only(tmp_path: Path) -> None:
    a = [score("x", valid=False, f1=0, no_call=True), score("y", valid=True, f1=1)]
    b = [score("x", valid=True, f1=1, no_call=True), score("y", valid=True, f1=1)]
    comparison = compare_runs(write_run(tmp_path / "a", a), write_run(tmp_path / "b", b))
    irrelevance = next(d for d in comparison.metrics if d.metric == "irrelevance_accuracy")
    assert (irrelevance.items, irrelevance.a, irrelevance.b) == (1, 0.0, 1.0)
    assert irrelevance.p_value == 1.0  # one flip proves nothing: 2 * 0.5**1


def test_items_are_paired_by_id_whatever_their_order(tmp_path: Path) -> None:
    a = [score("p", valid=True, f1=1), score("q", valid=False, f1=0), score("r", valid=True, f1=1)]
    b = [score("r", valid=False, f1=0), score("p", valid=True, f1=1), score("z", valid=True, f1=1)]
    comparison = compare_runs(write_run(tmp_path / "a", a), write_run(tmp_path / "b", b))
    assert (comparison.paired, comparison.only_in_a, comparison.only_in_b) == (2, 1, 1)
    ast = next(d for d in comparison.metrics if d.metric == "ast_accuracy")
    assert (ast.a, ast.b, ast.improved, ast.regressed) == (1.0, 0.5, 0, 1)
    assert comparison.broken == ("r",)


def test_per_category_deltas(tmp_path: Path) -> None:
    a = [score("1", valid=False, f1=0, category="parallel"), score("2", valid=True, f1=1)]
    b = [score("1", valid=True, f1=1, category="parallel"), score("2", valid=True, f1=1)]
    comparison = compare_runs(write_run(tmp_path / "a", a), write_run(tmp_path / "b", b))
    assert set(comparison.by_category) == {"parallel", "simple"}
    parallel = {d.metric: d.delta for d in comparison.by_category["parallel"]}
    simple = {d.metric: d.delta for d in comparison.by_category["simple"]}
    assert parallel == {"name_accuracy": 0.0, "argument_f1": 1.0, "ast_accuracy": 1.0}
    assert simple == {"name_accuracy": 0.0, "argument_f1": 0.0, "ast_accuracy": 0.0}


def test_runs_of_different_datasets_are_refused(tmp_path: Path) -> None:
    a = write_run(tmp_path / "a", [score("1", valid=True, f1=1)])
    b = tmp_path / "b"
    b.mkdir()
    (b / "results.jsonl").write_text(
        json.dumps({"id": "1", "reference": [{"name": "f"}], "score": score("1", valid=1, f1=1)})
        + "\n",
        encoding="utf-8",
    )
    with pytest.raises(CompareError) as caught:
        compare_runs(a, b)
    assert caught.value.label == "compare:different_references"


def test_non_runs_and_disjoint_runs_are_refused(tmp_path: Path) -> None:
    a = write_run(tmp_path / "a", [score("1", valid=True, f1=1)])
    b = write_run(tmp_path / "b", [score("2", valid=True, f1=1)])
    with pytest.raises(CompareError) as disjoint:
        compare_runs(a, b)
    assert disjoint.value.label == "compare:no_shared_items"
    with pytest.raises(CompareError) as not_a_run:
        compare_runs(a, tmp_path)
    assert not_a_run.value.label == "compare:not_a_run"


def test_statistics_helpers_match_hand_computed_values() -> None:
    # 9 improvements vs 1 regression: P(X <= 1) * 2 for Binomial(10, 1/2) = 22 / 1024
    assert mcnemar_exact(9, 1) == pytest.approx(22 / 1024)
    assert mcnemar_exact(1, 9) == pytest.approx(22 / 1024)
    assert mcnemar_exact(5, 5) == 1.0
    rng = np.random.default_rng(0)
    assert sign_flip_p_value(np.zeros(5), 100, rng) == 1.0
    # One item: a sign flip reproduces |mean| every time, so p = 1.
    assert sign_flip_p_value(np.array([0.3]), 99, rng) == 1.0
    low, high = paired_bootstrap_ci(np.array([0.0, 1.0] * 50), 4000, rng)
    # Mean 0.5, standard error 0.05: the 95 % interval is about 0.5 ± 0.098.
    assert low == pytest.approx(0.402, abs=0.02)
    assert high == pytest.approx(0.598, abs=0.02)


def test_comparison_is_deterministic_for_a_seed(two_runs: tuple[Path, Path]) -> None:
    first = compare_runs(*two_runs, seed=3).to_dict()
    assert compare_runs(*two_runs, seed=3).to_dict() == first


def test_written_comparison_files(two_runs: tuple[Path, Path], tmp_path: Path) -> None:
    comparison = compare_runs(*two_runs)
    paths = write_comparison(comparison, tmp_path / "out")
    data = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert data["paired"] == 10
    assert {m["metric"] for m in data["metrics"]} >= {"ast_accuracy", "argument_f1"}
    markdown = paths["md"].read_text(encoding="utf-8")
    assert "| ast_accuracy | 10 | 0.200 | 1.000 | **+0.800** |" in markdown
    assert "fixed in B (8)" in markdown
    png = paths["png"].read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(png) > 10_000
