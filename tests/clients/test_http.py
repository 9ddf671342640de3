"""``ToolGradeClient`` / ``AsyncToolGradeClient``: typed errors, retries, and a server restart.

Against real servers on loopback, except the retry-policy table at the end, which needs
answers (500, 502, 503 by reason) a healthy ToolGrade never gives and so uses httpx's
MockTransport.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from clients import (
    APIConnectionError,
    AsyncToolGradeClient,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    NotFoundError,
    PayloadTooLargeError,
    RetryPolicy,
    ServiceUnavailableError,
    ToolGradeClient,
)
from tests.fixtures.servers import LiveServer, start_server
from tests.service.http_cases import CASES, REFERENCE
from tests.shared import WEATHER_TOOL, free_port

KEY = "client-test-key"
# Fast backoff for tests: 0.05, 0.1, 0.2, ... capped at 0.5 s.
FAST = RetryPolicy(max_retries=3, initial_backoff_s=0.05, max_backoff_s=0.5, jitter_s=0.0)
NO_CALL = {"completions": ["no call"], "labels": [[]]}


@pytest.fixture(scope="module")
def keyed_server() -> Iterator[LiveServer]:
    server = start_server(
        {"TOOLGRADE_NO_MODEL": "1", "TOOLGRADE_API_KEY": KEY, "TOOLGRADE_MAX_BODY_BYTES": "65536"}
    )
    try:
        yield server
    finally:
        server.stop()


def test_typed_errors_carry_the_servers_envelope(keyed_server: LiveServer) -> None:
    with ToolGradeClient(keyed_server.base_url, api_key=KEY, retry=FAST) as client:
        with pytest.raises(BadRequestError) as bad:
            client.reward(["x"], [REFERENCE], weights={"exec": -1})
        assert bad.value.status_code == 400
        assert bad.value.code == "weights:negative"
        assert bad.value.param == "weights.exec"
        assert "non-negative" in bad.value.message
        assert bad.value.attempts == 1  # a 400 is never retried
        with pytest.raises(PayloadTooLargeError) as too_large:
            client.reward(["x" * 70_000], [[]])
        assert too_large.value.code == "request:body_too_large"
        with pytest.raises(BadRequestError) as batch:
            client.score([])
        assert batch.value.code == "request:too_short"
    with ToolGradeClient(keyed_server.base_url, api_key="wrong", retry=FAST) as client:
        with pytest.raises(AuthenticationError) as denied:
            client.reward(["x"], [[]])
        assert denied.value.code == "auth:invalid_key"
        assert client.health().status == "ok"  # open without a key
    wrong_base = ToolGradeClient(keyed_server.base_url + "/v9", api_key=KEY, retry=FAST)
    with wrong_base, pytest.raises(NotFoundError):
        wrong_base.reward(["x"], [[]])


def test_api_key_defaults_to_the_environment(
    keyed_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOOLGRADE_API_KEY", KEY)
    with ToolGradeClient(keyed_server.base_url) as client:
        assert client.reward(**NO_CALL).rewards == [1.0]


def test_generation_in_scoring_only_mode_is_not_retried(keyed_server: LiveServer) -> None:
    """503 'scoring-only' is permanent: retrying would only delay the error."""
    with ToolGradeClient(keyed_server.base_url, api_key=KEY, retry=FAST) as client:
        if client.models().data:  # pragma: no cover - the fixture serves no model
            pytest.skip("server has an engine")
        started = time.monotonic()
        try:
            client.chat_completions(model="x", messages=[{"role": "user", "content": "hi"}])
        except ServiceUnavailableError as exc:
            assert exc.code == "engine:scoring_only"
            assert exc.attempts == 1
        except NotFoundError:
            pytest.skip("generation routes are not registered yet")
        assert time.monotonic() - started < 2


def test_unreachable_server_raises_after_the_retries() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with ToolGradeClient(url, retry=FAST) as client:
        started = time.monotonic()
        with pytest.raises(APIConnectionError) as failure:
            client.reward(**NO_CALL)
    assert failure.value.attempts == FAST.max_retries + 1
    # Backoff 0.05 + 0.1 + 0.2 between the four attempts.
    assert time.monotonic() - started >= 0.35
    assert url in failure.value.message


def test_client_retries_across_a_server_restart(caplog: pytest.LogCaptureFixture) -> None:
    """Stop the server, start it again on the same port: a request made while it is down is
    retried until the new server answers, with the right rewards."""
    env: dict[str, str | None] = {"TOOLGRADE_NO_MODEL": "1", "TOOLGRADE_API_KEY": None}
    server = start_server(env)
    port = server.port
    patient = RetryPolicy(max_retries=12, initial_backoff_s=0.2, max_backoff_s=1.0, jitter_s=0.1)
    restarted: list[LiveServer] = []
    try:
        with ToolGradeClient(server.base_url, retry=patient) as client:
            assert client.reward(**NO_CALL).rewards == [1.0]
            server.stop()
            with pytest.raises(httpx.ConnectError):
                httpx.get(f"{server.base_url}/health", timeout=2)

            def restart() -> None:
                time.sleep(1.0)
                restarted.append(start_server(env, port=port))

            restarter = threading.Thread(target=restart)
            restarter.start()
            with caplog.at_level(logging.WARNING, logger="toolgrade.client"):
                response = client.reward(
                    [case.completion for case in CASES],
                    [REFERENCE] * len(CASES),
                    tools=[WEATHER_TOOL],
                )
            restarter.join(timeout=60)
        assert response.rewards == pytest.approx([case.weighted_reward for case in CASES])
        retries = [r for r in caplog.records if "retrying" in r.getMessage()]
        assert retries, "the request succeeded without retrying: the server was not down"
        assert restarted and restarted[0].port == port
    finally:
        server.stop()
        for later in restarted:
            later.stop()


async def test_async_client_retries_across_a_server_restart() -> None:
    env: dict[str, str | None] = {"TOOLGRADE_NO_MODEL": "1", "TOOLGRADE_API_KEY": None}
    server = start_server(env)
    patient = RetryPolicy(max_retries=12, initial_backoff_s=0.2, max_backoff_s=1.0, jitter_s=0.1)
    restarted: list[LiveServer] = []
    try:
        async with AsyncToolGradeClient(server.base_url, retry=patient) as client:
            assert (await client.reward(**NO_CALL)).rewards == [1.0]
            server.stop()
            loop = asyncio.get_running_loop()
            restart = loop.run_in_executor(
                None, lambda: restarted.append(start_server(env, port=server.port))
            )
            response = await client.reward(**NO_CALL)
            await restart
        assert response.rewards == [1.0]
    finally:
        server.stop()
        for later in restarted:
            later.stop()


# --- the retry policy, status by status ------------------------------------------------------


def _envelope(status: int, code: str) -> httpx.Response:
    return httpx.Response(
        status, json={"error": {"message": code, "type": "x", "param": None, "code": code}}
    )


@pytest.mark.parametrize(
    ("first_answer", "retried"),
    [
        (_envelope(500, "internal:unexpected"), True),
        (httpx.Response(502, text="<html>bad gateway</html>"), True),
        (_envelope(503, "engine:loading"), True),
        (httpx.Response(504, text=""), True),
        (_envelope(503, "engine:scoring_only"), False),
        (_envelope(503, "engine:failed"), False),
        (_envelope(400, "request:missing"), False),
        (_envelope(401, "auth:missing_key"), False),
        (_envelope(413, "request:body_too_large"), False),
    ],
)
def test_which_answers_are_retried(first_answer: httpx.Response, retried: bool) -> None:
    answers = [first_answer, httpx.Response(200, json={"status": "ok"})]
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answers[len(seen) - 1]

    client = ToolGradeClient(
        "http://toolgrade.test", retry=FAST, transport=httpx.MockTransport(handler)
    )
    if retried:
        assert client.health().status == "ok"
        assert len(seen) == 2
    else:
        with pytest.raises(Exception) as failure:
            client.health()
        assert len(seen) == 1
        assert getattr(failure.value, "status_code", None) == first_answer.status_code


def test_non_envelope_errors_keep_the_body_text() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(502, text="upstream down"))
    client = ToolGradeClient("http://toolgrade.test", retry=FAST, transport=transport)
    with client, pytest.raises(InternalServerError) as failure:
        client.health()
    assert failure.value.error.message == "upstream down"
    assert failure.value.attempts == FAST.max_retries + 1
