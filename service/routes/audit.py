"""``POST /audit``."""

from __future__ import annotations

from fastapi import APIRouter

from service.deps import ScoringDep
from service.protocol.audit import AuditRequest, AuditResponse
from service.routes.decoded_json import DirectJSONRoute
from service.routes.responses import ERROR_RESPONSES

router = APIRouter(tags=["scoring"], route_class=DirectJSONRoute)


@router.post("/audit", response_model=AuditResponse, responses=ERROR_RESPONSES)
async def audit(body: AuditRequest, scoring: ScoringDep) -> AuditResponse:
    """Audit reward profiles on posted items: the reward of each kind of wrong completion, the
    hack ceiling and every reward-axiom violation with an example."""
    return await scoring.audit(body)
