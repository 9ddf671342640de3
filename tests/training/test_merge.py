"""``toolgrade merge``: W + alpha/r * BA folded exactly, checked on logits, saved for serving."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from safetensors import safe_open

from training.config import MergeConfig
from training.errors import TrainingJobError
from training.merge import MergeResult, max_logit_difference, probe_batch, run_merge
from training.sft import SFTResult


def adapter_and_merged_logits(adapter: Path, merged: Path, texts: list[str]) -> tuple[Any, ...]:
    """Logits of base+adapter (PEFT, unmerged) and of the merged folder, on the same batch."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(merged)
    batch = probe_batch(tokenizer, texts)
    base_path = json.loads((adapter / "adapter_config.json").read_text())["base_model_name_or_path"]
    base = AutoModelForCausalLM.from_pretrained(base_path, dtype=torch.float32)
    with torch.no_grad():
        with_adapter = PeftModel.from_pretrained(base, str(adapter)).eval()(**batch).logits
        merged_model = AutoModelForCausalLM.from_pretrained(merged, dtype=torch.float32)
        folded = merged_model(**batch).logits
        plain_base = AutoModelForCausalLM.from_pretrained(base_path, dtype=torch.float32)
        original = plain_base(**batch).logits
    return with_adapter, folded, original, batch["attention_mask"]


def test_merged_model_reproduces_the_adapters_logits(
    sft_run: SFTResult, merged_run: MergeResult
) -> None:
    assert merged_run.max_abs_logit_diff < 1e-4
    # float32: the saved files give the merged model's logits back exactly.
    assert merged_run.max_abs_logit_diff_saved == merged_run.max_abs_logit_diff
    texts = ["Is 97 a prime number?", "Convert 20 EUR to JPY.", "Tell me a joke."]
    with_adapter, folded, original, mask = adapter_and_merged_logits(
        Path(sft_run.output_dir), Path(merged_run.output_dir), texts
    )
    assert max_logit_difference(with_adapter, folded, mask) < 1e-4
    # ...and the adapter is really in there: the base model alone is far from it.
    assert max_logit_difference(original, folded, mask) > 1.0


def test_merged_folder_loads_like_a_plain_checkpoint(merged_run: MergeResult) -> None:
    out = Path(merged_run.output_dir)
    names = {path.name for path in out.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "chat_template.jinja"} <= names
    assert "adapter_config.json" not in names  # no PEFT left: vLLM/transformers load it as is
    with safe_open(str(out / "model.safetensors"), "pt") as weights:
        assert not [key for key in weights.keys() if "lora" in key]  # noqa: SIM118
    summary = json.loads((out / "toolgrade_merge.json").read_text())
    assert summary["max_abs_logit_diff"] == merged_run.max_abs_logit_diff


def test_default_dtype_is_bf16_and_the_rounding_is_reported(
    tmp_path: Path, sft_run: SFTResult, merged_run: MergeResult
) -> None:
    result = run_merge(MergeConfig(adapter=Path(sft_run.output_dir), output_dir=tmp_path / "bf16"))
    assert result.dtype == "bfloat16"
    assert json.loads((tmp_path / "bf16" / "config.json").read_text())["dtype"] == "bfloat16"
    with safe_open(str(tmp_path / "bf16" / "model.safetensors"), "pt") as weights:
        dtypes = {str(weights.get_tensor(key).dtype) for key in weights.keys()}  # noqa: SIM118
    assert dtypes == {"torch.bfloat16"}
    # The exactness check runs in float32 before the cast; the cast's rounding is reported.
    assert result.max_abs_logit_diff == pytest.approx(merged_run.max_abs_logit_diff, abs=1e-6)
    assert result.max_abs_logit_diff_saved is not None
    assert result.max_abs_logit_diff < result.max_abs_logit_diff_saved < 2.0


def test_refuses_to_overwrite_without_force(tmp_path: Path, sft_run: SFTResult) -> None:
    out = tmp_path / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("precious")
    config = MergeConfig(adapter=Path(sft_run.output_dir), output_dir=out, dtype="float32")
    with pytest.raises(TrainingJobError) as caught:
        run_merge(config)
    assert caught.value.label == "merge:output_exists"
    assert "--force" in caught.value.message
    assert (out / "keep.txt").read_text() == "precious"
    run_merge(config.model_copy(update={"force": True}))
    assert not (out / "keep.txt").exists() and (out / "model.safetensors").is_file()


def test_a_folder_without_an_adapter_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TrainingJobError) as caught:
        run_merge(MergeConfig(adapter=tmp_path, output_dir=tmp_path / "out"))
    assert caught.value.label == "merge:adapter_not_found"
