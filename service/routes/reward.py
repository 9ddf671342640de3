"""``POST /reward``."""

from __future__ import annotations

from fastapi import APIRouter

from service.deps import ScoringDep
from service.protocol.reward import RewardRequest, RewardResponse
from service.routes.decoded_json import DirectJSONRoute
from service.routes.responses import ERROR_RESPONSES

router = APIRouter(tags=["scoring"], route_class=DirectJSONRoute)


@router.post("/reward", response_model=RewardResponse, responses=ERROR_RESPONSES)
async def reward(body: RewardRequest, scoring: ScoringDep) -> RewardResponse:
    """Reward completions for RL (TRL and OpenRLHF shapes): one reward per completion and the
    four components in ``extra_logs``."""
    return await scoring.reward(body)
