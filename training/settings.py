"""What a training job reads from its environment: ``TOOLGRADE_TRAINING_*`` variables only.

A job never reads the server's settings (its ``TOOLGRADE_*`` variables or ``.env``): training
started beside a running service must not pick up the service's model, key or engine options.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from service.models.default_model import DEFAULT_CACHE_DIR


class TrainingSettings(BaseSettings):
    """Field names map to ``TOOLGRADE_TRAINING_<NAME>`` variables; no ``.env`` file is read."""

    model_config = SettingsConfigDict(env_prefix="TOOLGRADE_TRAINING_", extra="ignore")

    cache_dir: Path = Field(
        default=DEFAULT_CACHE_DIR,
        description="Where the default model a job starts from is built and cached.",
    )
