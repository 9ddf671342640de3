"""The pairing solver: the same optimum as scipy's linear_sum_assignment, on any shape."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment

from service.core.assignment import EXHAUSTIVE_LIMIT, best_assignment


def _matrices(max_side: int) -> st.SearchStrategy[list[list[float]]]:
    weight = st.one_of(st.integers(-50, 50).map(float), st.floats(-10, 10, allow_nan=False))
    return st.integers(1, max_side).flatmap(
        lambda rows: st.integers(1, max_side).flatmap(
            lambda columns: st.lists(
                st.lists(weight, min_size=columns, max_size=columns),
                min_size=rows,
                max_size=rows,
            )
        )
    )


def _total(matrix: list[list[float]], pairs: list[tuple[int, int]]) -> float:
    return math.fsum(matrix[row][column] for row, column in pairs)


@settings(max_examples=300, deadline=None)
@given(_matrices(max_side=8))
def test_the_total_is_scipys_optimum_and_the_pairing_is_one_to_one(matrix) -> None:
    pairs = best_assignment(matrix)
    rows, columns = linear_sum_assignment(matrix, maximize=True)
    expected_total = _total(matrix, list(zip(rows.tolist(), columns.tolist(), strict=True)))

    assert len(pairs) == min(len(matrix), len(matrix[0]))
    assert len({row for row, _ in pairs}) == len(pairs)
    assert len({column for _, column in pairs}) == len(pairs)
    assert pairs == sorted(pairs)
    assert _total(matrix, pairs) == pytest.approx(expected_total, abs=1e-9)


def test_an_exhaustive_search_is_bounded_and_larger_matrices_still_pair_fully() -> None:
    assert math.perm(6, 6) <= EXHAUSTIVE_LIMIT < math.perm(7, 7)
    # Row r's 10 lies in column 4r mod 9 (a permutation); every other weight is below 0.3.
    matrix = [
        [10.0 if column == 4 * row % 9 else (row * column) % 3 / 10 for column in range(9)]
        for row in range(9)
    ]
    assert best_assignment(matrix) == [(row, 4 * row % 9) for row in range(9)]


def test_a_fresh_process_scoring_a_parallel_call_does_not_import_scipy() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from service.core.metrics import score_item\n"
        "calls = [{'name': 'f', 'arguments': {'x': 1}}, {'name': 'f', 'arguments': {'x': 2}}]\n"
        "reference = [{'name': 'f', 'arguments': {'x': 2}}, {'name': 'f', 'arguments': {'x': 3}}]\n"
        "score = score_item(calls, reference, [])\n"
        "print(score.argument_f1, 'scipy.optimize' in sys.modules)\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert output == ["0.5", "False"]
