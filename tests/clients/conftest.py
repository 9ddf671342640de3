"""Data the framework tests share: ``toolgrade prepare`` run once on the xLAM sample."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.shared import REPO_ROOT
from training.config import PrepareConfig
from training.prepare import PrepareReport, prepare_dataset

XLAM_SAMPLE = REPO_ROOT / "training" / "fixtures" / "xlam_sample.jsonl"


@pytest.fixture(scope="session")
def prepared_xlam(
    tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path
) -> tuple[Path, PrepareReport]:
    """``prepare``'s outputs (LLaMA-Factory, TRL, GRPO, verl) for the xLAM sample rows."""
    from transformers import AutoTokenizer

    out = tmp_path_factory.mktemp("prepared-xlam")
    config = PrepareConfig(source=str(XLAM_SAMPLE), output_dir=out)
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    return out, prepare_dataset(config, tokenizer=tokenizer)
