"""The HTTP layer's single paths: a JSON body is decoded once (by the body guard), the API key
is checked once (by its middleware, documented in OpenAPI), routes read the app through the
dependencies."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fastapi.routing
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


def _sample(metrics_text: str, series: str) -> float:
    """The value of one exact series (name and labels) in Prometheus text, 0 when absent."""
    for line in metrics_text.splitlines():
        name, _, value = line.rpartition(" ")
        if name == series:
            return float(value)
    return 0.0


def test_http_metrics_label_requests_by_the_matched_route(tiny_model_dir: Path) -> None:
    # A fresh app: the counts start at zero.
    app = create_app(Settings(no_model=True, api_key=KEY))
    with TestClient(app, raise_server_exceptions=False) as fresh:
        body = JSON_REQUESTS["/reward"]
        for _ in range(3):
            assert fresh.post("/reward", json=body, headers=AUTH).status_code == 200
        assert fresh.post("/reward", json=body).status_code == 401
        assert fresh.get("/reward", headers=AUTH).status_code == 405
        assert fresh.get("/no/such/path/42", headers=AUTH).status_code == 404
        reward_bytes = len(fresh.post("/reward", json=body, headers=AUTH).content)
        first = fresh.get("/metrics", headers=AUTH).text
        second = fresh.get("/metrics", headers=AUTH).text

    def count(method: str, status: str, handler: str) -> float:
        labels = f'handler="{handler}",method="{method}",status="{status}"'
        return _sample(first, f"http_requests_total{{{labels}}}")

    assert count("POST", "2xx", "/reward") == 4
    assert count("POST", "4xx", "/reward") == 1  # refused by the key, still the /reward route
    assert count("GET", "4xx", "/reward") == 1  # wrong method: the path's template
    # An unknown path is not a label value of its own: label values stay bounded.
    assert count("GET", "4xx", "none") == 1
    assert "/no/such/path" not in first
    latency = 'http_request_duration_seconds_count{handler="/reward",method="POST"}'
    assert _sample(first, latency) == 5
    assert _sample(first, "http_request_duration_highr_seconds_count") == 7
    size = 'http_response_size_bytes_sum{handler="/reward"}'
    assert reward_bytes > 0 and _sample(first, size) >= 4 * reward_bytes
    # Scrapes are not counted.
    assert "/metrics" not in first
    assert _sample(second, "http_request_duration_highr_seconds_count") == 7


# Bodies for the scoring routes: valid ones and each kind of validation failure.
SCORING_BODIES: list[tuple[str, Any]] = [
    ("/reward", JSON_REQUESTS["/reward"]),
    ("/reward", {"completions": [CALL, "no call"], "labels": [[], "[]"], "profile": "strict"}),
    ("/reward", {"completions": ["x"], "labels": [[]], "profile": "nope"}),
    ("/reward", {"completions": ["x"]}),
    ("/reward", {"labels": 5}),
    ("/reward", [1, 2]),
    ("/reward", None),
    ("/reward", "text"),
    ("/reward", {"completions": ["x", "y"], "labels": [[]]}),
    ("/score", JSON_REQUESTS["/score"]),
    ("/score", {**JSON_REQUESTS["/score"], "include_items": True}),
    ("/score", {"items": [{"prediction": 3}]}),
    ("/audit", JSON_REQUESTS["/audit"]),
    ("/audit", {"items": "none"}),
]


def _general_path(app: Any) -> None:
    """Any dependency override sends every request through FastAPI's general handler."""
    app.dependency_overrides[_general_path] = lambda: None


@pytest.mark.parametrize(("path", "body"), SCORING_BODIES)
def test_the_direct_scoring_path_answers_as_fastapis_general_path(path: str, body: Any) -> None:
    # Two fresh apps (the direct path, and every request forced onto the general one).
    direct_app = create_app(Settings(no_model=True, api_key=KEY))
    general_app = create_app(Settings(no_model=True, api_key=KEY))
    _general_path(general_app)
    content = json.dumps(body).encode()
    headers = {**AUTH, "Content-Type": "application/json", "X-Request-ID": "same"}
    with TestClient(direct_app) as direct, TestClient(general_app) as general:
        ours = direct.post(path, content=content, headers=headers)
        theirs = general.post(path, content=content, headers=headers)
    assert ours.status_code == theirs.status_code
    assert ours.status_code in (200, 400), ours.text
    assert ours.json() == theirs.json()
    assert ours.headers["content-type"] == theirs.headers["content-type"]


def test_scoring_routes_skip_fastapis_dependency_solver_for_json_bodies(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    solved: list[str] = []
    solve = fastapi.routing.solve_dependencies

    async def counting(*args: Any, **kwargs: Any) -> Any:
        solved.append(kwargs["request"].url.path)
        return await solve(*args, **kwargs)

    monkeypatch.setattr(fastapi.routing, "solve_dependencies", counting)
    for path in ("/score", "/reward", "/audit"):
        assert client.post(path, json=JSON_REQUESTS[path], headers=AUTH).status_code == 200
    assert solved == []
    # Not JSON: FastAPI's general path answers (and refuses it) as before.
    plain = {**AUTH, "Content-Type": "text/plain"}
    response = client.post("/reward", content=b'{"labels": []}', headers=plain)
    assert response.status_code == 400
    assert solved == ["/reward"]
    # The generation routes keep FastAPI's general path.
    chat = client.post("/v1/chat/completions", json=JSON_REQUESTS["/v1/chat/completions"],
                       headers=AUTH)  # fmt: skip
    assert chat.status_code == 200
    assert solved == ["/reward", "/v1/chat/completions"]
    # With a dependency override (as the parity test above uses), FastAPI's general path.
    app = client.app
    monkeypatch.setitem(app.dependency_overrides, _general_path, lambda: None)  # type: ignore[attr-defined]
    assert client.post("/reward", json=JSON_REQUESTS["/reward"], headers=AUTH).status_code == 200
    assert solved == ["/reward", "/v1/chat/completions", "/reward"]
