"""Engine life cycle and the HTTP layer around it: scoring-only, loading, ready, failed.

These are the only tests with a fake engine: they check what the HTTP layer does with the
engine's *state* (503 vs 200, /v1/models, shutdown), not generation itself, which the engine
tests cover with the real vLLM engine.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
import types
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient

from service.app import create_app
from service.config import Settings
from service.deps import EngineDep

KEY = "engine-state-key"
AUTH = {"Authorization": f"Bearer {KEY}"}


class FakeEngine:
    """Just enough of the GenerationEngine protocol for the HTTP layer."""

    model_name = "tiny-qwen3"

    def __init__(self) -> None:
        self.closed = False

    def served_models(self) -> list[str]:
        return ["tiny-qwen3", "xlam-lora"]

    async def close(self) -> None:
        self.closed = True


def _with_generation_probe(app: Any) -> Any:
    """A stand-in generation route: what every route using EngineDep answers (behind the API
    key, which the middleware checks on every path but the health probes)."""
    probe = APIRouter()

    @probe.post("/probe-generate")
    async def generate(engine: EngineDep) -> dict[str, str]:
        return {"model": engine.model_name}

    app.include_router(probe)
    return app


def _client(app: Any) -> TestClient:
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def fake_factory(monkeypatch: pytest.MonkeyPatch) -> Callable[..., threading.Event]:
    """Install a fake ``service.engine.factory`` whose ``create_engine`` waits for a release
    event, then returns a :class:`FakeEngine` or raises ``error``."""

    def install(error: Exception | None = None) -> threading.Event:
        release = threading.Event()

        async def create_engine(settings: Settings) -> FakeEngine:
            while not release.is_set():
                await asyncio.sleep(0.01)
            if error is not None:
                raise error
            return FakeEngine()

        module = types.ModuleType("service.engine.factory")
        module.create_engine = create_engine  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, "service.engine.factory", module)
        return release

    return install


def _wait_for_status(app: Any, status: str, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while app.state.engine_status != status:
        assert time.monotonic() < deadline, f"engine status stuck at {app.state.engine_status}"
        time.sleep(0.01)


def test_scoring_only_answers_503_for_generation_but_scores() -> None:
    app = _with_generation_probe(create_app(Settings(no_model=True, api_key=KEY)))
    with _client(app) as client:
        ready = client.get("/ready")
        assert (ready.status_code, ready.json()) == (
            200,
            {"status": "scoring-only", "engine": None},
        )
        refused = client.post("/probe-generate", headers=AUTH)
        assert refused.status_code == 503
        error = refused.json()["error"]
        assert error["type"] == "service_unavailable_error"
        assert error["code"] == "engine:scoring_only"
        assert "scoring-only" in error["message"]
        # Auth still comes first.
        assert client.post("/probe-generate").status_code == 401
        assert client.get("/v1/models", headers=AUTH).json() == {"object": "list", "data": []}
        reward = client.post("/reward", json={"completions": ["hi"], "labels": [[]]}, headers=AUTH)
        assert reward.json()["rewards"] == [1.0]


def test_injected_engine_is_ready_listed_and_closed_at_shutdown() -> None:
    engine = FakeEngine()
    app = _with_generation_probe(create_app(Settings(no_model=True), engine=engine))
    with _client(app) as client:
        ready = client.get("/ready")
        assert ready.json() == {"status": "ready", "engine": "tiny-qwen3"}
        assert client.post("/probe-generate").json() == {"model": "tiny-qwen3"}
        models = client.get("/v1/models").json()
        assert models["object"] == "list"
        assert [card["id"] for card in models["data"]] == ["tiny-qwen3", "xlam-lora"]
        assert {card["object"] for card in models["data"]} == {"model"}
        assert {card["owned_by"] for card in models["data"]} == {"toolgrade"}
        assert all(isinstance(card["created"], int) for card in models["data"])
        assert not engine.closed
    assert engine.closed


def test_engine_loads_in_the_background_while_scoring_works(
    fake_factory: Callable[..., threading.Event],
) -> None:
    release = fake_factory()
    app = _with_generation_probe(create_app(Settings(no_model=False)))
    with _client(app) as client:
        assert app.state.engine_status == "loading"
        loading = client.get("/ready")
        assert loading.status_code == 503
        assert loading.json()["error"]["code"] == "engine:loading"
        assert client.post("/probe-generate").json()["error"]["code"] == "engine:loading"
        # /health and scoring do not wait for the engine.
        assert client.get("/health").status_code == 200
        reward = client.post("/reward", json={"completions": ["hi"], "labels": [[]]})
        assert reward.json()["rewards"] == [1.0]
        release.set()
        _wait_for_status(app, "ready")
        assert client.get("/ready").json() == {"status": "ready", "engine": "tiny-qwen3"}
        assert client.post("/probe-generate").json() == {"model": "tiny-qwen3"}
        engine = app.state.engine
    assert engine.closed


def test_failed_engine_is_logged_and_scoring_keeps_working(
    fake_factory: Callable[..., threading.Event], caplog: pytest.LogCaptureFixture
) -> None:
    release = fake_factory(error=RuntimeError("no such checkpoint: /models/missing"))
    release.set()
    app = _with_generation_probe(create_app(Settings(no_model=False)))
    with caplog.at_level(logging.ERROR, logger="toolgrade.app"), _client(app) as client:
        _wait_for_status(app, "failed")
        ready = client.get("/ready")
        assert ready.status_code == 503
        assert ready.json()["error"]["code"] == "engine:failed"
        assert client.post("/probe-generate").json()["error"]["code"] == "engine:failed"
        reward = client.post("/reward", json={"completions": ["hi"], "labels": [[]]})
        assert reward.status_code == 200
    failures = [r for r in caplog.records if r.name == "toolgrade.app" and r.exc_info]
    assert failures, "the engine failure was not logged with its traceback"
    assert "no such checkpoint" in str(failures[0].exc_info[1])


def test_shutdown_cancels_a_load_in_progress(
    fake_factory: Callable[..., threading.Event],
) -> None:
    fake_factory()  # never released
    app = create_app(Settings(no_model=False))
    started = time.monotonic()
    with _client(app):
        assert app.state.engine_status == "loading"
    assert time.monotonic() - started < 5
    assert app.state.engine is None


def test_a_bug_becomes_a_500_envelope_with_the_request_id() -> None:
    app = create_app(Settings(no_model=True))
    broken = APIRouter()

    @broken.get("/broken")
    async def fail() -> None:
        raise RuntimeError("planted bug")

    app.include_router(broken)
    with _client(app) as client:
        response = client.get("/broken", headers={"X-Request-ID": "bug-1"})
    assert response.status_code == 500
    assert response.json()["error"]["type"] == "server_error"
    assert response.json()["error"]["code"] == "internal:unexpected"
    assert "planted bug" not in response.text  # internals stay in the log
    assert response.headers["x-request-id"] == "bug-1"


def test_openapi_documents_400_not_422() -> None:
    spec = create_app(Settings(no_model=True)).openapi()
    for path, item in spec["paths"].items():
        for operation in item.values():
            assert "422" not in operation["responses"], path
    reward_responses = spec["paths"]["/reward"]["post"]["responses"]
    assert {"200", "400", "401", "413"} <= set(reward_responses)
    assert reward_responses["400"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorResponse"
    }
    assert "HTTPValidationError" not in spec["components"]["schemas"]
