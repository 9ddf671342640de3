"""``POST /score``."""

from __future__ import annotations

from fastapi import APIRouter

from service.deps import ScoringDep
from service.protocol.score import ScoreRequest, ScoreResponse
from service.routes.decoded_json import DirectJSONRoute
from service.routes.responses import ERROR_RESPONSES

router = APIRouter(tags=["scoring"], route_class=DirectJSONRoute)


@router.post(
    "/score",
    response_model=ScoreResponse,
    # "items" appears only when include_items asked for it.
    response_model_exclude_unset=True,
    responses=ERROR_RESPONSES,
)
async def score(body: ScoreRequest, scoring: ScoringDep) -> ScoreResponse:
    """Score predictions against references: corpus metrics with 95 % intervals, a breakdown
    by category and, with ``include_items``, every item's verdict."""
    return await scoring.score(body)
