"""Service settings, read once from the environment (prefix ``TOOLGRADE_``) or a ``.env`` file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from service.models.default_model import DEFAULT_CACHE_DIR


class Settings(BaseSettings):
    """Every knob of the service. Field names map to ``TOOLGRADE_<NAME>`` variables."""

    model_config = SettingsConfigDict(
        env_prefix="TOOLGRADE_", env_file=".env", extra="ignore", populate_by_name=True
    )

    # --- HTTP surface -----------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = 8000
    api_key: SecretStr | None = Field(
        default=None, description="When set, every endpoint but /health and /ready needs it."
    )
    max_body_bytes: int = Field(default=16 * 1024 * 1024, gt=0)
    max_batch_items: int = Field(default=4096, gt=0)
    max_json_depth: int = Field(default=64, gt=0)
    log_level: str = "info"

    # --- Generation engine ---------------------------------------------------------------
    model: str | None = Field(
        default=None,
        description="Path or hub id of the model to serve; unset means the embedded default.",
    )
    no_model: bool = Field(default=False, description="Force scoring-only mode.")
    served_model_name: str | None = None
    engine: Literal["auto", "vllm", "transformers", "remote"] = "auto"
    remote_base_url: str | None = Field(
        default=None, description="OpenAI-compatible server to forward generation to."
    )
    remote_api_key: SecretStr | None = None
    dtype: str = "auto"
    max_model_len: int = Field(default=4096, gt=0)
    enable_lora: bool = False
    lora_modules: dict[str, str] = Field(
        default_factory=dict, description='JSON object {"name": "/path/to/adapter"}.'
    )
    max_lora_rank: int = Field(default=32, gt=0)
    kv_cache_gib: float = Field(default=1.0, gt=0, description="VLLM_CPU_KVCACHE_SPACE on CPU.")
    cache_dir: Path = Field(default=DEFAULT_CACHE_DIR, description="Models built offline.")

    @field_validator("api_key")
    @classmethod
    def _refuse_placeholder_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value() in {"", "changethis", "changeme"}:
            raise ValueError("TOOLGRADE_API_KEY is a placeholder; set a real secret or unset it")
        return value


@lru_cache
def get_settings() -> Settings:
    return Settings()
