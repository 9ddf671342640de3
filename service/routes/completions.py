"""``POST /v1/completions``: OpenAI-compatible text completions (SSE with ``"stream": true``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse

from service.deps import EngineDep
from service.protocol.completions import CompletionRequest, CompletionResponse
from service.routes.decoded_json import DecodedJSONRoute
from service.routes.responses import ENGINE_ERROR_RESPONSES
from service.serving.completions import CompletionService

router = APIRouter(tags=["generation"], route_class=DecodedJSONRoute)


# async although it awaits nothing: FastAPI runs a plain def dependency in its thread pool
# (a thread hop per request; see service.deps).
async def get_completion_service(engine: EngineDep) -> CompletionService:
    return CompletionService(engine)


CompletionServiceDep = Annotated[CompletionService, Depends(get_completion_service)]


@router.post(
    "/v1/completions",
    response_model=CompletionResponse,
    response_model_exclude_none=True,
    responses=ENGINE_ERROR_RESPONSES,
)
async def completions(
    body: CompletionRequest, service: CompletionServiceDep
) -> CompletionResponse | StreamingResponse:
    """Continue a raw prompt (no chat template, no tool parsing), as BFCL's local-model
    handlers call it. Server-sent events when ``stream`` is true."""
    result = await service.create(body)
    if isinstance(result, CompletionResponse):
        return result
    return StreamingResponse(
        result, media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )
