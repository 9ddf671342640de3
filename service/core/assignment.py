"""Maximum-weight one-to-one pairing of two small sets (predicted calls and expected calls).

Tool-call predictions rarely hold more than a handful of calls, so the pairing is searched
exhaustively up to :data:`EXHAUSTIVE_LIMIT` candidate pairings (six by six): exact, a few µs,
and free of ``scipy.optimize``'s import (0.3–0.5 s, which every fresh ``toolgrade score``
process that met one parallel call used to pay). Larger matrices go to scipy's
``linear_sum_assignment``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import permutations
from typing import Final

__all__ = ["EXHAUSTIVE_LIMIT", "best_assignment"]

EXHAUSTIVE_LIMIT: Final = 720
"""Most candidate pairings searched one by one (6! for six calls on each side)."""


def best_assignment(weights: Sequence[Sequence[float]]) -> list[tuple[int, int]]:
    """``(row, column)`` pairs of a one-to-one pairing with the largest total weight.

    Every row is paired when there are no more rows than columns, else every column. Among
    pairings of equal total any one may be returned: callers rank pairings by a weight whose
    every maximum yields the same counts.

    Args:
        weights: a rectangular matrix (rows: predicted calls, columns: expected calls).

    Returns:
        The pairs, sorted by row; empty when either side is empty.

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
    transposed = len(weights) > len(weights[0])
    matrix = [list(column) for column in zip(*weights, strict=True)] if transposed else weights
    rows, columns = len(matrix), len(matrix[0])
    if math.perm(columns, rows) <= EXHAUSTIVE_LIMIT:
        pairs = _exhaustive(matrix, columns)
    else:
        from scipy.optimize import linear_sum_assignment

        chosen_rows, chosen_columns = linear_sum_assignment(matrix, maximize=True)
        pairs = [(int(r), int(c)) for r, c in zip(chosen_rows, chosen_columns, strict=True)]
    if transposed:
        return sorted((column, row) for row, column in pairs)
    return pairs


def _exhaustive(matrix: Sequence[Sequence[float]], columns: int) -> list[tuple[int, int]]:
    best_total = -math.inf
    best: tuple[int, ...] = ()
    for chosen in permutations(range(columns), len(matrix)):
        total = sum(row[column] for row, column in zip(matrix, chosen, strict=True))
        if total > best_total:
            best_total, best = total, chosen
    return list(enumerate(best))
