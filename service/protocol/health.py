"""``GET /health`` and ``GET /ready``."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field


class EngineState(StrEnum):
    """Where the generation engine is in its life: set by the app, read by the dependencies.

    ``scoring-only`` (no model configured), ``loading`` (a background task builds it), then
    ``ready`` or ``failed`` (scoring keeps working either way).
    """

    SCORING_ONLY = "scoring-only"
    LOADING = "loading"
    READY = "ready"
    FAILED = "failed"


class HealthResponse(BaseModel):
    """Liveness: the process answers HTTP."""

    status: Literal["ok"] = "ok"


class ReadyResponse(BaseModel):
    """Readiness: ``ready`` with a loaded engine, ``scoring-only`` without a model."""

    status: Literal["ready", "scoring-only"]
    engine: str | None = Field(
        default=None, description="The served model's name; null in scoring-only mode."
    )
