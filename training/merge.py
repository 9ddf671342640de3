"""``toolgrade merge``: fold a LoRA adapter into its base model (``W + alpha/r * B A``).

The merge runs in float32 so the folded weights are exact; before saving, the merged model's
logits on a probe batch (the chat template rendered with a tool) are compared with the
adapter's, and the run fails when they differ by more than ``tolerance``. The weights are then
cast to ``dtype`` (bf16 by default) and saved with the tokenizer and its chat template, so
vLLM, transformers and ``toolgrade serve`` load the folder directly. The saved folder is
reloaded and must give back exactly the merged weights (tied embeddings included); the saved
model's logit difference from the adapter (the cast's rounding) is reported. An existing non-empty
output folder is never overwritten without ``force``.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from training.config import MergeConfig, dump_config
from training.errors import TrainingJobError
from training.runtime import write_summary

SUMMARY_FILE = "toolgrade_merge.json"
PROBE_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "Name of the city."}},
            "required": ["city"],
        },
    },
}


@dataclass(frozen=True)
class MergeResult:
    """What a merge did and how closely the merged model matches the adapter."""

    output_dir: str
    base_model: str
    adapter: str
    dtype: str
    probe_tokens: int
    max_abs_logit_diff: float
    max_abs_logit_diff_saved: float | None
    runtime_s: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def adapter_base_model(adapter: Path) -> str:
    """The base model recorded in an adapter's ``adapter_config.json``."""
    config_file = adapter / "adapter_config.json"
    if not config_file.is_file():
        raise TrainingJobError(
            f"{adapter} has no adapter_config.json (expected a PEFT adapter from `toolgrade sft`)",
            label="merge:adapter_not_found",
        )
    base = json.loads(config_file.read_text(encoding="utf-8")).get("base_model_name_or_path")
    if not base:
        raise TrainingJobError(
            f"{config_file} names no base model; pass --base-model", label="merge:no_base_model"
        )
    return str(base)


def probe_batch(tokenizer: Any, prompts: list[str]) -> dict[str, Any]:
    """Token ids of each probe prompt rendered by the chat template with one tool, padded."""
    texts = [
        tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}],
            tools=[PROBE_TOOL],
            add_generation_prompt=True,
            tokenize=False,
        )
        for prompt in prompts
    ]
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return dict(tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False))


def max_logit_difference(first: Any, second: Any, attention_mask: Any) -> float:
    """Largest absolute difference between two logit tensors over real (unpadded) tokens."""
    mask = attention_mask.bool()
    return float((first.float() - second.float()).abs()[mask].max())


def _check_output_dir(output_dir: Path, force: bool) -> None:
    if output_dir.exists() and any(output_dir.iterdir()):
        if not force:
            raise TrainingJobError(
                f"{output_dir} exists and is not empty; pass --force to overwrite it",
                label="merge:output_exists",
            )
        shutil.rmtree(output_dir)


def _verify_saved_copy(
    config: MergeConfig, merged: Any, probe: dict[str, Any], adapter_logits: Any
) -> float:
    """Reload what serving will load; demand the exact merged weights back.

    Returns the saved model's largest logit difference from the adapter (the cast's rounding
    for bf16/fp16; within ``tolerance`` for float32).
    """
    import torch
    from transformers import AutoModelForCausalLM

    reloaded = AutoModelForCausalLM.from_pretrained(
        str(config.output_dir), dtype=getattr(torch, config.dtype), device_map=config.device_map
    )
    expected, saved = merged.state_dict(), reloaded.state_dict()
    # Tied weights (embeddings = output head) must come back tied to the trained values.
    wrong = sorted(
        name
        for name, tensor in expected.items()
        if name not in saved or not torch.equal(saved[name].to(tensor.device), tensor)
    )
    if wrong:
        raise TrainingJobError(
            f"{config.output_dir} does not hold the merged weights ({', '.join(wrong[:5])}...)",
            label="merge:reload_mismatch",
        )
    with torch.no_grad():
        saved_logits = reloaded(**probe).logits
    difference = max_logit_difference(adapter_logits, saved_logits, probe["attention_mask"])
    if config.dtype == "float32" and difference > config.tolerance:
        raise TrainingJobError(
            f"the saved float32 model's logits differ from the adapter's by {difference:.3g}",
            label="merge:reload_mismatch",
        )
    return difference


def run_merge(config: MergeConfig) -> MergeResult:
    """Merge, verify and save (see the module doc).

    Raises:
        TrainingJobError: ``merge:output_exists``, ``merge:adapter_not_found``,
            ``merge:no_base_model``, ``merge:logits_mismatch``, ``merge:reload_mismatch``.
    """
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    started = time.monotonic()
    adapter = config.adapter
    base_model = config.base_model or adapter_base_model(adapter)
    _check_output_dir(config.output_dir, config.force)
    has_tokenizer = (adapter / "tokenizer_config.json").is_file()
    tokenizer = AutoTokenizer.from_pretrained(str(adapter) if has_tokenizer else base_model)

    base = AutoModelForCausalLM.from_pretrained(
        base_model, dtype=torch.float32, device_map=config.device_map
    )
    model = PeftModel.from_pretrained(base, str(adapter))
    model.eval()
    probe = {
        key: value.to(model.device)
        for key, value in probe_batch(tokenizer, config.probe_prompts).items()
    }
    with torch.no_grad():
        adapter_logits = model(**probe).logits
        merged = model.merge_and_unload()
        merged_logits = merged(**probe).logits
    difference = max_logit_difference(adapter_logits, merged_logits, probe["attention_mask"])
    if difference > config.tolerance:
        raise TrainingJobError(
            f"merged logits differ from the adapter's by {difference:.3g} "
            f"(> tolerance {config.tolerance:g}); nothing was saved",
            label="merge:logits_mismatch",
        )
    dtype = getattr(torch, config.dtype)
    merged = merged.to(dtype)
    config.output_dir.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(str(config.output_dir))
    tokenizer.save_pretrained(str(config.output_dir))
    saved_difference = None
    if config.verify_reload:
        saved_difference = _verify_saved_copy(config, merged, probe, adapter_logits)
    result = MergeResult(
        output_dir=str(config.output_dir),
        base_model=base_model,
        adapter=str(adapter),
        dtype=config.dtype,
        probe_tokens=int(probe["attention_mask"].sum()),
        max_abs_logit_diff=difference,
        max_abs_logit_diff_saved=saved_difference,
        runtime_s=round(time.monotonic() - started, 2),
    )
    write_summary(
        config.output_dir / SUMMARY_FILE, {**result.to_dict(), "config": dump_config(config)}
    )
    return result
