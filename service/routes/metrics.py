"""``GET /metrics`` (Prometheus text format)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST

from service.deps import TelemetryDep
from service.routes.responses import ERROR_RESPONSES

router = APIRouter(tags=["operations"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        **ERROR_RESPONSES,
        200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}},
    },
)
async def metrics(telemetry: TelemetryDep) -> Response:
    """HTTP request metrics plus ``toolgrade_items_scored_total`` and
    ``toolgrade_rewards_computed_total``."""
    return Response(telemetry.exposition(), media_type=CONTENT_TYPE_LATEST)
