"""The pairing solver: the same optimum as scipy's linear_sum_assignment, on any shape."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment

from service.core.assignment import best_assignment

# Weights that tie exactly, nearly (0.1 + 0.2 against 0.3) or differ by less than an ulp of
# their neighbours, so that slacks round to tiny negatives and equal candidates abound.
_NEAR_TIES = [0.0, 0.1, 0.2, 0.3, 0.1 + 0.2, 1e-16, -1e-16, 1.0, 1.0 + 2**-52, 1e15, 1e15 + 1]


def _matrices(
    weight: st.SearchStrategy[float], max_side: int
) -> st.SearchStrategy[list[list[float]]]:
    return st.integers(1, max_side).flatmap(
        lambda rows: st.integers(1, max_side).flatmap(
            lambda columns: st.lists(
                st.lists(weight, min_size=columns, max_size=columns),
                min_size=rows,
                max_size=rows,
            )
        )
    )


_INTEGER_WEIGHTS = st.one_of(st.integers(-3, 3), st.integers(-1000, 1000)).map(float)
_ANY_WEIGHTS = st.one_of(
    _INTEGER_WEIGHTS,
    st.floats(-10, 10, allow_nan=False),
    st.sampled_from(_NEAR_TIES),
)


def _total(matrix: list[list[float]], pairs: list[tuple[int, int]]) -> float:
    return math.fsum(matrix[row][column] for row, column in pairs)


def _scipy_total(matrix: list[list[float]]) -> float:
    rows, columns = linear_sum_assignment(matrix, maximize=True)
    return _total(matrix, list(zip(rows.tolist(), columns.tolist(), strict=True)))


def _assert_one_to_one_sorted_and_full(
    matrix: list[list[float]], pairs: list[tuple[int, int]]
) -> None:
    rows, columns = len(matrix), len(matrix[0])
    assert len(pairs) == min(rows, columns)
    assert len({row for row, _ in pairs}) == len(pairs)
    assert len({column for _, column in pairs}) == len(pairs)
    assert all(0 <= row < rows and 0 <= column < columns for row, column in pairs)
    assert pairs == sorted(pairs)


@settings(max_examples=400, deadline=None)
@given(_matrices(_ANY_WEIGHTS, max_side=12))
def test_the_total_is_scipys_optimum_and_the_pairing_is_one_to_one(matrix) -> None:
    pairs = best_assignment(matrix)

    _assert_one_to_one_sorted_and_full(matrix, pairs)
    # The weights reach 1e15, where one ulp is 0.125: allow a few ulps of the largest weight.
    tolerance = 1e-9 + 8 * max(abs(weight) for row in matrix for weight in row) * 2**-52
    assert _total(matrix, pairs) == pytest.approx(_scipy_total(matrix), abs=tolerance)


@settings(max_examples=300, deadline=None)
@given(_matrices(_INTEGER_WEIGHTS, max_side=12))
def test_integer_weights_with_many_ties_reach_scipys_optimum_exactly(matrix) -> None:
    # Integer-valued weights keep every price exact, so no tolerance is needed.
    pairs = best_assignment(matrix)

    _assert_one_to_one_sorted_and_full(matrix, pairs)
    assert _total(matrix, pairs) == _scipy_total(matrix)


def test_every_row_or_every_column_is_paired_and_the_pairs_are_sorted_by_row() -> None:
    wide = [[0.0, 0.0, 9.0], [0.0, 7.0, 0.0]]
    tall = [[0.0, 1.0], [5.0, 0.0], [0.0, 8.0], [2.0, 2.0]]

    assert best_assignment(wide) == [(0, 2), (1, 1)]
    assert best_assignment(tall) == [(1, 0), (2, 1)]
    assert best_assignment([[-4.0, -1.0, -3.0]]) == [(0, 1)]
    assert best_assignment([[-4.0], [-1.0], [-3.0]]) == [(1, 0)]


def test_equal_weights_still_pair_one_to_one() -> None:
    for rows, columns in [(3, 3), (2, 5), (5, 2), (7, 7)]:
        matrix = [[1.0] * columns for _ in range(rows)]
        _assert_one_to_one_sorted_and_full(matrix, best_assignment(matrix))


def test_an_empty_side_pairs_nothing() -> None:
    assert best_assignment([]) == []
    assert best_assignment([[]]) == []


def test_a_nine_by_nine_pairing_finds_its_planted_optimum() -> None:
    # Row r's 10 lies in column 4r mod 9 (a permutation); every other weight is below 0.3.
    matrix = [
        [10.0 if column == 4 * row % 9 else (row * column) % 3 / 10 for column in range(9)]
        for row in range(9)
    ]
    assert best_assignment(matrix) == [(row, 4 * row % 9) for row in range(9)]


def test_a_greedy_choice_is_not_taken_when_the_total_is_worse() -> None:
    # Row 0's best column (9) is row 1's only good one; the optimum gives row 0 its 8.
    assert best_assignment([[8.0, 9.0], [0.0, 9.0]]) == [(0, 0), (1, 1)]


@pytest.mark.parametrize(
    ("matrix", "label"),
    [
        ([[1.0, 2.0], [3.0]], "assignment:ragged_matrix"),
        ([[1.0], [2.0, 3.0]], "assignment:ragged_matrix"),
        ([[1.0, math.nan], [3.0, 4.0]], "assignment:non_finite_weight"),
        ([[1.0, 2.0], [math.inf, 4.0]], "assignment:non_finite_weight"),
    ],
)
def test_ragged_or_non_finite_weights_are_refused(matrix, label) -> None:
    with pytest.raises(ValueError, match=label):
        best_assignment(matrix)


def _fresh_process_output(code: str) -> list[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()


def test_an_eight_by_eight_pairing_in_a_fresh_process_does_not_import_scipy() -> None:
    code = (
        "import sys\n"
        "from service.core.assignment import best_assignment\n"
        "matrix = [[float((3 * r + 5 * c) % 8) for c in range(8)] for r in range(8)]\n"
        "pairs = best_assignment(matrix)\n"
        "print(len(pairs), sum(matrix[r][c] for r, c in pairs), 'scipy' in sys.modules)\n"
    )
    # Every row and every column of this matrix holds one 7: the optimum pairs all the 7s.
    assert _fresh_process_output(code) == ["8", "56.0", "False"]


def test_a_fresh_process_scoring_a_parallel_call_imports_neither_scipy_nor_numpy() -> None:
    # Per-item verdicts need neither: numpy is imported only by the corpus summary.
    code = (
        "import sys\n"
        "from service.core.metrics import score_item\n"
        "calls = [{'name': 'f', 'arguments': {'x': 1}}, {'name': 'f', 'arguments': {'x': 2}}]\n"
        "reference = [{'name': 'f', 'arguments': {'x': 2}}, {'name': 'f', 'arguments': {'x': 3}}]\n"
        "score = score_item(calls, reference, [])\n"
        "print(score.argument_f1, 'scipy' in sys.modules, 'numpy' in sys.modules)\n"
    )
    assert _fresh_process_output(code) == ["0.5", "False", "False"]
