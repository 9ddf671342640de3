"""Training reads its own settings, never the server's ``TOOLGRADE_*`` variables or ``.env``."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.models.default_model import DEFAULT_CACHE_DIR, DEMO_MODEL_NAME
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
    demo = tmp_path / "models" / DEMO_MODEL_NAME
    demo.mkdir(parents=True)
    (demo / "config.json").write_text("{}")
    monkeypatch.setenv("TOOLGRADE_TRAINING_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("TOOLGRADE_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert default_model_path() == str(demo)
