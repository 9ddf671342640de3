"""Pytest set-up for the whole repository.

Doctests are collected from every package (``testpaths``) with no hand-kept module list: a
module outside ``tests/`` is imported for its examples only when its source holds one, so
modules without examples (the vLLM engine, ``python -m service``'s ``__main__``) are never
imported just to find none.
"""

from __future__ import annotations

from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent / "tests"


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if collection_path.suffix != ".py" or collection_path.is_relative_to(TESTS_DIR):
        return None
    if collection_path.name == "conftest.py":
        return None
    return ">>> " not in collection_path.read_text(encoding="utf-8")
