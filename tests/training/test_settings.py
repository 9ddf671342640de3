"""Training reads its own settings, never the server's ``TOOLGRADE_*`` variables or ``.env``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.models.default_model import DEFAULT_CACHE_DIR
from service.models.shipped import EXPANSION_RECORD, SHIPPED_MODEL_NAME, read_manifest
from training.runtime import default_model_path
from training.settings import TrainingSettings


def test_server_variables_and_dotenv_are_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TOOLGRADE_TRAINING_CACHE_DIR", raising=False)
    monkeypatch.setenv("TOOLGRADE_CACHE_DIR", str(tmp_path / "from-server-variable"))
    (tmp_path / ".env").write_text(f"TOOLGRADE_TRAINING_CACHE_DIR={tmp_path / 'from-dotenv'}\n")
    assert TrainingSettings().cache_dir == DEFAULT_CACHE_DIR


def test_the_default_model_comes_from_the_training_cache_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An expansion already in place (its record names the manifest's checksum) is reused, so
    # the path alone shows which cache directory was read.
    shipped = tmp_path / "models" / SHIPPED_MODEL_NAME
    shipped.mkdir(parents=True)
    (shipped / "config.json").write_text("{}")
    record = {"expanded_sha256": read_manifest()["expanded_sha256"]}
    (shipped / EXPANSION_RECORD).write_text(json.dumps(record))
    monkeypatch.setenv("TOOLGRADE_TRAINING_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("TOOLGRADE_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert default_model_path() == str(shipped)
