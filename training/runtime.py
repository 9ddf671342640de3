"""Where and how a training job runs: the model it starts from, device, precision, callbacks.

Torch and transformers are imported inside the functions: the CLI imports this module's
callers lazily, and tests of pure helpers stay light.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from training.config import LoraSettings
from training.errors import TrainingJobError


def resolve_model(model: str | None) -> str:
    """The model a job starts from: the given path or hub id, else :func:`default_model_path`."""
    if model is not None:
        if _looks_local(model) and not Path(model).exists():
            raise TrainingJobError(
                f"model {model} does not exist", label="training:model_not_found"
            )
        return model
    return default_model_path()


def default_model_path() -> str:
    """The shipped tool caller, expanded once under ``TOOLGRADE_TRAINING_CACHE_DIR``.

    The cache defaults to ``.cache`` in the checkout; the model is :mod:`service.models.shipped`'s.
    """
    from service.models.default_model import ensure_default_model
    from training.settings import TrainingSettings

    return str(ensure_default_model(TrainingSettings().cache_dir))


def _looks_local(model: str) -> bool:
    return model.startswith((".", "/", "~")) or model.count("/") != 1


@dataclass(frozen=True)
class Precision:
    """The device class a job runs on and whether it trains in bf16."""

    use_cpu: bool
    bf16: bool

    @property
    def device(self) -> str:
        return "cpu" if self.use_cpu else "cuda"


def select_precision(bf16: bool | Literal["auto"]) -> Precision:
    """CPU when no CUDA device is visible; bf16 on ``auto`` only where the GPU supports it.

    Raises:
        TrainingJobError: ``training:bf16_unsupported`` when bf16 is forced on a machine
            without bf16 support.
    """
    import torch

    cuda = torch.cuda.is_available()
    supported = cuda and torch.cuda.is_bf16_supported()
    if bf16 == "auto":
        return Precision(use_cpu=not cuda, bf16=supported)
    if bf16 and not supported:
        raise TrainingJobError(
            "bf16 was requested but this machine has no GPU with bf16 support; set bf16: auto",
            label="training:bf16_unsupported",
        )
    return Precision(use_cpu=not cuda, bf16=bool(bf16))


# The TRL release series whose private functions the patches below were written against (the
# train extra pins trl==1.16.0). Any other release may have renamed or changed them.
PATCHED_TRL_SERIES = "1.16"


def check_trl_version() -> str:
    """The installed TRL version, if it is the series ToolGrade's TRL patches were written for.

    Raises:
        TrainingJobError: ``training:trl_version_unsupported`` for any other TRL release.
    """
    import trl

    version = str(trl.__version__)
    if version != PATCHED_TRL_SERIES and not version.startswith(PATCHED_TRL_SERIES + "."):
        raise TrainingJobError(
            f"this job patches private functions of TRL {PATCHED_TRL_SERIES}.x, but TRL "
            f"{version} is installed; install trl=={PATCHED_TRL_SERIES}.* (the train extra's pin)",
            label="training:trl_version_unsupported",
        )
    return version


@contextmanager
def patch_trl_private(name: str, replacement: Callable[[Any], Any]) -> Iterator[Any]:
    """Inside the block only, ``trl.trainer.utils.<name>`` is ``replacement(original)``.

    The installed TRL release is checked first and the original is restored on exit, even when
    the block raises: nothing outside the block (another trainer, a later job in the same
    process) sees the patch.

    Yields:
        The replacement in place.

    Raises:
        TrainingJobError: ``training:trl_version_unsupported`` for a TRL release the patch was
            not written for, or one without ``name``.
    """
    version = check_trl_version()
    from trl.trainer import utils as trl_utils

    original = getattr(trl_utils, name, None)
    if original is None:
        raise TrainingJobError(
            f"TRL {version} has no trl.trainer.utils.{name} to patch",
            label="training:trl_version_unsupported",
        )
    patched = replacement(original)
    setattr(trl_utils, name, patched)
    try:
        yield patched
    finally:
        setattr(trl_utils, name, original)


def score_only_labelled_tokens_on_cpu() -> AbstractContextManager[Any]:
    """Inside the block, TRL's fused LM head skips prompt positions on CPU too (same loss, ~20x
    faster).

    TRL's SFT loss projects hidden states through the LM head in tiles. On Triton devices it
    projects only the positions that carry a label; elsewhere it projects every position because
    a changing tile shape recompiles on Neuron. A CPU compiles nothing, and with a 152k-token
    vocabulary the wasted prompt projections dominate a step (4 tiny-model steps: 32 s -> 1.5 s,
    same losses). The switch is TRL's private ``_use_triton``: see :func:`patch_trl_private`.
    """

    def compact_on_cpu(original: Callable[[Any], bool]) -> Callable[[Any], bool]:
        def use_compact_scoring(device: Any) -> bool:
            return bool(device.type == "cpu" or original(device))

        return use_compact_scoring

    return patch_trl_private("_use_triton", compact_on_cpu)


TIME_SCHEDULES = ("cosine", "linear")


def time_schedule_factor(schedule: str, fraction: float, warmup: float, step: int) -> float:
    """The learning-rate multiplier of a schedule that runs over a time budget.

    ``fraction`` is the share of the budget spent; ``warmup`` is a share of the budget when
    below 1, else a number of steps.

    Example:
        >>> [round(time_schedule_factor("cosine", f, 0.0, 10), 3) for f in (0.0, 0.5, 1.0)]
        [1.0, 0.5, 0.0]
        >>> time_schedule_factor("linear", 0.05, 0.1, 3), time_schedule_factor("linear", 0.5, 4, 2)
        (0.5, 0.75)
    """
    if warmup >= 1 and step < warmup:
        return (step + 1) / warmup
    if 0 < warmup < 1 and fraction < warmup:
        return fraction / warmup
    start = warmup if 0 < warmup < 1 else 0.0
    progress = min(1.0, max(0.0, (fraction - start) / (1.0 - start)))
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * progress))
    return 1.0 - progress


def make_time_limit_callback(
    max_time_s: float, schedule: str | None = None, warmup: float = 0.0
) -> Any:
    """A ``TrainerCallback`` that ends training after ``max_time_s`` seconds of steps.

    With ``schedule`` ``"cosine"`` or ``"linear"`` the learning rate follows that schedule over
    the *time* budget (a step-based schedule cannot know how many steps the budget allows), so
    a time-bounded run still ends annealed.
    """
    from torch.optim.lr_scheduler import LambdaLR
    from transformers import TrainerCallback

    class TimeLimitCallback(TrainerCallback):
        def __init__(self) -> None:
            self.started = 0.0
            self.hit = False

        def _fraction(self) -> float:
            return (time.monotonic() - self.started) / max_time_s

        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.started = time.monotonic()
            scheduler = kwargs.get("lr_scheduler")
            if schedule in TIME_SCHEDULES and isinstance(scheduler, LambdaLR):

                def factor(step: int) -> float:
                    return time_schedule_factor(str(schedule), self._fraction(), warmup, step)

                scheduler.lr_lambdas = [factor] * len(scheduler.lr_lambdas)

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if self._fraction() >= 1.0:
                self.hit = True
                control.should_training_stop = True
                control.should_log = True  # the last loss goes into the summary too

    return TimeLimitCallback()


def lora_config(settings: LoraSettings) -> Any:
    """The PEFT ``LoraConfig`` both trainers use."""
    from peft import LoraConfig

    return LoraConfig(
        r=settings.r,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=settings.target_modules,
        modules_to_save=settings.modules_to_save,
        # Only meaningful for a fully trained module such as embed_tokens (PEFT warns otherwise).
        ensure_weight_tying=settings.ensure_weight_tying and bool(settings.modules_to_save),
        task_type="CAUSAL_LM",
    )


def write_summary(path: Path, summary: Mapping[str, Any]) -> None:
    """Write a job summary as indented JSON (parent folders created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")


def count_parameters(model: Any) -> tuple[int, int]:
    """``(trainable, total)`` parameter counts."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return trainable, total
