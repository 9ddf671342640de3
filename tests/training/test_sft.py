"""``toolgrade sft``: TRL SFTTrainer + PEFT LoRA with its default LoRA recipe, on CPU."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.training.conftest import SFT_STEPS, sft_config
from training.config import SFTJobConfig
from training.errors import TrainingJobError
from training.prepare import PrepareReport
from training.sft import SFTResult, build_sft_trainer, canonical_chat_template

LINEAR_LAYERS = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}


def test_sft_saves_a_lora_adapter_with_the_seed_shape(sft_run: SFTResult) -> None:
    out = Path(sft_run.output_dir)
    adapter = json.loads((out / "adapter_config.json").read_text())
    assert (adapter["r"], adapter["lora_alpha"]) == (32, 64)
    # "all-linear": every linear layer of every block, and not the output head.
    targets = {name.rsplit(".", 1)[-1] for name in adapter["target_modules"]}
    assert targets == LINEAR_LAYERS
    assert len(adapter["target_modules"]) == 2 * len(LINEAR_LAYERS)  # two blocks
    assert (out / "adapter_model.safetensors").is_file()
    # The tokenizer travels with the adapter, chat template included.
    assert (out / "tokenizer.json").is_file()
    assert "<tool_call>" in (out / "chat_template.jinja").read_text()


def test_sft_trains_and_reports(sft_run: SFTResult) -> None:
    assert sft_run.steps == SFT_STEPS
    assert sft_run.device == "cpu" and sft_run.bf16 is False
    assert sft_run.assistant_only_loss is True
    assert sft_run.first_loss is not None and sft_run.last_loss is not None
    assert sft_run.last_loss < sft_run.first_loss - 1.0  # it learns, visibly, in 8 steps
    assert sft_run.eval_loss is not None and sft_run.eval_loss < sft_run.first_loss
    assert 0 < sft_run.trainable_parameters < sft_run.total_parameters
    summary = json.loads((Path(sft_run.output_dir) / "toolgrade_sft.json").read_text())
    assert summary["steps"] == SFT_STEPS
    assert summary["config"]["lora"]["r"] == 32
    assert [entry["step"] for entry in summary["log_history"] if "loss" in entry] == list(
        range(1, SFT_STEPS + 1)
    )


def test_loss_covers_exactly_the_assistant_turn(
    tmp_path: Path, tiny_model_dir: Path, synth_prepared: tuple[Path, PrepareReport]
) -> None:
    config = sft_config(tiny_model_dir, synth_prepared[0], tmp_path)
    setup = build_sft_trainer(config)
    tokenizer = setup.tokenizer
    rows = [json.loads(line) for line in (synth_prepared[0] / "trl" / "train.jsonl").open()]
    assert len(setup.trainer.train_dataset) == len(rows)  # none truncated away or dropped
    for example, row in zip(setup.trainer.train_dataset, rows, strict=True):
        ids, labels = example["input_ids"], example["labels"]
        text = tokenizer.decode([t for t, label in zip(ids, labels, strict=True) if label != -100])
        target = row["messages"][-1]
        assert text.startswith("<think>\n\n</think>\n\n")
        assert text.endswith("<|im_end|>\n")  # the model learns to stop
        if target.get("tool_calls"):
            calls = [call["function"] for call in target["tool_calls"]]
            block = '<tool_call>\n{{"name": "{}", "arguments": {}}}\n</tool_call>'
            expected = "\n".join(block.format(c["name"], c["arguments"]) for c in calls)
            assert text == f"<think>\n\n</think>\n\n{expected}<|im_end|>\n"
        else:
            assert target["content"] in text
        # Nothing of the prompt (system turn, tools, query) is trained.
        assert row["messages"][1]["content"] not in text


def test_missing_data_is_a_clear_error(tmp_path: Path, tiny_model_dir: Path) -> None:
    config = SFTJobConfig(model=str(tiny_model_dir), train_file=tmp_path / "absent.jsonl")
    with pytest.raises(TrainingJobError) as caught:
        build_sft_trainer(config)
    assert caught.value.label == "sft:data_not_found"
    assert "toolgrade prepare" in caught.value.message


def test_a_template_without_masks_is_refused_with_the_fix(
    tmp_path: Path, tiny_model_dir: Path, synth_prepared: tuple[Path, PrepareReport]
) -> None:
    model_dir = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model_dir)
    (model_dir / "chat_template.jinja").write_text(
        "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}"
    )
    config = sft_config(model_dir, synth_prepared[0], tmp_path / "out")
    with pytest.raises(TrainingJobError) as caught:
        build_sft_trainer(config)
    assert caught.value.label == "sft:chat_template_not_trainable"
    assert "assistant_only_loss: false" in caught.value.message


def test_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    config = SFTJobConfig(model=str(tmp_path / "no-model"), train_file=tmp_path / "x.jsonl")
    with pytest.raises(TrainingJobError) as caught:
        build_sft_trainer(config)
    assert caught.value.label in {"training:model_not_found", "sft:data_not_found"}


def test_canonical_template_only_drops_a_final_newline(tiny_tokenizer: Any) -> None:
    from trl.chat_template_utils import qwen3_chat_template

    assert canonical_chat_template(qwen3_chat_template + "\n") == qwen3_chat_template
    assert canonical_chat_template(qwen3_chat_template) == qwen3_chat_template
    # The model's own template is Qwen3's, so TRL's masked training template applies to it.
    assert canonical_chat_template(tiny_tokenizer.chat_template) == qwen3_chat_template
