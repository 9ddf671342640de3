"""``GET /health`` (liveness) and ``GET /ready`` (readiness); both open without a key."""

from __future__ import annotations

from fastapi import APIRouter

from service.deps import EngineStateDep, LoadedEngineDep, engine_unavailable
from service.protocol.health import EngineState, HealthResponse, ReadyResponse
from service.routes.responses import documented_error

router = APIRouter(tags=["operations"])


@router.get("/health", response_model=HealthResponse)
async def health() -> HealthResponse:
    """The process is up and answering HTTP."""
    return HealthResponse()


@router.get(
    "/ready",
    response_model=ReadyResponse,
    responses={503: documented_error("The generation engine is loading or failed to load.")},
)
async def ready(state: EngineStateDep, engine: LoadedEngineDep) -> ReadyResponse:
    """200 when the service can do its job: ``ready`` (engine loaded) or ``scoring-only``."""
    if state is EngineState.SCORING_ONLY:
        return ReadyResponse(status="scoring-only")
    if engine is None:
        raise engine_unavailable(state)  # 503 while loading or after a failed load
    return ReadyResponse(status="ready", engine=engine.model_name)
