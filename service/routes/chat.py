"""``POST /v1/chat/completions`` (OpenAI-compatible, streaming with ``"stream": true``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse

from service.deps import EngineDep
from service.protocol.chat import ChatCompletionRequest, ChatCompletionResponse
from service.routes.decoded_json import DecodedJSONRoute
from service.routes.responses import ENGINE_ERROR_RESPONSES
from service.serving.chat import ChatCompletionService

router = APIRouter(tags=["generation"], route_class=DecodedJSONRoute)


# async although it awaits nothing: FastAPI runs a plain def dependency in its thread pool
# (a thread hop per request; see service.deps).
async def get_chat_service(engine: EngineDep) -> ChatCompletionService:
    return ChatCompletionService(engine)


ChatServiceDep = Annotated[ChatCompletionService, Depends(get_chat_service)]


@router.post(
    "/v1/chat/completions",
    response_model=ChatCompletionResponse,
    response_model_exclude_none=True,
    responses=ENGINE_ERROR_RESPONSES,
)
async def chat_completions(
    body: ChatCompletionRequest, chat: ChatServiceDep
) -> ChatCompletionResponse | StreamingResponse:
    """Chat with the served model (or a LoRA adapter named in ``model``); tool calls parsed by
    ToolGrade's core into ``tool_calls``. Server-sent events when ``stream`` is true."""
    result = await chat.create(body)
    if isinstance(result, ChatCompletionResponse):
        return result
    return StreamingResponse(
        result, media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )
