"""Shared training runs: prepare -> SFT -> merge on the tiny Qwen3 model, each done once.

The runs are session fixtures so the job tests (``test_sft``, ``test_merge``, ``test_grpo``)
and the end-to-end test share them instead of training the same adapter several times on two
shared cores. Sizes are small but every default that matters stays on: LoRA r32/alpha 64 on
all linear layers, assistant-only loss, gradient checkpointing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from training.config import LoraSettings, MergeConfig, PrepareConfig, SFTJobConfig
from training.merge import MergeResult, run_merge
from training.prepare import PrepareReport, prepare_dataset
from training.sft import SFTResult, run_sft
from training.synth import SynthOptions, generate_rows, write_jsonl

SYNTH_ROWS = 120
SFT_STEPS = 8


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_model_dir: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tiny_model_dir))


@pytest.fixture(scope="session")
def synth_prepared(
    tmp_path_factory: pytest.TempPathFactory, tiny_tokenizer: Any
) -> tuple[Path, PrepareReport]:
    """Generated rows run through ``prepare`` (one distractor tool at most: short prompts)."""
    root = tmp_path_factory.mktemp("pipeline")
    source = root / "synth.jsonl"
    write_jsonl(generate_rows(SynthOptions(count=SYNTH_ROWS, seed=7, max_distractors=1)), source)
    config = PrepareConfig(source=str(source), output_dir=root / "prepared")
    return config.output_dir, prepare_dataset(config, tokenizer=tiny_tokenizer)


def sft_config(tiny_model_dir: Path, prepared: Path, output_dir: Path) -> SFTJobConfig:
    """A few steps of the default recipe; a high rate and trained embeddings so they show."""
    return SFTJobConfig(
        model=str(tiny_model_dir),
        train_file=prepared / "trl" / "train.jsonl",
        eval_file=prepared / "trl" / "eval.jsonl",
        output_dir=output_dir,
        lora=LoraSettings(modules_to_save=["embed_tokens"]),
        learning_rate=5e-3,
        per_device_train_batch_size=2,
        gradient_accumulation_steps=1,
        max_steps=SFT_STEPS,
        logging_steps=1,
        lr_scheduler_type="constant",
        warmup_steps=0,
    )


@pytest.fixture(scope="session")
def sft_run(
    tmp_path_factory: pytest.TempPathFactory,
    tiny_model_dir: Path,
    synth_prepared: tuple[Path, PrepareReport],
) -> SFTResult:
    output_dir = tmp_path_factory.mktemp("sft") / "adapter"
    return run_sft(sft_config(tiny_model_dir, synth_prepared[0], output_dir))


@pytest.fixture(scope="session")
def merged_run(tmp_path_factory: pytest.TempPathFactory, sft_run: SFTResult) -> MergeResult:
    """The adapter merged in float32 (served by vLLM in float32, so outputs compare exactly)."""
    output_dir = tmp_path_factory.mktemp("merged") / "model"
    return run_merge(
        MergeConfig(adapter=Path(sft_run.output_dir), output_dir=output_dir, dtype="float32")
    )
