"""``create_app()``: the ToolGrade FastAPI application.

Layout (as vLLM's entrypoints): pydantic request/response models in :mod:`service.protocol`,
serving objects (the logic) in :mod:`service.serving` created in the lifespan and kept on
``app.state``, thin routers in :mod:`service.routes`, every error mapped to OpenAI's envelope
in :mod:`service.exception_handlers`.

Middleware, outermost first: request id + access log + HTTP metrics, the API key (every path
but the health probes; checked before any body is read: the one place it is checked), the body
guard (size, strict JSON, nesting depth; the one place a JSON body is decoded). The OpenAPI
schema documents the key as a bearer scheme on every operation behind it.

Engine life cycle (``app.state.engine_status``, an
:class:`~service.protocol.health.EngineState`): ``scoring-only`` when ``settings.no_model``;
otherwise ``loading`` while a background task builds the engine
(:func:`service.engine.factory.create_engine`, imported lazily: ``import vllm`` costs seconds
that scoring-only start-up must not pay), then ``ready`` or ``failed`` (logged; scoring keeps
working). An engine passed to :func:`create_app` is used as is (HTTP-layer tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from service import __version__
from service.config import Settings, get_settings
from service.engine.base import GenerationEngine
from service.exception_handlers import register_exception_handlers
from service.middleware import ApiKeyMiddleware, RequestBodyGuard, RequestContextMiddleware
from service.protocol.health import EngineState
from service.routes import PUBLIC_ROUTERS, ROUTERS, public_paths
from service.serving.scoring import ScoringService
from service.serving.telemetry import Telemetry

logger = logging.getLogger("toolgrade.app")

# Scrapes of the metrics are not themselves counted in them.
UNMETERED_PATHS = frozenset({"/metrics"})


def create_app(
    settings: Settings | None = None, *, engine: GenerationEngine | None = None
) -> FastAPI:
    """Build the application.

    Args:
        settings: Defaults to the environment's (``TOOLGRADE_*``).
        engine: A ready generation engine to serve instead of loading one (tests of the HTTP
            layer inject a fake here).

    Returns:
        The FastAPI app; uvicorn runs it with ``service.app:create_app`` and ``factory=True``.
    """
    settings = settings if settings is not None else get_settings()
    app = FastAPI(
        title="ToolGrade",
        version=__version__,
        description="Evaluation and reward service for LLM function calling.",
        lifespan=_lifespan,
        # Served by service.routes.docs, behind the API key.
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.engine_status = (
        EngineState.READY
        if engine is not None
        else EngineState.SCORING_ONLY
        if settings.no_model
        else EngineState.LOADING
    )
    app.state.started_at = int(time.time())
    # The scoring service loads nothing, so it exists from the start (even for an ASGI client
    # that skips the lifespan); only the engine waits for the lifespan.
    app.state.telemetry = Telemetry.create()
    app.state.scoring = ScoringService(settings, app.state.telemetry)

    for router in [*PUBLIC_ROUTERS, *ROUTERS]:
        app.include_router(router)
    register_exception_handlers(app)
    app.openapi = lambda: _openapi_schema(app)  # type: ignore[method-assign]

    # Added innermost first: Starlette wraps each new middleware around the previous ones.
    app.add_middleware(
        RequestBodyGuard,
        max_body_bytes=settings.max_body_bytes,
        max_json_depth=settings.max_json_depth,
    )
    if settings.api_key is not None:
        app.add_middleware(ApiKeyMiddleware, api_key=settings.api_key, public_paths=public_paths())
    app.add_middleware(
        RequestContextMiddleware,
        http_metrics=app.state.telemetry.http,
        routes=app.router.routes,
        unmetered_paths=UNMETERED_PATHS,
    )
    return app


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    logger.info(
        "starting",
        extra={"engine_status": app.state.engine_status, "auth": settings.api_key is not None},
    )
    loader = None
    if app.state.engine_status is EngineState.LOADING:
        loader = asyncio.create_task(_load_engine(app), name="toolgrade-engine-loader")
    try:
        yield
    finally:
        if loader is not None and not loader.done():
            loader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loader
        if app.state.engine is not None:
            await app.state.engine.close()
        logger.info("stopped")


async def _load_engine(app: FastAPI) -> None:
    started = time.perf_counter()
    try:
        from service.engine.factory import create_engine

        engine = await create_engine(app.state.settings)
    except Exception:
        app.state.engine_status = EngineState.FAILED
        logger.exception("the generation engine failed to load; the service keeps scoring")
        return
    app.state.engine = engine
    app.state.engine_status = EngineState.READY
    logger.info(
        "engine ready",
        extra={"model": engine.model_name, "load_s": round(time.perf_counter() - started, 2)},
    )


# How the OpenAPI schema names the API key scheme.
_BEARER_SCHEME = {
    "BearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "description": (
            "Required on every endpoint but /health and /ready when TOOLGRADE_API_KEY is set."
        ),
    }
}


def _openapi_schema(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema without its 422 responses (validation errors are 400s here), with the
    API key the middleware checks documented on every operation behind it."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        public = public_paths()
        for path, path_item in schema.get("paths", {}).items():
            for operation in path_item.values():
                operation.get("responses", {}).pop("422", None)
                if path not in public:
                    operation["security"] = [{name: []} for name in _BEARER_SCHEME]
        components = schema.setdefault("components", {})
        for unused in ("HTTPValidationError", "ValidationError"):
            components.get("schemas", {}).pop(unused, None)
        components["securitySchemes"] = _BEARER_SCHEME
        app.openapi_schema = schema
    return app.openapi_schema
