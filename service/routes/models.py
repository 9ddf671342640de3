"""``GET /v1/models``."""

from __future__ import annotations

from fastapi import APIRouter, Request

from service.protocol.models import ModelCard, ModelList
from service.routes.responses import ERROR_RESPONSES

router = APIRouter(tags=["generation"])


@router.get("/v1/models", response_model=ModelList, responses=ERROR_RESPONSES)
async def list_models(request: Request) -> ModelList:
    """The served models, base model first, then LoRA adapters (empty when scoring-only)."""
    engine = request.app.state.engine
    names = engine.served_models() if engine is not None else []
    created = request.app.state.started_at
    return ModelList(data=[ModelCard(id=name, created=created) for name in names])
