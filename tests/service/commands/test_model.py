"""``toolgrade model build-default``."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from typer.testing import CliRunner

from service.cli import app


def test_build_default_writes_a_loadable_qwen3_once(tmp_path: Path, tiny_model_dir: Path) -> None:
    target = tmp_path / "default"
    runner = CliRunner()
    first = runner.invoke(app, ["model", "build-default", "--output", str(target)])
    assert first.exit_code == 0, first.output
    assert first.stdout.strip().splitlines()[-1] == str(target)
    config = json.loads((target / "config.json").read_text())
    assert (config["architectures"], config["vocab_size"]) == (["Qwen3ForCausalLM"], 151936)
    weights = target / "model.safetensors"
    built_at = weights.stat().st_mtime_ns
    # Deterministic: the same bytes as the session's tiny model (same default shape and seed).
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    assert digest == hashlib.sha256((tiny_model_dir / "model.safetensors").read_bytes()).hexdigest()
    again = runner.invoke(app, ["model", "build-default", "--output", str(target)])
    assert again.exit_code == 0 and weights.stat().st_mtime_ns == built_at  # reused
