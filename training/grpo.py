"""``toolgrade grpo``: TRL's ``GRPOTrainer`` rewarded by ToolGrade.

Prompts come from ``prepare``'s ``grpo/*.jsonl``: a ``prompt`` string already rendered with the
row's own tools (TRL renders conversational prompts with one trainer-wide tool list, which xLAM
rows do not have) and a ``label`` (``{"answers", "tools"}``) that TRL hands to the reward
function. The reward is the service's ``POST /reward`` through the client's TRL reward function,
or, with ``reward.local``, the same computation in-process with the core. The four components
(``json_parse``, ``schema_hit``, ``exec``, ``semantic``) are logged as ``toolgrade/<component>``
next to TRL's own ``reward``. A reward that cannot be obtained stops the run with
``grpo:reward_unavailable``; it never silently becomes 0.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from training.config import GRPOJobConfig, RewardSettings, dump_config
from training.errors import TrainingJobError
from training.runtime import (
    count_parameters,
    lora_config,
    resolve_model,
    select_precision,
    write_summary,
)

SUMMARY_FILE = "toolgrade_grpo.json"
# Components are logged as toolgrade/<component>, next to TRL's own reward.
COMPONENT_METRIC_PREFIX = "toolgrade"
PROMPT_COLUMNS = ("prompt", "label")

# A call every profile scores 1.0: used to check the reward source before loading a model.
PREFLIGHT_COMPLETION = '<tool_call>\n{"name": "ping", "arguments": {"n": 1}}\n</tool_call>'
PREFLIGHT_LABEL = json.dumps(
    {
        "answers": [{"name": "ping", "arguments": {"n": 1}}],
        "tools": [{"name": "ping", "description": "", "parameters": {"n": {"type": "int"}}}],
    }
)

RewardFunction = Callable[..., list[float | None]]


class RewardUnavailableError(TrainingJobError):
    """The reward for a batch could not be obtained (service down, bad answer, non-finite)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, label="grpo:reward_unavailable")


@dataclass(frozen=True)
class GRPOResult:
    """What a GRPO run did."""

    output_dir: str
    base_model: str
    reward_source: str
    prompts: int
    steps: int
    runtime_s: float
    first_reward: float | None
    last_reward: float | None
    mean_reward: float | None
    components: dict[str, float]
    trainable_parameters: int
    total_parameters: int
    device: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _loud(reward: Any, source: str) -> RewardFunction:
    """``reward`` with every failure turned into ``grpo:reward_unavailable`` (never a 0)."""

    def loud_reward(completions: Sequence[Any], label: Sequence[Any], **kwargs: Any) -> list[Any]:
        try:
            rewards: list[Any] = reward(completions=completions, label=label, **kwargs)
        except Exception as exc:
            raise RewardUnavailableError(
                f"no reward from {source}: {type(exc).__name__}: {exc}"
            ) from exc
        return rewards

    loud_reward.__name__ = loud_reward.__qualname__ = reward.__name__
    return loud_reward


def local_reward_function(profile: str, weights: Mapping[str, float] | None) -> RewardFunction:
    """The reward computed in-process with the core (the numbers ``/reward`` returns).

    Example:
        >>> reward = local_reward_function("weighted", None)
        >>> reward(prompts=["p"], completions=[PREFLIGHT_COMPLETION], label=[PREFLIGHT_LABEL])
        [1.0]
    """
    from clients.trl import make_trl_reward_function

    reward = make_trl_reward_function(
        None, profile=profile, weights=weights, metric_prefix=COMPONENT_METRIC_PREFIX
    )
    return _loud(reward, "the local reward")


def reward_name(profile: str) -> str:
    """What TRL logs the reward as (``rewards/<name>/mean``), the same for both sources."""
    from clients.trl import default_reward_name

    return default_reward_name(profile)


def remote_reward_function(settings: RewardSettings) -> RewardFunction:
    """The client's TRL reward function calling ``POST {url}/reward``, failures made loud."""
    from clients.trl import make_trl_reward_function

    api_key = settings.api_key.get_secret_value() if settings.api_key else None
    reward = make_trl_reward_function(
        settings.url,
        api_key=api_key or os.environ.get("TOOLGRADE_API_KEY") or None,
        profile=settings.profile,
        weights=settings.weights,
        timeout=settings.timeout_s,
        max_retries=settings.max_retries,
        metric_prefix=COMPONENT_METRIC_PREFIX,
    )
    return _loud(reward, f"{settings.url}/reward")


def build_reward_function(settings: RewardSettings) -> RewardFunction:
    """The reward GRPO optimises, checked once on a known call before training starts.

    Raises:
        RewardUnavailableError: the source cannot be reached or answers nonsense.
        TrainingJobError: ``grpo:invalid_reward_config`` for an unknown profile or bad weights.
    """
    from service.core.errors import ToolGradeError

    try:
        reward = (
            local_reward_function(settings.profile, settings.weights)
            if settings.local
            else remote_reward_function(settings)
        )
    except ToolGradeError as exc:
        raise TrainingJobError(
            f"invalid reward settings: {exc.message}", label="grpo:invalid_reward_config"
        ) from exc
    preflight = reward(prompts=[""], completions=[PREFLIGHT_COMPLETION], label=[PREFLIGHT_LABEL])
    if preflight != [1.0]:
        raise RewardUnavailableError(
            f"the reward source scored a perfect call {preflight}, expected [1.0]"
        )
    return reward


def load_prompts(path: Path, limit: int | None = None) -> Any:
    """A ``datasets.Dataset`` with ``prompt`` and ``label`` from a ``grpo/*.jsonl`` split."""
    import datasets

    if not path.is_file():
        raise TrainingJobError(
            f"{path} does not exist; run `toolgrade prepare` first", label="grpo:data_not_found"
        )
    dataset = datasets.load_dataset("json", data_files=str(path), split="train")
    missing = [column for column in PROMPT_COLUMNS if column not in dataset.column_names]
    if missing:
        raise TrainingJobError(
            f"{path} lacks columns {missing} (expected prepare's grpo/*.jsonl)",
            label="grpo:invalid_data",
        )
    dataset = dataset.select_columns(list(PROMPT_COLUMNS))
    if limit is not None:
        dataset = dataset.select(range(min(limit, len(dataset))))
    return dataset


def reward_history(log_history: Sequence[Mapping[str, Any]]) -> list[dict[str, float]]:
    """Per logged step: ``reward`` and each ``toolgrade/<component>`` mean."""
    rows: list[dict[str, float]] = []
    for entry in log_history:
        if "reward" not in entry:
            continue
        row = {"step": float(entry.get("step", len(rows) + 1)), "reward": float(entry["reward"])}
        for key, value in entry.items():
            if key.startswith("toolgrade/"):
                row[key.removeprefix("toolgrade/")] = float(value)
        rows.append(row)
    return rows


def run_grpo(config: GRPOJobConfig, *, callbacks: tuple[Any, ...] = ()) -> GRPOResult:
    """Train with GRPO and save the result (a LoRA adapter unless ``lora`` is null).

    Raises:
        TrainingJobError: ``grpo:reward_unavailable`` (before or during training),
            ``grpo:data_not_found``, ``grpo:invalid_data``, ``grpo:invalid_batch``,
            ``grpo:invalid_reward_config``, ``training:model_not_found``.
    """
    reward = build_reward_function(config.reward)
    dataset = load_prompts(config.train_file, config.max_prompts)
    base_model = resolve_model(config.model)

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    precision = select_precision(config.bf16)
    try:
        args = GRPOConfig(
            output_dir=str(config.output_dir),
            learning_rate=config.learning_rate,
            per_device_train_batch_size=config.per_device_train_batch_size,
            gradient_accumulation_steps=config.gradient_accumulation_steps,
            num_train_epochs=config.num_train_epochs,
            max_steps=config.max_steps,
            num_generations=config.num_generations,
            beta=config.beta,
            max_completion_length=config.max_completion_length,
            temperature=config.temperature,
            gradient_checkpointing=config.gradient_checkpointing,
            bf16=precision.bf16,
            fp16=False,
            use_cpu=precision.use_cpu,
            use_vllm=config.use_vllm,
            vllm_mode=config.vllm_mode,
            logging_steps=config.logging_steps,
            save_steps=config.save_steps,
            seed=config.seed,
            report_to="none",
            **config.trainer_args,
        )
    except ValueError as exc:
        raise TrainingJobError(f"invalid GRPO settings: {exc}", label="grpo:invalid_batch") from exc
    tokenizer = AutoTokenizer.from_pretrained(base_model)
    model = AutoModelForCausalLM.from_pretrained(
        base_model, dtype=torch.bfloat16 if precision.bf16 else torch.float32
    )
    peft_config = lora_config(config.lora) if config.lora is not None else None
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=[reward],
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=list(callbacks),
    )
    trainable, total = count_parameters(trainer.model)
    started = time.monotonic()
    trainer.train()
    runtime_s = time.monotonic() - started
    trainer.save_model(str(config.output_dir))
    tokenizer.save_pretrained(str(config.output_dir))
    history = reward_history(trainer.state.log_history)
    rewards = [row["reward"] for row in history]
    components = {
        key: sum(row[key] for row in history if key in row) / len(history)
        for key in ("json_parse", "schema_hit", "exec", "semantic")
        if history and any(key in row for row in history)
    }
    result = GRPOResult(
        output_dir=str(config.output_dir),
        base_model=base_model,
        reward_source="local" if config.reward.local else f"{config.reward.url}/reward",
        prompts=len(dataset),
        steps=trainer.state.global_step,
        runtime_s=round(runtime_s, 2),
        first_reward=rewards[0] if rewards else None,
        last_reward=rewards[-1] if rewards else None,
        mean_reward=sum(rewards) / len(rewards) if rewards else None,
        components=components,
        trainable_parameters=trainable,
        total_parameters=total,
        device=precision.device,
    )
    write_summary(
        config.output_dir / SUMMARY_FILE,
        {
            **result.to_dict(),
            "reward_history": history,
            "config": dump_config(config),
            "log_history": trainer.state.log_history,
        },
    )
    return result
