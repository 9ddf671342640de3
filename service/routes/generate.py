"""``POST /generate``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from service.deps import EngineDep
from service.protocol.generate import GenerateRequest, GenerateResponse
from service.routes.decoded_json import DecodedJSONRoute
from service.routes.responses import ENGINE_ERROR_RESPONSES
from service.serving.generate import GenerateService

router = APIRouter(tags=["generation"], route_class=DecodedJSONRoute)


# async although it awaits nothing: FastAPI runs a plain def dependency in its thread pool
# (a thread hop per request; see service.deps).
async def get_generate_service(engine: EngineDep) -> GenerateService:
    return GenerateService(engine)


GenerateServiceDep = Annotated[GenerateService, Depends(get_generate_service)]


@router.post("/generate", response_model=GenerateResponse, responses=ENGINE_ERROR_RESPONSES)
async def generate(body: GenerateRequest, service: GenerateServiceDep) -> GenerateResponse:
    """Generate from a raw prompt or chat messages; each output comes with the tool calls the
    core parser finds in it (arguments decoded, ready for ``/score``)."""
    return await service.generate(body)
