"""The training commands on the ``toolgrade`` CLI: options, summaries, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from service.cli import app
from training.config import XLAM_HUB_ID
from training.merge import MergeResult

FIXTURE = Path(__file__).resolve().parents[2] / "training" / "fixtures" / "xlam_sample.jsonl"
runner = CliRunner()


def test_every_training_command_is_registered() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("prepare", "synth", "sft", "merge", "grpo"):
        assert command in result.output


def test_synth_then_prepare_print_summaries(tmp_path: Path, tiny_model_dir: Path) -> None:
    rows = tmp_path / "rows.jsonl"
    result = runner.invoke(app, ["synth", str(rows), "--count", "30", "--seed", "4"])
    assert result.exit_code == 0, result.output
    assert len(rows.read_text().splitlines()) == 30
    assert "rows" in result.output and "30" in result.output
    result = runner.invoke(
        app,
        [
            "prepare", str(rows), "--output-dir", str(tmp_path / "out"),
            "--tokenizer", str(tiny_model_dir), "--set", "eval_fraction=0.2",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "train=24, eval=6" in result.output
    assert json.loads((tmp_path / "out" / "report.json").read_text())["splits"] == {
        "train": 24,
        "eval": 6,
    }


def test_prepare_reports_rejections_by_reason(tmp_path: Path, tiny_model_dir: Path) -> None:
    arguments = ["prepare", str(FIXTURE), "--output-dir", str(tmp_path)]
    result = runner.invoke(app, [*arguments, "--tokenizer", str(tiny_model_dir)])
    assert result.exit_code == 0, result.output
    assert "prepare:invalid_json=2" in result.output
    assert "schema:type_mismatch=2" in result.output


def test_hub_without_a_token_is_a_one_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.setenv("HF_TOKEN_PATH", str(tmp_path / "token"))
    result = runner.invoke(app, ["prepare", XLAM_HUB_ID, "--output-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "prepare:hub_token_required" in result.output
    assert "Traceback" not in result.output


def test_config_typos_fail_before_any_work(tmp_path: Path) -> None:
    result = runner.invoke(app, ["sft", "--set", "lora.rank=8"])
    assert result.exit_code == 2
    assert "config:invalid" in result.output and "rank" in result.output


def test_merge_refuses_to_overwrite(tmp_path: Path) -> None:
    # The refusal comes before any model is loaded: an adapter's config and a full folder do.
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    base = {"base_model_name_or_path": str(tmp_path / "base")}
    (adapter / "adapter_config.json").write_text(json.dumps(base))
    output = tmp_path / "merged"
    output.mkdir()
    (output / "config.json").write_text("{}")

    result = runner.invoke(app, ["merge", "--adapter", str(adapter), "--output-dir", str(output)])

    assert result.exit_code == 2
    assert "merge:output_exists" in result.output and "--force" in result.output
    assert [path.name for path in output.iterdir()] == ["config.json"]
    assert (output / "config.json").read_text() == "{}"


def test_grpo_with_local_reward_runs_a_step(
    tmp_path: Path, merged_run: MergeResult, synth_prepared: tuple[Path, Any]
) -> None:
    out = tmp_path / "grpo"
    result = runner.invoke(
        app,
        [
            "grpo", "--model", merged_run.output_dir,
            "--data", str(synth_prepared[0] / "grpo" / "train.jsonl"),
            "--output-dir", str(out), "--local-reward", "--max-steps", "1",
            "--set", "num_generations=2", "--set", "per_device_train_batch_size=2",
            "--set", "max_completion_length=8", "--set", "lora=null",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "local" in result.output
    summary = json.loads((out / "toolgrade_grpo.json").read_text())
    assert summary["steps"] == 1 and summary["reward_source"] == "local"
    assert set(summary["components"]) == {"json_parse", "schema_hit", "exec", "semantic"}
    assert (out / "model.safetensors").is_file()  # lora: null trains the full model
