"""Run the docstring examples of the HTTP layer and the clients (pytest collects doctests
only under service/core by default)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "service.auth",
    "service.exception_handlers",
    "service.logging_config",
    "service.middleware",
    "service.serving.scoring",
    "clients.errors",
    "clients.http",
    "clients.trl",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0, f"{name} has no examples"
