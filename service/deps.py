"""FastAPI dependencies, as ``Annotated`` aliases: what routes need from the app's state.

Routes read the app only through these. The API key is not among them: it is checked once, by
:class:`service.middleware.ApiKeyMiddleware`, before a body is read.

Each is ``async def`` although none awaits: FastAPI runs a plain ``def`` dependency in its
thread pool, and a thread hop per dependency cost more than a one-sample ``/reward`` itself.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from service.config import Settings

# The protocol only (dataclasses and a Protocol): cheap, and no vLLM import.
from service.engine.base import GenerationEngine
from service.engine.errors import EngineUnavailableError
from service.protocol.health import EngineState
from service.serving.scoring import ScoringService
from service.serving.telemetry import Telemetry

_ENGINE_UNAVAILABLE: dict[EngineState, tuple[str, str]] = {
    EngineState.SCORING_ONLY: (
        "no model is loaded: the service runs in scoring-only mode (/score and /reward work); "
        "configure TOOLGRADE_MODEL and start it without --no-model to generate",
        "engine:scoring_only",
    ),
    EngineState.LOADING: (
        "the generation engine is still loading; retry shortly",
        "engine:loading",
    ),
    EngineState.FAILED: (
        "the generation engine failed to load (see the server log); scoring still works",
        "engine:failed",
    ),
}


async def get_settings(request: Request) -> Settings:
    """The settings the app was created with."""
    settings: Settings = request.app.state.settings
    return settings


async def get_engine_state(request: Request) -> EngineState:
    """Where the generation engine is in its life."""
    state: EngineState = request.app.state.engine_status
    return state


async def get_loaded_engine(request: Request) -> GenerationEngine | None:
    """The generation engine, or None when there is none (yet)."""
    engine: GenerationEngine | None = request.app.state.engine
    return engine


async def get_engine(request: Request) -> GenerationEngine:
    """The loaded generation engine.

    Raises:
        EngineUnavailableError: 503 when the service is scoring-only, still loading or failed.
    """
    engine = await get_loaded_engine(request)
    if engine is None:
        raise engine_unavailable(await get_engine_state(request))
    return engine


def engine_unavailable(state: EngineState) -> EngineUnavailableError:
    """The 503 for a request that needs the engine while it is in ``state``."""
    message, label = _ENGINE_UNAVAILABLE.get(state, _ENGINE_UNAVAILABLE[EngineState.FAILED])
    return EngineUnavailableError(message, label=label)


async def get_started_at(request: Request) -> int:
    """When the app was created (Unix seconds): the ``created`` of the served models."""
    started_at: int = request.app.state.started_at
    return started_at


async def get_scoring(request: Request) -> ScoringService:
    """The ``/score`` and ``/reward`` serving object."""
    scoring: ScoringService = request.app.state.scoring
    return scoring


async def get_telemetry(request: Request) -> Telemetry:
    """The app's Prometheus registry and counters."""
    telemetry: Telemetry = request.app.state.telemetry
    return telemetry


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineStateDep = Annotated[EngineState, Depends(get_engine_state)]
LoadedEngineDep = Annotated[GenerationEngine | None, Depends(get_loaded_engine)]
EngineDep = Annotated[GenerationEngine, Depends(get_engine)]
StartedAtDep = Annotated[int, Depends(get_started_at)]
ScoringDep = Annotated[ScoringService, Depends(get_scoring)]
TelemetryDep = Annotated[Telemetry, Depends(get_telemetry)]
