"""``toolgrade sft``: LoRA supervised fine-tuning with TRL's ``SFTTrainer`` and PEFT.

Trains on ``prepare``'s TRL split (``messages`` with assistant ``tool_calls`` turns and a
per-row ``tools`` JSON string). Defaults follow a common LLaMA-Factory LoRA recipe: LoRA on every
linear layer, rank 32, alpha 64, lr 2e-4, batch 2 x grad-accum 8, gradient checkpointing, bf16
where supported, loss on assistant turns only. With no GPU it runs on the CPU. The output folder
holds the adapter, the tokenizer (chat template included) and ``toolgrade_sft.json``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from training.config import SFTJobConfig, dump_config
from training.errors import TrainingJobError
from training.runtime import (
    Precision,
    check_trl_version,
    count_parameters,
    lora_config,
    make_time_limit_callback,
    resolve_model,
    score_only_labelled_tokens_on_cpu,
    select_precision,
    write_summary,
)
from training.vocabulary import data_vocabulary, restrict_vocabulary, restricted_head

SUMMARY_FILE = "toolgrade_sft.json"
TRAINING_COLUMNS = ("messages", "tools")


@dataclass(frozen=True)
class SFTResult:
    """What an SFT run did."""

    output_dir: str
    base_model: str
    train_rows: int
    eval_rows: int
    steps: int
    epochs: float
    train_loss: float | None
    first_loss: float | None
    last_loss: float | None
    eval_loss: float | None
    runtime_s: float
    trainable_parameters: int
    total_parameters: int
    device: str
    bf16: bool
    assistant_only_loss: bool
    stopped_by_time_limit: bool
    trained_vocabulary: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def canonical_chat_template(template: str | None) -> str | None:
    r"""The template without a final newline, which Jinja drops when rendering anyway.

    TRL swaps in its masked training template only for a template it recognises *exactly*;
    templates saved to a file (``chat_template.jinja``) often gain a trailing newline, which
    would make an otherwise-known template unrecognised.

    Example:
        >>> canonical_chat_template("{{ messages }}\n"), canonical_chat_template(None)
        ('{{ messages }}', None)
    """
    if template is not None and template.endswith("\n"):
        return template[:-1]
    return template


def load_conversations(path: Path, limit: int | None = None) -> Any:
    """A ``datasets.Dataset`` of ``messages``/``tools`` rows from a TRL JSONL split."""
    import datasets

    if not path.is_file():
        raise TrainingJobError(
            f"{path} does not exist; run `toolgrade prepare` first", label="sft:data_not_found"
        )
    dataset = datasets.load_dataset("json", data_files=str(path), split="train")
    missing = [column for column in ("messages",) if column not in dataset.column_names]
    if missing:
        raise TrainingJobError(
            f"{path} has no {missing[0]!r} column (expected prepare's trl/*.jsonl)",
            label="sft:invalid_data",
        )
    dataset = dataset.select_columns([c for c in TRAINING_COLUMNS if c in dataset.column_names])
    if limit is not None:
        dataset = dataset.select(range(min(limit, len(dataset))))
    return dataset


@dataclass(frozen=True)
class SFTSetup:
    """A ready SFTTrainer and what the summary needs to know about it."""

    trainer: Any
    tokenizer: Any
    base_model: str
    precision: Precision
    train_rows: int
    eval_rows: int
    time_limit: Any
    trained_vocabulary: int | None = None


def build_sft_trainer(config: SFTJobConfig, *, callbacks: tuple[Any, ...] = ()) -> SFTSetup:
    """Load the data, the base model and the tokenizer and build TRL's ``SFTTrainer``.

    Raises:
        TrainingJobError: ``sft:data_not_found``, ``sft:invalid_data``,
            ``sft:chat_template_not_trainable``, ``training:model_not_found``.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig

    base_model = resolve_model(config.model)
    train_dataset = load_conversations(config.train_file, config.max_train_rows)
    eval_dataset = load_conversations(config.eval_file) if config.eval_file else None
    precision = select_precision(config.bf16)
    trl_patches = [
        *([score_only_labelled_tokens_on_cpu] if precision.use_cpu else []),
        *([restricted_head] if config.vocabulary == "data" else []),
    ]
    if trl_patches:
        check_trl_version()  # fail before loading anything, not at the first step
    args = SFTConfig(
        output_dir=str(config.output_dir),
        learning_rate=config.learning_rate,
        per_device_train_batch_size=config.per_device_train_batch_size,
        per_device_eval_batch_size=config.per_device_train_batch_size,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        num_train_epochs=config.num_train_epochs,
        max_steps=config.max_steps,
        lr_scheduler_type=config.lr_scheduler_type,
        warmup_steps=config.warmup_steps,
        max_length=config.max_length,
        gradient_checkpointing=config.gradient_checkpointing,
        bf16=precision.bf16,
        fp16=False,
        use_cpu=precision.use_cpu,
        assistant_only_loss=config.assistant_only_loss,
        logging_steps=config.logging_steps,
        save_steps=config.save_steps,
        eval_strategy="steps" if eval_dataset is not None else "no",
        eval_steps=config.save_steps,
        seed=config.seed,
        report_to="none",
        **config.trainer_args,
    )
    tokenizer = AutoTokenizer.from_pretrained(base_model)
    if config.assistant_only_loss:
        tokenizer.chat_template = canonical_chat_template(tokenizer.chat_template)
    model = AutoModelForCausalLM.from_pretrained(
        base_model, dtype=torch.bfloat16 if precision.bf16 else torch.float32
    )
    peft_config = lora_config(config.lora) if config.lora is not None else None
    time_limit = (
        make_time_limit_callback(config.max_time_s, config.lr_scheduler_type, config.warmup_steps)
        if config.max_time_s
        else None
    )
    try:
        trainer = sft_trainer_class(trl_patches)(
            model=model,
            args=args,
            train_dataset=train_dataset,
            eval_dataset=eval_dataset,
            processing_class=tokenizer,
            peft_config=peft_config,
            callbacks=[*callbacks, *([time_limit] if time_limit else [])],
        )
    except ValueError as exc:
        if "chat template" in str(exc).lower():
            raise TrainingJobError(
                f"{base_model}'s chat template cannot mask assistant turns ({exc}); set "
                "assistant_only_loss: false or use a template with {% generation %} markers",
                label="sft:chat_template_not_trainable",
            ) from exc
        raise
    trained_vocabulary = None
    if config.vocabulary == "data":
        token_rows = [trainer.train_dataset["input_ids"]]
        if trainer.eval_dataset is not None:
            token_rows.append(trainer.eval_dataset["input_ids"])
        kept = data_vocabulary(
            (ids for rows in token_rows for ids in rows), always=tokenizer.added_tokens_decoder
        )
        trained_vocabulary = restrict_vocabulary(trainer.model, kept)
    return SFTSetup(
        trainer=trainer,
        tokenizer=tokenizer,
        base_model=base_model,
        precision=precision,
        train_rows=len(train_dataset),
        eval_rows=len(eval_dataset) if eval_dataset is not None else 0,
        time_limit=time_limit,
        trained_vocabulary=trained_vocabulary,
    )


def sft_trainer_class(
    trl_patches: Sequence[Callable[[], AbstractContextManager[Any]]],
) -> Any:
    """TRL's ``SFTTrainer``, or a subclass whose steps run inside ``trl_patches``.

    Each training and evaluation step enters every patch and leaves it when the step is done
    (backward pass included), so the patched TRL functions are never patched between steps or
    for another trainer in the process.
    """
    from trl import SFTTrainer

    if not trl_patches:
        return SFTTrainer
    patches = tuple(trl_patches)

    class PatchedSFTTrainer(SFTTrainer):
        def training_step(self, *args: Any, **kwargs: Any) -> Any:
            with _entered(patches):
                return super().training_step(*args, **kwargs)  # type: ignore[no-untyped-call]

        def prediction_step(self, *args: Any, **kwargs: Any) -> Any:
            with _entered(patches):
                return super().prediction_step(*args, **kwargs)

    return PatchedSFTTrainer


def _entered(patches: Sequence[Callable[[], AbstractContextManager[Any]]]) -> ExitStack:
    stack = ExitStack()
    with stack:
        for patch in patches:
            stack.enter_context(patch())
        return stack.pop_all()


def run_sft(config: SFTJobConfig, *, callbacks: tuple[Any, ...] = ()) -> SFTResult:
    """Fine-tune a LoRA adapter and save it with the tokenizer.

    Args:
        config: The job configuration.
        callbacks: Extra ``transformers.TrainerCallback`` objects.

    Returns:
        The run's summary, also written to ``<output_dir>/toolgrade_sft.json``.

    Raises:
        TrainingJobError: see :func:`build_sft_trainer`.
    """
    setup = build_sft_trainer(config, callbacks=callbacks)
    trainer, precision, time_limit = setup.trainer, setup.precision, setup.time_limit
    trainable, total = count_parameters(trainer.model)
    started = time.monotonic()
    train_output = trainer.train()
    runtime_s = time.monotonic() - started
    eval_loss = trainer.evaluate()["eval_loss"] if setup.eval_rows else None
    trainer.save_model(str(config.output_dir))
    setup.tokenizer.save_pretrained(str(config.output_dir))
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    result = SFTResult(
        output_dir=str(config.output_dir),
        base_model=setup.base_model,
        train_rows=setup.train_rows,
        eval_rows=setup.eval_rows,
        steps=trainer.state.global_step,
        epochs=float(trainer.state.epoch or 0.0),
        train_loss=float(train_output.training_loss) if train_output.training_loss else None,
        first_loss=float(losses[0]) if losses else None,
        last_loss=float(losses[-1]) if losses else None,
        eval_loss=float(eval_loss) if eval_loss is not None else None,
        runtime_s=round(runtime_s, 2),
        trainable_parameters=trainable,
        total_parameters=total,
        device=precision.device,
        bf16=precision.bf16,
        assistant_only_loss=config.assistant_only_loss,
        stopped_by_time_limit=bool(time_limit and time_limit.hit),
        trained_vocabulary=setup.trained_vocabulary,
    )
    write_summary(
        config.output_dir / SUMMARY_FILE,
        {
            **result.to_dict(),
            "config": dump_config(config),
            "log_history": trainer.state.log_history,
        },
    )
    return result
