"""``GET /v1/models``."""

from __future__ import annotations

from fastapi import APIRouter

from service.deps import LoadedEngineDep, StartedAtDep
from service.protocol.models import ModelCard, ModelList
from service.routes.responses import ERROR_RESPONSES

router = APIRouter(tags=["generation"])


@router.get("/v1/models", response_model=ModelList, responses=ERROR_RESPONSES)
async def list_models(engine: LoadedEngineDep, created: StartedAtDep) -> ModelList:
    """The served models, base model first, then LoRA adapters (empty when scoring-only)."""
    names = engine.served_models() if engine is not None else []
    return ModelList(data=[ModelCard(id=name, created=created) for name in names])
