"""TRL's private functions are patched inside a block only, for the TRL release they fit."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest
import torch
import trl
from trl.trainer import utils as trl_utils

from training.errors import TrainingJobError
from training.runtime import PATCHED_TRL_SERIES, score_only_labelled_tokens_on_cpu
from training.vocabulary import restricted_head

PATCHES: dict[str, tuple[Callable[[], AbstractContextManager[Any]], str]] = {
    "cpu_compact_scoring": (score_only_labelled_tokens_on_cpu, "_use_triton"),
    "restricted_head": (restricted_head, "_ChunkedLogProbFunction"),
}


def test_the_installed_trl_is_the_patched_series() -> None:
    assert trl.__version__.startswith(PATCHED_TRL_SERIES + ".")


def test_cpu_scoring_is_compact_inside_the_block_only() -> None:
    cpu = torch.device("cpu")
    original = trl_utils._use_triton
    assert original(cpu) is False  # TRL's own rule: every position on a CPU

    with score_only_labelled_tokens_on_cpu() as patched:
        assert trl_utils._use_triton is patched
        assert patched(cpu) is True
    assert trl_utils._use_triton is original


@pytest.mark.parametrize("name", sorted(PATCHES))
def test_the_original_is_restored_when_the_block_raises(name: str) -> None:
    patch, attribute = PATCHES[name]
    original = getattr(trl_utils, attribute)

    with pytest.raises(RuntimeError, match="step failed"), patch():
        assert getattr(trl_utils, attribute) is not original
        raise RuntimeError("step failed")
    assert getattr(trl_utils, attribute) is original


@pytest.mark.parametrize("version", ["1.17.0", "2.0.0", "1.1.6"])
@pytest.mark.parametrize("name", sorted(PATCHES))
def test_another_trl_release_is_refused_before_anything_is_patched(
    name: str, version: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    patch, attribute = PATCHES[name]
    original = getattr(trl_utils, attribute)
    monkeypatch.setattr(trl, "__version__", version)

    with pytest.raises(TrainingJobError, match=f"TRL {version} is installed") as error, patch():
        pytest.fail("the block must not run")
    assert error.value.label == "training:trl_version_unsupported"
    assert getattr(trl_utils, attribute) is original


@pytest.mark.parametrize("name", sorted(PATCHES))
def test_a_missing_private_function_is_refused(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    patch, attribute = PATCHES[name]
    monkeypatch.delattr(trl_utils, attribute)

    missing = f"no trl.trainer.utils.{attribute}"
    with pytest.raises(TrainingJobError, match=missing) as error, patch():
        pytest.fail("the block must not run")
    assert error.value.label == "training:trl_version_unsupported"
