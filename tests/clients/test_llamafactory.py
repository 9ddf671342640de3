"""LLaMA-Factory 0.9.5's own data pipeline reading ``prepare``'s ShareGPT files.

LLaMA-Factory is installed test-only (``--no-deps``). Two things stand in the way of importing
it here, and both are bypassed only for the import:

* ``llamafactory/data/mm_plugin.py`` runs ``import torchaudio`` at module level (for audio
  inputs); PyPI has no torchaudio for this torch (2.13), so an empty stand-in module is
  registered while ``llamafactory.data`` imports and removed afterwards (text data never
  reaches the audio code);
* its version check refuses transformers 5.19 (it wants <= 5.6): ``DISABLE_VERSION_CHECK=1``,
  LLaMA-Factory's own switch.

Then ``get_dataset`` — the function LLaMA-Factory's SFT workflow calls — reads
``dataset_info.json``, converts each ShareGPT row (``SharegptDatasetConverter``, which drops
rows that break its turn rules with only a warning) and tokenises it with its ``qwen3_nothink``
template and the tiny model's real Qwen tokenizer.
"""

from __future__ import annotations

import importlib.machinery
import json
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from training.prepare import PrepareReport


@pytest.fixture(scope="module")
def llamafactory_data() -> Any:
    """``llamafactory.data`` imported with the torchaudio stand-in (removed again after)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DISABLE_VERSION_CHECK", "1")
        stand_in = types.ModuleType("torchaudio")
        stand_in.__spec__ = importlib.machinery.ModuleSpec("torchaudio", None)
        patch.setitem(sys.modules, "torchaudio", stand_in)
        import llamafactory.data as data
        import llamafactory.hparams as hparams
    return data, hparams


def load_with_llamafactory(
    llamafactory_data: Any, dataset_dir: Path, name: str, model_dir: Path, tmp_path: Path
) -> Any:
    """LLaMA-Factory's SFT dataset for ``name``, as its ``run_sft`` builds it."""
    from transformers import AutoTokenizer, Seq2SeqTrainingArguments

    data, hparams = llamafactory_data
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    data_args = hparams.DataArguments(
        dataset=name,
        dataset_dir=str(dataset_dir),
        template="qwen3_nothink",
        cutoff_len=4096,
        overwrite_cache=True,
    )
    model_args = hparams.ModelArguments(model_name_or_path=str(model_dir))
    training_args = Seq2SeqTrainingArguments(
        output_dir=str(tmp_path), do_train=True, report_to="none"
    )
    template = data.get_template_and_fix_tokenizer(tokenizer, data_args)
    module = data.get_dataset(
        template, model_args, data_args, training_args, stage="sft", tokenizer=tokenizer
    )
    return module["train_dataset"], tokenizer


@pytest.mark.parametrize("split", ["train", "eval"])
def test_get_dataset_reads_every_prepared_row(
    split: str,
    llamafactory_data: Any,
    prepared_xlam: tuple[Path, PrepareReport],
    tiny_model_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out, report = prepared_xlam
    dataset_dir = out / "llamafactory"
    info = json.loads((dataset_dir / "dataset_info.json").read_text())
    name = f"toolgrade_xlam_{split}"
    assert info[name]["formatting"] == "sharegpt"
    rows = json.loads((dataset_dir / info[name]["file_name"]).read_text())
    assert len(rows) == report.splits[split]

    dataset, tokenizer = load_with_llamafactory(
        llamafactory_data, dataset_dir, name, tiny_model_dir, tmp_path
    )
    # No row was dropped by LLaMA-Factory's converter or its tokenising filter.
    assert len(dataset) == len(rows) == report.splits[split]
    for row, example in zip(rows, dataset, strict=True):
        text = tokenizer.decode(example["input_ids"])
        target = tokenizer.decode([t for t in example["labels"] if t >= 0])
        # The row's own tools are rendered into the prompt ...
        for tool in json.loads(row["tools"]):
            assert f'"name": "{tool["name"]}"' in text
        # ... and the trained-on part is the assistant's turn: its calls, or its answer.
        answer = row["conversations"][-1]
        if answer["from"] == "function_call":
            calls = json.loads(answer["value"])  # one call object, or a list of them
            for call in calls if isinstance(calls, list) else [calls]:
                assert f'"name": "{call["name"]}"' in target
            assert "<tool_call>" in target
        else:
            assert answer["value"] in target
    with capsys.disabled():
        print(
            f"\nLLaMA-Factory get_dataset({name!r}): {len(dataset)} examples, prepare wrote "
            f"{report.splits[split]}"
        )
