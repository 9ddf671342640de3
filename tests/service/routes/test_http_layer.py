"""The HTTP layer's single paths: a JSON body is decoded once (by the body guard), the API key
is checked once (by its middleware, documented in OpenAPI), routes read the app through the
dependencies."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.requests import Request

from service.app import create_app
from service.config import Settings
from service.engine.tokenizer import ChatTokenizer
from service.routes import public_paths
from service.routes.decoded_json import DecodedJSONRoute
from tests.service.serving.scripted_engine import ScriptedEngine
from tests.shared import WEATHER_TOOL as WEATHER

KEY = "http-layer-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
CALL = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
MESSAGES = [{"role": "user", "content": "Weather in Paris?"}]
# One valid request per JSON route.
JSON_REQUESTS: dict[str, dict[str, Any]] = {
    "/score": {"items": [{"prediction": CALL, "reference": [], "tools": [WEATHER]}]},
    "/reward": {"completions": ["hi"], "labels": [[]]},
    "/audit": {"items": [{"reference": [], "tools": [WEATHER]}], "profile": "strict"},
    "/generate": {"messages": MESSAGES, "tools": [WEATHER], "max_tokens": 8},
    "/v1/chat/completions": {"messages": MESSAGES, "tools": [WEATHER], "max_tokens": 8},
    "/v1/completions": {"prompt": "Weather in Paris?", "max_tokens": 8},
}


@pytest.fixture(scope="module")
def client(tiny_model_dir: Path) -> Iterator[TestClient]:
    engine = ScriptedEngine(ChatTokenizer.load(str(tiny_model_dir)), replies=[CALL])
    app = create_app(Settings(no_model=True, api_key=KEY), engine=engine)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def test_every_route_with_a_body_takes_the_decoded_body(client: TestClient) -> None:
    with_body = [
        route.path
        for route in client.app.routes  # type: ignore[attr-defined]
        if isinstance(route, APIRoute) and route.body_field is not None
    ]
    assert sorted(with_body) == sorted(JSON_REQUESTS)
    for route in client.app.routes:  # type: ignore[attr-defined]
        if isinstance(route, APIRoute) and route.body_field is not None:
            assert isinstance(route, DecodedJSONRoute), route.path


@pytest.mark.parametrize("path", list(JSON_REQUESTS))
def test_json_bodies_are_decoded_once(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    second_decodes: list[str] = []
    decode = Request.json

    async def counting(self: Request) -> Any:
        second_decodes.append(self.url.path)
        return await decode(self)

    monkeypatch.setattr(Request, "json", counting)
    response = client.post(path, json=JSON_REQUESTS[path], headers=AUTH)
    assert response.status_code == 200, response.text
    assert second_decodes == []


@pytest.mark.parametrize("path", list(JSON_REQUESTS))
def test_the_key_is_checked_before_the_body_is_read(client: TestClient, path: str) -> None:
    response = client.post(path, content=b"{not json", headers={"Authorization": "Bearer no"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "auth:invalid_key"


def test_openapi_documents_the_key_on_every_operation_behind_it(client: TestClient) -> None:
    schema = client.get("/openapi.json", headers=AUTH).json()
    assert schema["components"]["securitySchemes"]["BearerAuth"]["scheme"] == "bearer"
    operations = {
        (path, method): operation
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    }
    assert {path for path, _ in operations} >= {*JSON_REQUESTS, "/v1/models", "/health"}
    for (path, method), operation in operations.items():
        documented = operation.get("security") == [{"BearerAuth": []}]
        assert documented is (path not in public_paths()), (path, method)


def test_models_and_readiness_read_the_engine_through_the_dependencies(
    client: TestClient,
) -> None:
    assert client.get("/ready").json() == {"status": "ready", "engine": "scripted"}
    models = client.get("/v1/models", headers=AUTH).json()
    assert [card["id"] for card in models["data"]] == ["scripted", "scripted-lora"]
