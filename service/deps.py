"""FastAPI dependencies, as ``Annotated`` aliases: settings, the engine, the API key check."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service.auth import check_bearer_key
from service.config import Settings

# The protocol only (dataclasses and a Protocol): cheap, and no vLLM import.
from service.engine.base import GenerationEngine
from service.engine.errors import EngineUnavailableError
from service.serving.scoring import ScoringService
from service.serving.telemetry import Telemetry

# auto_error=False: a missing key must become our 401 envelope, not FastAPI's 403.
_bearer = HTTPBearer(
    auto_error=False,
    description="Required on every endpoint but /health and /ready when TOOLGRADE_API_KEY is set.",
)

_ENGINE_UNAVAILABLE: dict[str, tuple[str, str]] = {
    "scoring-only": (
        "no model is loaded: the service runs in scoring-only mode (/score and /reward work); "
        "configure TOOLGRADE_MODEL and start it without --no-model to generate",
        "engine:scoring_only",
    ),
    "loading": ("the generation engine is still loading; retry shortly", "engine:loading"),
    "failed": (
        "the generation engine failed to load (see the server log); scoring still works",
        "engine:failed",
    ),
}


def get_settings(request: Request) -> Settings:
    """The settings the app was created with."""
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_engine(request: Request) -> GenerationEngine:
    """The loaded generation engine.

    Raises:
        EngineUnavailableError: 503 when the service is scoring-only, still loading or failed.
    """
    engine = request.app.state.engine
    if engine is None:
        message, label = _ENGINE_UNAVAILABLE.get(
            request.app.state.engine_status, _ENGINE_UNAVAILABLE["failed"]
        )
        raise EngineUnavailableError(message, label=label)
    engine_protocol: GenerationEngine = engine
    return engine_protocol


EngineDep = Annotated[GenerationEngine, Depends(get_engine)]


async def require_api_key(
    request: Request,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Check ``Authorization: Bearer <key>`` in constant time when ``TOOLGRADE_API_KEY`` is set
    (see :mod:`service.auth`; the ``credentials`` parameter documents the scheme in OpenAPI).

    Raises:
        AuthenticationError: 401 ``auth:missing_key`` or ``auth:invalid_key``.
    """
    if settings.api_key is not None:
        check_bearer_key(request.headers.get("authorization"), settings.api_key)


def get_scoring(request: Request) -> ScoringService:
    """The ``/score`` and ``/reward`` serving object."""
    scoring: ScoringService = request.app.state.scoring
    return scoring


def get_telemetry(request: Request) -> Telemetry:
    """The app's Prometheus registry and counters."""
    telemetry: Telemetry = request.app.state.telemetry
    return telemetry


ScoringDep = Annotated[ScoringService, Depends(get_scoring)]
TelemetryDep = Annotated[Telemetry, Depends(get_telemetry)]
