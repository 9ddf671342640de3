"""The bad-input catalogue: every malformed request gets the right 4xx in OpenAI's envelope.

Run against real servers under uvicorn: one with an API key and small limits (1 MiB bodies,
64 items per batch), and the shared scoring-only server for the default 16 MiB limit.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.fixtures.servers import LiveServer, start_server
from tests.service.http_cases import REFERENCE
from tests.shared import WEATHER_TOOL, hermes

API_KEY = "test-key-8f2c1d"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
SMALL_BODY_LIMIT = 1024 * 1024
SMALL_BATCH_LIMIT = 64
DEFAULT_BODY_LIMIT = 16 * 1024 * 1024

GOOD_REWARD = {"completions": ["x"], "labels": [REFERENCE], "tools": [WEATHER_TOOL]}


@pytest.fixture(scope="module")
def guarded_server() -> Iterator[LiveServer]:
    server = start_server(
        {
            "TOOLGRADE_NO_MODEL": "1",
            "TOOLGRADE_API_KEY": API_KEY,
            "TOOLGRADE_MAX_BODY_BYTES": str(SMALL_BODY_LIMIT),
            "TOOLGRADE_MAX_BATCH_ITEMS": str(SMALL_BATCH_LIMIT),
        }
    )
    try:
        yield server
    finally:
        server.stop()


def assert_envelope(response: httpx.Response, status: int, code: str | None) -> dict[str, Any]:
    """The status, OpenAI's envelope with exactly its four keys, and the request id header."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    payload = response.json()
    assert set(payload) == {"error"}
    error = payload["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["type"], str) and error["type"]
    if code is not None:
        assert error["code"] == code, error
    assert response.headers.get("x-request-id")
    return dict(error)


@dataclass(frozen=True)
class BadRequest:
    """A request to send and the answer it must get."""

    name: str
    status: int
    code: str | None
    path: str = "/reward"
    json_body: Any = None
    raw_body: bytes | None = None
    headers: dict[str, str] = field(default_factory=lambda: dict(AUTH))
    method: str = "POST"
    param: str | None = None

    def send(self, base_url: str) -> httpx.Response:
        # Latin-1, as HTTP carries header bytes (a non-ASCII key must reach the server).
        headers = {
            name: value.encode("latin-1")
            for name, value in {"Content-Type": "application/json", **self.headers}.items()
        }
        content = self.raw_body
        if content is None and self.json_body is not None:
            content = httpx.Request("POST", "/", json=self.json_body).content
        return httpx.request(
            self.method, base_url + self.path, content=content, headers=headers, timeout=60
        )


DANGLING_REF_TOOL: dict[str, Any] = {
    "name": "f",
    "parameters": {"type": "object", "properties": {"x": {"$ref": "#/$defs/missing"}}},
}


def _deep(depth: int) -> bytes:
    return b'{"completions": ["x"], "labels": ' + b"[" * depth + b"]" * depth + b"}"


CATALOGUE = [
    # --- malformed JSON ----------------------------------------------------------------------
    BadRequest("truncated_json", 400, "request:invalid_json", raw_body=b'{"labels": [[]'),
    BadRequest("trailing_garbage", 400, "request:invalid_json", raw_body=b'{"labels": [[]]} x'),
    BadRequest("single_quotes", 400, "request:invalid_json", raw_body=b"{'labels': [[]]}"),
    BadRequest("empty_body", 400, "request:missing", raw_body=b""),
    BadRequest("not_an_object", 400, "request:model_attributes_type", json_body=[1, 2]),
    BadRequest(
        "invalid_utf8",
        400,
        "request:invalid_utf8",
        raw_body=b'{"completions": ["caf\xe9"], "labels": [[]]}',
    ),
    BadRequest(
        "lone_surrogate",
        400,
        "request:invalid_utf8",
        raw_body=b'{"completions": ["\\ud800"], "labels": [[]]}',
    ),
    BadRequest(
        "nan",
        400,
        "request:non_finite_number",
        raw_body=b'{"completions": ["x"], "labels": [[]], "weights": {"exec": NaN}}',
    ),
    BadRequest(
        "infinity",
        400,
        "request:non_finite_number",
        raw_body=b'{"completions": ["x"], "labels": [[]], "weights": {"exec": Infinity}}',
    ),
    BadRequest(
        "negative_infinity",
        400,
        "request:non_finite_number",
        raw_body=b'{"completions": ["x"], "labels": [[]], "weights": {"exec": -Infinity}}',
    ),
    BadRequest(
        "overflowing_number",
        400,
        "request:non_finite_number",
        raw_body=b'{"completions": ["x"], "labels": [[]], "weights": {"exec": 1e999}}',
    ),
    BadRequest("nesting_100k_deep", 400, "request:too_deep", raw_body=_deep(100_000)),
    BadRequest("nesting_past_orjson_limit", 400, "request:too_deep", raw_body=_deep(1025)),
    BadRequest("nesting_past_configured_limit", 400, "request:too_deep", raw_body=_deep(70)),
    # --- wrong types and shapes --------------------------------------------------------------
    BadRequest(
        "labels_not_a_list",
        400,
        "request:list_type",
        json_body={"completions": ["x"], "labels": "abc"},
        param="labels",
    ),
    BadRequest(
        "completion_a_number",
        400,
        None,
        json_body={"completions": [5], "labels": [[]]},
        param="completions.0.str",
    ),
    BadRequest(
        "unknown_profile",
        400,
        "request:literal_error",
        json_body={**GOOD_REWARD, "profile": "greedy"},
        param="profile",
    ),
    BadRequest(
        "weight_a_string",
        400,
        "request:float_parsing",
        json_body={**GOOD_REWARD, "weights": {"exec": "lots"}},
        param="weights.exec",
    ),
    BadRequest(
        "negative_weight",
        400,
        "weights:negative",
        json_body={**GOOD_REWARD, "weights": {"exec": -1}},
        param="weights.exec",
    ),
    BadRequest(
        "unknown_weight",
        400,
        "weights:unknown_component",
        json_body={**GOOD_REWARD, "weights": {"style": 1}},
    ),
    BadRequest(
        "all_zero_weights",
        400,
        "weights:all_zero",
        json_body={**GOOD_REWARD, "weights": {"exec": 0}},
    ),
    BadRequest(
        "reference_not_a_reference",
        400,
        None,
        json_body={"completions": ["x"], "labels": [{"foo": 1, "bar": 2}]},
    ),
    BadRequest(
        "tool_schema_nonsense",
        400,
        None,
        json_body={"completions": ["x"], "labels": [REFERENCE], "tools": [{"nonsense": True}]},
    ),
    BadRequest(
        "length_mismatch",
        400,
        "reward:length_mismatch",
        json_body={"completions": ["x", "y"], "labels": [REFERENCE]},
        param="completions",
    ),
    BadRequest(
        "no_completions_no_query",
        400,
        "reward:missing_completions",
        json_body={"labels": [REFERENCE]},
    ),
    BadRequest(
        "query_without_response",
        400,
        "reward:no_response_in_query",
        json_body={"query": ["no header here"], "prompts": ["other"], "labels": [REFERENCE]},
        param="query.0",
    ),
    # A tool schema whose reference resolves nowhere: refused when the tools are read, before
    # any completion could reach it.
    BadRequest(
        "reward_tool_with_dangling_ref",
        400,
        "schema:invalid_json_schema",
        json_body={
            "completions": [hermes({"name": "f", "arguments": {"x": 1}})],
            "labels": [[{"name": "f", "arguments": {"x": 1}}]],
            "tools": [DANGLING_REF_TOOL],
        },
    ),
    BadRequest(
        "score_tool_with_dangling_ref",
        400,
        "schema:invalid_json_schema",
        path="/score",
        json_body={
            "items": [
                {
                    "prediction": hermes({"name": "f", "arguments": {"x": 1}}),
                    "reference": [{"name": "f", "arguments": {"x": 1}}],
                    "tools": [DANGLING_REF_TOOL],
                }
            ]
        },
    ),
    BadRequest(
        "score_item_missing_prediction",
        400,
        "request:missing",
        path="/score",
        json_body={"items": [{"reference": [], "tools": []}]},
        param="items.0.prediction",
    ),
    BadRequest(
        "score_unknown_field",
        400,
        "request:extra_forbidden",
        path="/score",
        json_body={"items": [{"prediction": "", "reference": [], "tools": []}], "extra": 1},
        param="extra",
    ),
    BadRequest(
        "score_negative_bootstrap",
        400,
        "request:greater_than_equal",
        path="/score",
        json_body={"items": [{"prediction": "", "reference": [], "tools": []}],
                   "bootstrap_samples": -1},
    ),
    BadRequest(
        "text_plain_body",
        400,
        None,
        raw_body=b"completions=x",
        headers={**AUTH, "Content-Type": "text/plain"},
    ),
    # --- empty lists and oversize batches ----------------------------------------------------
    BadRequest(
        "empty_batch_with_stray_completions",
        400,
        "reward:length_mismatch",
        json_body={"completions": ["x"], "labels": []},
        param="completions",
    ),
    BadRequest(
        "empty_items", 400, "request:too_short", path="/score", json_body={"items": []}
    ),
    BadRequest(
        "huge_reward_batch",
        400,
        "request:batch_too_large",
        json_body={"completions": ["x"] * 65, "labels": [[]] * 65},
        param="labels",
    ),
    BadRequest(
        "huge_score_batch",
        400,
        "request:batch_too_large",
        path="/score",
        json_body={"items": [{"prediction": "", "reference": [], "tools": []}] * 65},
        param="items",
    ),
    BadRequest(
        "oversize_body",
        413,
        "request:body_too_large",
        raw_body=b'{"completions": ["' + b"a" * SMALL_BODY_LIMIT + b'"], "labels": [[]]}',
    ),
    # --- auth ----------------------------------------------------------------------------------
    BadRequest("missing_key", 401, "auth:missing_key", json_body=GOOD_REWARD, headers={}),
    BadRequest(
        "wrong_key",
        401,
        "auth:invalid_key",
        json_body=GOOD_REWARD,
        headers={"Authorization": "Bearer not-the-key"},
    ),
    BadRequest(
        "key_prefix_only",
        401,
        "auth:invalid_key",
        json_body=GOOD_REWARD,
        headers={"Authorization": f"Bearer {API_KEY[:-1]}"},
    ),
    BadRequest(
        "basic_auth",
        401,
        "auth:missing_key",
        json_body=GOOD_REWARD,
        headers={"Authorization": f"Basic {API_KEY}"},
    ),
    BadRequest(
        "non_ascii_key",
        401,
        "auth:invalid_key",
        json_body=GOOD_REWARD,
        headers={"Authorization": "Bearer cl\xe9"},
    ),
    # The key is checked before the body is read: no key, no JSON errors, no size errors.
    BadRequest("bad_json_without_key", 401, "auth:missing_key", raw_body=b"{oops", headers={}),
    BadRequest(
        "oversize_body_without_key",
        401,
        "auth:missing_key",
        raw_body=b'{"completions": ["' + b"a" * SMALL_BODY_LIMIT + b'"], "labels": [[]]}',
        headers={},
    ),
    BadRequest("metrics_without_key", 401, "auth:missing_key", path="/metrics", method="GET",
               headers={}),
    BadRequest("models_without_key", 401, "auth:missing_key", path="/v1/models", method="GET",
               headers={}),
    BadRequest("openapi_without_key", 401, "auth:missing_key", path="/openapi.json",
               method="GET", headers={}),
    # --- routing -------------------------------------------------------------------------------
    BadRequest("unknown_path", 404, "request:not_found", path="/nope", method="GET"),
    BadRequest("wrong_method", 405, "request:method_not_allowed", method="GET"),
]  # fmt: skip


@pytest.mark.parametrize("case", CATALOGUE, ids=lambda case: case.name)
def test_bad_input_gets_the_right_4xx_envelope(
    guarded_server: LiveServer, case: BadRequest
) -> None:
    response = case.send(guarded_server.base_url)
    error = assert_envelope(response, case.status, case.code)
    if case.param is not None:
        assert error["param"] == case.param
    expected_type = {401: "authentication_error", 404: "not_found_error"}.get(
        case.status, "invalid_request_error"
    )
    assert error["type"] == expected_type
    if case.status == 401:
        assert response.headers["www-authenticate"] == "Bearer"


def test_the_server_survives_the_catalogue(guarded_server: LiveServer) -> None:
    """After every bad request above, a good one still works."""
    response = httpx.post(
        f"{guarded_server.base_url}/reward", json=GOOD_REWARD, headers=AUTH, timeout=30
    )
    assert response.status_code == 200
    assert response.json()["rewards"] == [0.0]


def test_health_and_ready_need_no_key(guarded_server: LiveServer) -> None:
    assert httpx.get(f"{guarded_server.base_url}/health", timeout=10).json() == {"status": "ok"}
    assert httpx.get(f"{guarded_server.base_url}/ready", timeout=10).status_code == 200
    # Other endpoints do, and accept the right one.
    assert httpx.get(f"{guarded_server.base_url}/metrics", headers=AUTH, timeout=10).is_success


def test_batch_at_the_limit_is_accepted(guarded_server: LiveServer) -> None:
    body = {"completions": ["x"] * SMALL_BATCH_LIMIT, "labels": [[]] * SMALL_BATCH_LIMIT}
    response = httpx.post(f"{guarded_server.base_url}/reward", json=body, headers=AUTH, timeout=30)
    assert response.status_code == 200
    assert response.json()["rewards"] == [1.0] * SMALL_BATCH_LIMIT


def _padded_reward_body(total_bytes: int) -> bytes:
    """A valid /reward body of exactly ``total_bytes`` (the padding is an ignored field)."""
    head = b'{"completions": ["x"], "labels": [[]], "padding": "'
    tail = b'"}'
    return head + b"a" * (total_bytes - len(head) - len(tail)) + tail


def _chunks(body: bytes, chunk_size: int = 64 * 1024) -> Iterator[bytes]:
    """A generator body: httpx sends it chunked, without a Content-Length."""
    for start in range(0, len(body), chunk_size):
        yield body[start : start + chunk_size]


JSON_HEADERS = {"Content-Type": "application/json"}


def test_default_limit_holds_at_16_mib(scoring_server: LiveServer) -> None:
    """The pinned FastAPI/Starlette/uvicorn stack does not bound bodies: our middleware does,
    at exactly 16 MiB by default."""
    url = f"{scoring_server.base_url}/reward"
    at_limit = _padded_reward_body(DEFAULT_BODY_LIMIT)
    response = httpx.post(url, content=at_limit, headers=JSON_HEADERS, timeout=60)
    assert response.status_code == 200, response.text
    assert response.json()["rewards"] == [1.0]
    over = _padded_reward_body(DEFAULT_BODY_LIMIT + 1)
    assert_envelope(
        httpx.post(url, content=over, headers=JSON_HEADERS, timeout=60),
        413,
        "request:body_too_large",
    )


def test_chunked_body_over_the_limit_gets_413_from_the_real_client(
    scoring_server: LiveServer,
) -> None:
    body = _padded_reward_body(DEFAULT_BODY_LIMIT + 4 * 1024 * 1024)
    request = httpx.Request(
        "POST", f"{scoring_server.base_url}/reward", content=_chunks(body), headers=JSON_HEADERS
    )
    assert "content-length" not in request.headers
    assert request.headers["transfer-encoding"] == "chunked"
    with httpx.Client(timeout=60) as client:
        response = client.send(request)
    assert_envelope(response, 413, "request:body_too_large")


def test_chunked_body_is_refused_while_it_streams(scoring_server: LiveServer) -> None:
    """The limit counts chunks as they arrive: a chunked body that never ends gets its 413
    once 16 MiB have come in, without the server waiting for the end of the body."""
    with socket.create_connection(("127.0.0.1", scoring_server.port), timeout=30) as raw:
        raw.sendall(
            b"POST /reward HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b"[" + b" " * (256 * 1024 - 1)
        for _ in range(DEFAULT_BODY_LIMIT // len(chunk) + 1):
            raw.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        # No terminating zero-length chunk: the body is still "streaming".
        answer = _read_http_response(raw.recv)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b'"code":"request:body_too_large"' in answer


def test_chunked_body_under_the_limit_is_accepted(scoring_server: LiveServer) -> None:
    body = _padded_reward_body(3 * 1024 * 1024)
    response = httpx.post(
        f"{scoring_server.base_url}/reward",
        content=_chunks(body),
        headers=JSON_HEADERS,
        timeout=60,
    )
    assert response.status_code == 200
    assert response.json()["rewards"] == [1.0]


def test_declared_length_over_the_limit_is_refused_before_the_body(
    guarded_server: LiveServer,
) -> None:
    """A Content-Length over the limit gets 413 without the server waiting for any body."""
    port = guarded_server.port
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        raw.sendall(
            b"POST /reward HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {API_KEY}\r\n".encode()
            + f"Content-Length: {10 * SMALL_BODY_LIMIT}\r\n\r\n".encode()
        )
        answer = _read_http_response(raw.recv)
    assert answer.startswith(b"HTTP/1.1 413")
    assert b'"code":"request:body_too_large"' in answer


def _read_http_response(recv: Callable[[int], bytes]) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body
