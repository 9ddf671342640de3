"""``GET /health`` and ``GET /ready``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

EngineStatus = Literal["scoring-only", "loading", "ready", "failed"]


class HealthResponse(BaseModel):
    """Liveness: the process answers HTTP."""

    status: Literal["ok"] = "ok"


class ReadyResponse(BaseModel):
    """Readiness: ``ready`` with a loaded engine, ``scoring-only`` without a model."""

    status: Literal["ready", "scoring-only"]
    engine: str | None = Field(
        default=None, description="The served model's name; null in scoring-only mode."
    )
