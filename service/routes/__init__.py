"""Routers. The API key middleware guards every path of :data:`ROUTERS` and lets the paths of
:data:`PUBLIC_ROUTERS` through. Routers with JSON bodies use
:class:`~service.routes.decoded_json.DecodedJSONRoute` (the body is decoded once, by the guard).
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.routing import APIRoute

from service.routes import (
    audit,
    chat,
    completions,
    docs,
    generate,
    health,
    metrics,
    models,
    reward,
    score,
)

ROUTERS: list[APIRouter] = [
    score.router,
    reward.router,
    audit.router,
    models.router,
    metrics.router,
    docs.router,
    generate.router,
    chat.router,
    completions.router,
]

#: Reachable without a key: orchestrators probe these.
PUBLIC_ROUTERS: list[APIRouter] = [health.router]


def public_paths() -> frozenset[str]:
    """The paths of :data:`PUBLIC_ROUTERS` (the API key middleware lets them through)."""
    return frozenset(
        route.path
        for router in PUBLIC_ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute)
    )
