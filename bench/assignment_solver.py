"""The call-pairing solver against the two it replaced, side by side, CPU time on one core.

* **hungarian** — :func:`service.core.assignment.best_assignment`, pure Python;
* **exhaustive** — the path it replaced for pairings up to six by six (at most 720 candidate
  pairings): every injective choice of columns, best total kept;
* **scipy** — ``scipy.optimize.linear_sum_assignment(maximize=True)``, which the old solver
  imported past six by six; imported before timing, so its import is not counted here.

Each shape gets its own random integer-valued weights (0–40, so ties occur). Sides are timed
interleaved, ``--repeats`` passes each; the fastest pass of each is reported with the ratio
``other / hungarian`` (above 1: the solver here is faster). ``--bfcl`` also replays every
pairing the call matcher solves while scoring the BFCL-derived candidates
(``bench/bfcl_candidates.py``) through this solver and through the replaced one whole
(exhaustive up to six by six, scipy past it), and reports each pass's total.

Usage::

    python -m bench.assignment_solver [--repeats 15] [--matrices 300] [--bfcl]
"""

from __future__ import annotations

import argparse
import math
import os
import random
import time
from collections.abc import Callable, Sequence
from itertools import permutations
from unittest.mock import patch

# One core, one BLAS thread: set before scipy is imported.
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

from scipy.optimize import linear_sum_assignment  # noqa: E402

from service.core.assignment import best_assignment  # noqa: E402

SHAPES = (
    (1, 1),
    (1, 2),
    (2, 1),
    (2, 2),
    (2, 3),
    (3, 3),
    (3, 4),
    (4, 4),
    (5, 5),
    (6, 6),
    (8, 8),
    (20, 20),
)
EXHAUSTIVE_LIMIT = 720

Matrix = list[list[float]]
Solver = Callable[[Matrix], list[tuple[int, int]]]


def exhaustive_assignment(weights: Sequence[Sequence[float]]) -> list[tuple[int, int]]:
    """The replaced solver's path up to six by six: every injective choice of columns.

    Example:
        >>> exhaustive_assignment([[1.0], [3.0], [2.0]])
        [(1, 0)]
    """
    if not weights or not weights[0]:
        return []
    transposed = len(weights) > len(weights[0])
    matrix = [list(column) for column in zip(*weights, strict=True)] if transposed else weights
    best_total = -math.inf
    best: tuple[int, ...] = ()
    for chosen in permutations(range(len(matrix[0])), len(matrix)):
        total = sum(row[column] for row, column in zip(matrix, chosen, strict=True))
        if total > best_total:
            best_total, best = total, chosen
    if transposed:
        return sorted((column, row) for row, column in enumerate(best))
    return list(enumerate(best))


def scipy_assignment(weights: Sequence[Sequence[float]]) -> list[tuple[int, int]]:
    """Scipy's pairing as ``(row, column)`` pairs.

    Example:
        >>> scipy_assignment([[1.0, 5.0], [4.0, 1.0]])
        [(0, 1), (1, 0)]
    """
    rows, columns = linear_sum_assignment(weights, maximize=True)
    return list(zip(rows.tolist(), columns.tolist(), strict=True))


def replaced_assignment(weights: Sequence[Sequence[float]]) -> list[tuple[int, int]]:
    """The replaced solver whole: exhaustive up to six by six, scipy past it.

    Example:
        >>> replaced_assignment([[float(r == c) for c in range(7)] for r in range(7)])[-1]
        (6, 6)
    """
    if _past_exhaustive_limit(weights):
        return scipy_assignment(weights)
    return exhaustive_assignment(weights)


def _past_exhaustive_limit(weights: Sequence[Sequence[float]]) -> bool:
    rows, columns = len(weights), len(weights[0]) if weights else 0
    return math.perm(max(rows, columns), min(rows, columns)) > EXHAUSTIVE_LIMIT


def bfcl_pairings() -> list[Matrix]:
    """Every weight matrix the call matcher solves while scoring the BFCL-derived candidates."""
    from bench.bfcl_candidates import generate_candidates, load_bfcl_items
    from service.core import matching
    from service.core.metrics import score_item

    recorded: list[Matrix] = []

    def recording(weights: Sequence[Sequence[float]]) -> list[tuple[int, int]]:
        recorded.append([list(row) for row in weights])
        return best_assignment(weights)

    with patch.object(matching, "best_assignment", recording):
        for candidate in generate_candidates(load_bfcl_items()):
            item = candidate.item
            score_item(candidate.prediction, item.possible_answer, item.functions)
    return recorded


def _total(matrix: Matrix, pairs: list[tuple[int, int]]) -> float:
    return math.fsum(matrix[row][column] for row, column in pairs)


def random_matrices(rows: int, columns: int, count: int, seed: int) -> list[Matrix]:
    generator = random.Random(seed)
    return [
        [[float(generator.randint(0, 40)) for _ in range(columns)] for _ in range(rows)]
        for _ in range(count)
    ]


def fastest_pass_us(
    solvers: dict[str, Solver],
    matrices: list[Matrix],
    repeats: int,
) -> dict[str, float]:
    """Microseconds of CPU time a call in each solver's fastest pass (passes interleaved).

    Every solver must first reach the same total as the others on every matrix.
    """
    for matrix in matrices:
        totals = {name: _total(matrix, solve(matrix)) for name, solve in solvers.items()}
        assert len(set(totals.values())) == 1, (matrix, totals)
    best = dict.fromkeys(solvers, math.inf)
    for _ in range(repeats):
        for name, solve in solvers.items():
            start = time.process_time()
            for matrix in matrices:
                solve(matrix)
            best[name] = min(best[name], time.process_time() - start)
    return {name: seconds / len(matrices) * 1e6 for name, seconds in best.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--matrices", type=int, default=300, help="matrices per shape")
    parser.add_argument(
        "--bfcl", action="store_true", help="also replay the pairings of the BFCL candidates"
    )
    arguments = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    print(f"µs of CPU a call, fastest of {arguments.repeats} interleaved passes")
    header = ("shape", "hungarian", "exhaustive", "ratio", "scipy", "ratio")
    print("{:>7} {:>10} {:>11} {:>6} {:>8} {:>6}".format(*header))
    for index, (rows, columns) in enumerate(SHAPES):
        matrices = random_matrices(rows, columns, arguments.matrices, seed=index)
        solvers: dict[str, Solver] = {
            "hungarian": best_assignment,
            "scipy": scipy_assignment,
        }
        if not _past_exhaustive_limit(matrices[0]):
            solvers["exhaustive"] = exhaustive_assignment
        times = fastest_pass_us(solvers, matrices, arguments.repeats)
        ours = times["hungarian"]
        exhaustive = times.get("exhaustive", math.nan)
        print(
            f"{rows:>3}×{columns:<3} {ours:>10.2f} {exhaustive:>11.2f} {exhaustive / ours:>6.2f}"
            f" {times['scipy']:>8.2f} {times['scipy'] / ours:>6.2f}"
        )

    if arguments.bfcl:
        replay_bfcl_pairings(arguments.repeats)


def replay_bfcl_pairings(repeats: int) -> None:
    pairings = bfcl_pairings()
    solvers: dict[str, Solver] = {
        "hungarian": best_assignment,
        "replaced": replaced_assignment,
    }
    seconds = {
        name: microseconds * len(pairings) / 1e6
        for name, microseconds in fastest_pass_us(solvers, pairings, repeats).items()
    }
    past_limit = sum(map(_past_exhaustive_limit, pairings))
    ours, replaced = seconds["hungarian"], seconds["replaced"]
    print(
        f"BFCL candidates' {len(pairings)} pairings ({past_limit} past six by six), same totals:"
        f" hungarian {ours * 1e3:.1f} ms, replaced (scipy pre-imported) {replaced * 1e3:.1f} ms,"
        f" ratio {replaced / ours:.2f}"
    )


if __name__ == "__main__":
    main()
