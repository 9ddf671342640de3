"""Maximum-weight one-to-one pairing of two small sets (predicted calls and expected calls).

Exact and pure Python: the Hungarian (Kuhn–Munkres) algorithm with dual prices and shortest
augmenting paths, O(rows² · columns) once the matrix is turned so that rows ≤ columns; a
single row is its largest weight. Pure Python keeps ``scipy.optimize`` out of the process. The
solver before this one searched pairings exhaustively up to six by six and imported scipy past
that: an import that costs ≈ 0.3 s of CPU on top of numpy in every fresh process (``toolgrade
score`` and each of its workers), and scoring the 34,165 BFCL-derived candidates of
``bench/bfcl_candidates.py`` asks for 5,487 pairings, 25 of them past six by six (7 × 6, 7 × 8,
8 × 8, 9 × 8).

``python -m bench.assignment_solver`` times it in CPU time on one core against that exhaustive
path and against scipy's ``linear_sum_assignment`` (already imported), on random integer
weights. Measured: the exhaustive path is ahead only at 2 × 2 (≈ 2.2 against 4 µs a call) and
about even at 3 × 3 (≈ 6 µs); this solver is ahead at one row or column (≈ 0.8 against 1.3 µs
at 1 × 1) and from 2 × 3 up (≈ 2× at 4 × 4, ≈ 40× at 6 × 6: 18 against 630–800 µs). Scipy
is ahead from 2 × 2 up (≈ 5× at 8 × 8, 30 against 6.5 µs; ≈ 7× at 20 × 20, 185 against
27 µs). Its ``--bfcl`` replay of the 5,487 pairings above: the same totals, and 1.7–2.9×
less CPU than the old path with scipy already imported across runs on a shared core (≈ 24–28
against 44–69 ms a pass). Keeping the exhaustive search for 2 × 2 alone would save ≈ 2 µs on
each of that set's 1,367 such pairings, ≈ 3 ms in all: not worth a second algorithm.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["best_assignment"]


def best_assignment(weights: Sequence[Sequence[float]]) -> list[tuple[int, int]]:
    """``(row, column)`` pairs of a one-to-one pairing with the largest total weight.

    Every row is paired when there are no more rows than columns, else every column. Among
    pairings of equal total any one may be returned: callers rank pairings by a weight whose
    every maximum yields the same counts. Ties and rounding cannot stall the search; with
    integer-valued weights (as the matcher's packed ones) every price is exact, and otherwise
    the total falls short of the optimum by at most the rounding of the prices.

    Args:
        weights: a rectangular matrix of finite floats (rows: predicted calls, columns:
            expected calls); weights may be negative or equal.

    Returns:
        The pairs, sorted by row; empty when either side is empty.

    Raises:
        ValueError: the rows differ in length, or a weight is NaN or infinite.

    Example:
        >>> best_assignment([[1, 5], [4, 1]])
        [(0, 1), (1, 0)]
        >>> best_assignment([[1.0], [3.0], [2.0]])
        [(1, 0)]
        >>> best_assignment([])
        []
    """
    if not weights or not weights[0]:
        return []
    width = len(weights[0])
    for row in weights:
        if len(row) != width:
            raise ValueError(f"assignment:ragged_matrix: rows of {width} and {len(row)} weights")
        if not all(map(math.isfinite, row)):
            raise ValueError("assignment:non_finite_weight: every weight must be a finite number")
    if len(weights) <= width:
        return _hungarian(weights, width)
    transposed = list(zip(*weights, strict=True))
    return sorted((row, column) for column, row in _hungarian(transposed, len(weights)))


def _hungarian(matrix: Sequence[Sequence[float]], columns: int) -> list[tuple[int, int]]:
    """Maximum-weight pairing of every row (``len(matrix) <= columns``), sorted by row.

    Rows join one at a time. Prices keep ``row_price[r] + column_price[c] >= matrix[r][c]``
    with equality on every pair; each new row reaches a free column along the path of least
    total slack (Dijkstra over slacks), the prices shift by that slack, and the path flips.
    Each pass of the inner loop retires one free column, so the search ends after at most
    ``columns`` passes whatever the weights' ties or rounding.
    """
    if len(matrix) == 1:  # the commonest case: one call of a name against a few
        return [(0, max(range(columns), key=matrix[0].__getitem__))]
    root = columns  # a virtual column whose owner is the row being inserted
    row_price = [0.0] * len(matrix)
    column_price = [0.0] * (columns + 1)
    owner = [-1] * (columns + 1)
    previous = [root] * columns
    for new_row in range(len(matrix)):
        owner[root] = new_row
        slack = [math.inf] * columns
        free = list(range(columns))
        reached = [root]
        column = root
        while True:
            row = owner[column]
            row_weights = matrix[row]
            price = row_price[row]
            delta = math.inf
            nearest = free[0]
            for candidate in free:
                gap = slack[candidate]
                reduced = price + column_price[candidate] - row_weights[candidate]
                if reduced < gap:
                    slack[candidate] = gap = reduced
                    previous[candidate] = column
                if gap < delta:
                    delta = gap
                    nearest = candidate
            for seen in reached:
                row_price[owner[seen]] -= delta
                column_price[seen] += delta
            for candidate in free:
                slack[candidate] -= delta
            free.remove(nearest)
            reached.append(nearest)
            column = nearest
            if owner[column] < 0:
                break
        while column != root:
            back = previous[column]
            owner[column] = owner[back]
            column = back
    return sorted((owner[column], column) for column in range(columns) if owner[column] >= 0)
