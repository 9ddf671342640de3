"""Routers. ``create_app`` includes every router in :data:`ROUTERS` behind the API key check,
and :data:`PUBLIC_ROUTERS` without it. Generation routers join :data:`ROUTERS` (one line)."""

from __future__ import annotations

from fastapi import APIRouter

from service.routes import chat, completions, docs, generate, health, metrics, models, reward, score

ROUTERS: list[APIRouter] = [
    score.router,
    reward.router,
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
    return frozenset(route.path for router in PUBLIC_ROUTERS for route in router.routes)
