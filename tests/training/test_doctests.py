"""The runnable ``Example:`` blocks in training's docstrings (pytest collects doctests only
under ``service/core``)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "training.config",
    "training.synth",
    "training.prepare",
    "training.sft",
    "training.grpo",
    "training.runtime",
    "training.vocabulary",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    results = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert results.attempted > 0
    assert results.failed == 0
