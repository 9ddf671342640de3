"""``ToolGradeClient`` and ``AsyncToolGradeClient``: typed methods for every endpoint.

Both retry, with exponential backoff and jitter (tenacity), on connection failures, timeouts
and 5xx answers (except a 503 that says the server has no engine and will not get one);
every other error is raised at once as a typed exception (:mod:`clients.errors`) carrying the
server's message, ``code`` and ``param``. ``/score`` and ``/reward`` are pure functions of the
request, so retrying them is always safe.

Example:
    >>> with ToolGradeClient("http://127.0.0.1:8000", api_key="secret") as client:  # doctest: +SKIP
    ...     client.reward(["<tool_call>...</tool_call>"], [[{"name": "f", "arguments": {}}]])
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from clients.errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    ServiceUnavailableError,
    ToolGradeAPIError,
    error_from_response,
)
from service.protocol.chat import ChatCompletionRequest, ChatCompletionResponse
from service.protocol.generate import GenerateRequest, GenerateResponse
from service.protocol.health import HealthResponse, ReadyResponse
from service.protocol.models import ModelList
from service.protocol.reward import RewardResponse
from service.protocol.score import ScoreItem, ScoreResponse

logger = logging.getLogger("toolgrade.client")

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT_S = 60.0
# Connecting to a loopback or LAN service either works fast or not at all.
DEFAULT_CONNECT_TIMEOUT_S = 10.0

ResponseModel = TypeVar("ResponseModel", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently to retry.

    With the defaults the waits are about 0.5, 1, 2, 4 and 8 s (plus up to 0.5 s jitter):
    ~16 s in all, enough to ride out a server restart.
    """

    max_retries: int = 5
    initial_backoff_s: float = 0.5
    max_backoff_s: float = 8.0
    jitter_s: float = 0.5

    def tenacity_options(self) -> dict[str, Any]:
        return {
            "stop": stop_after_attempt(self.max_retries + 1),
            "wait": wait_exponential_jitter(
                initial=self.initial_backoff_s, max=self.max_backoff_s, jitter=self.jitter_s
            ),
            "retry": retry_if_exception(is_retryable),
            "reraise": True,
            "before_sleep": _log_retry,
        }


def is_retryable(exc: BaseException) -> bool:
    """Connection failures, timeouts and retryable 5xx answers."""
    if isinstance(exc, APIConnectionError):
        return True
    return isinstance(exc, APIStatusError) and exc.retryable


def _log_retry(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    wait = state.next_action.sleep if state.next_action else 0.0
    logger.warning(
        "ToolGrade request failed (attempt %d): %s; retrying in %.1fs",
        state.attempt_number,
        exc,
        wait,
    )


def _gave_up(exc: ToolGradeAPIError, attempts: int) -> None:
    exc.attempts = attempts
    if attempts > 1:
        exc.add_note(f"gave up after {attempts} attempts")


@dataclass(frozen=True, slots=True)
class _Call:
    """One endpoint call: what to send and what a success looks like."""

    method: str
    path: str
    body: Mapping[str, Any] | None = None
    retry: bool = True


class _ClientBase:
    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        timeout: float,
        retry: RetryPolicy | None,
        max_retries: int | None,
        headers: Mapping[str, str] | None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        key = api_key if api_key is not None else os.environ.get("TOOLGRADE_API_KEY") or None
        self._headers = {"Accept": "application/json", **(headers or {})}
        if key:
            self._headers["Authorization"] = f"Bearer {key}"
        self._timeout = httpx.Timeout(timeout, connect=min(timeout, DEFAULT_CONNECT_TIMEOUT_S))
        policy = retry or RetryPolicy()
        if max_retries is not None:
            policy = RetryPolicy(
                max_retries=max_retries,
                initial_backoff_s=policy.initial_backoff_s,
                max_backoff_s=policy.max_backoff_s,
                jitter_s=policy.jitter_s,
            )
        self.retry_policy = policy

    def _url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def _prepare(self, call: _Call) -> tuple[str, bytes | None, dict[str, str] | None]:
        # URL, encoded body and extra headers of one attempt; the sync and async clients share
        # everything about an attempt but the I/O itself.
        content = encode_body(call.body) if call.body is not None else None
        headers = {"Content-Type": "application/json"} if content is not None else None
        return self._url(call.path), content, headers


def _transport_error(call: _Call, url: str, exc: httpx.TransportError) -> ToolGradeAPIError:
    """The client error for an attempt that got no HTTP response."""
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(f"{call.method} {url} timed out: {exc!r}")
    return APIConnectionError(f"{call.method} {url} failed: {exc!r}")


def _checked(response: httpx.Response) -> httpx.Response:
    """``response``, or the client error its HTTP error status maps to."""
    if response.is_error:
        raise error_from_response(response)
    return response


def encode_body(body: Mapping[str, Any]) -> bytes:
    """Strict JSON (no NaN/Infinity, which the server refuses); numpy values become lists.

    Example:
        >>> encode_body({"labels": [[]], "weights": {"exec": 1.0}})
        b'{"labels":[[]],"weights":{"exec":1.0}}'
    """
    return json.dumps(
        body, allow_nan=False, ensure_ascii=False, separators=(",", ":"), default=_to_json
    ).encode()


def _to_json(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_unset=True)
    if hasattr(value, "tolist"):  # numpy arrays and scalars from datasets columns
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def score_call(
    items: Sequence[ScoreItem | Mapping[str, Any]],
    include_items: bool,
    bootstrap_samples: int | None,
    seed: int | None,
) -> _Call:
    body: dict[str, Any] = {"items": list(items), "include_items": include_items}
    if bootstrap_samples is not None:
        body["bootstrap_samples"] = bootstrap_samples
    if seed is not None:
        body["seed"] = seed
    return _Call("POST", "/score", body)


def reward_call(
    completions: Sequence[Any] | None,
    labels: Sequence[Any],
    tools: Any,
    weights: Mapping[str, float] | None,
    profile: str | None,
    prompts: Sequence[Any] | None,
    query: Sequence[str] | None,
) -> _Call:
    body: dict[str, Any] = {"labels": list(labels)}
    optional = {
        "completions": completions,
        "tools": tools,
        "weights": weights,
        "profile": profile,
        "prompts": prompts,
        "query": query,
    }
    for name, value in optional.items():
        if value is not None:
            body[name] = list(value) if isinstance(value, tuple) else value
    return _Call("POST", "/reward", body)


def request_body(request: BaseModel | Mapping[str, Any] | None, fields: Mapping[str, Any]) -> Any:
    """A request given as a model, a dict and/or keyword fields, as a JSON-ready dict.

    Example:
        >>> request_body({"prompt": "hi"}, {"max_tokens": 8})
        {'prompt': 'hi', 'max_tokens': 8}
    """
    if isinstance(request, BaseModel):
        base = request.model_dump(mode="json", exclude_unset=True)
    else:
        base = dict(request or {})
    return {**base, **fields}


def chat_body(request: BaseModel | Mapping[str, Any] | None, fields: Mapping[str, Any]) -> Any:
    body = request_body(request, fields)
    if body.get("stream"):
        raise ValueError("chat_completions() does not stream; use the openai SDK for stream=True")
    return body


class ToolGradeClient(_ClientBase):
    """Synchronous client.

    Args:
        base_url: The service, e.g. ``http://127.0.0.1:8000``.
        api_key: Bearer key; defaults to ``TOOLGRADE_API_KEY`` from the environment.
        timeout: Seconds per attempt (connecting: at most 10 s).
        max_retries: Retries after the first attempt (default 5); ``retry`` for the backoff.
        retry: The full :class:`RetryPolicy`.
        headers: Extra headers on every request.
        transport: An httpx transport (tests, custom proxies).
    """

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        api_key: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        max_retries: int | None = None,
        retry: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(base_url, api_key, timeout, retry, max_retries, headers)
        self._http = httpx.Client(headers=self._headers, timeout=self._timeout, transport=transport)

    def __enter__(self) -> ToolGradeClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    # --- endpoints --------------------------------------------------------------------------

    def health(self) -> HealthResponse:
        """``GET /health``."""
        return HealthResponse.model_validate(self._json(_Call("GET", "/health")))

    def ready(self) -> ReadyResponse:
        """``GET /ready`` (no retries). Raises :class:`ServiceUnavailableError` while loading."""
        return ReadyResponse.model_validate(self._json(_Call("GET", "/ready", retry=False)))

    def wait_until_ready(self, timeout_s: float = 300.0, poll_s: float = 1.0) -> ReadyResponse:
        """Poll ``/ready`` until it answers 200 (or raise the last error after ``timeout_s``)."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                return self.ready()
            except (APIConnectionError, ServiceUnavailableError):
                if time.monotonic() + poll_s > deadline:
                    raise
            time.sleep(poll_s)

    def models(self) -> ModelList:
        """``GET /v1/models``."""
        return ModelList.model_validate(self._json(_Call("GET", "/v1/models")))

    def metrics(self) -> str:
        """``GET /metrics`` (Prometheus text)."""
        return self._send(_Call("GET", "/metrics")).text

    def score(
        self,
        items: Sequence[ScoreItem | Mapping[str, Any]],
        *,
        include_items: bool = False,
        bootstrap_samples: int | None = None,
        seed: int | None = None,
    ) -> ScoreResponse:
        """``POST /score``: items ``{"id"?, "prediction", "reference", "tools", "category"?}``."""
        call = score_call(items, include_items, bootstrap_samples, seed)
        return ScoreResponse.model_validate(self._json(call))

    def reward(
        self,
        completions: Sequence[Any] | None,
        labels: Sequence[Any],
        *,
        tools: Any = None,
        weights: Mapping[str, float] | None = None,
        profile: str | None = None,
        prompts: Sequence[Any] | None = None,
        query: Sequence[str] | None = None,
    ) -> RewardResponse:
        """``POST /reward``: one reward (and four components) per completion."""
        call = reward_call(completions, labels, tools, weights, profile, prompts, query)
        return RewardResponse.model_validate(self._json(call))

    def generate(
        self, request: GenerateRequest | Mapping[str, Any] | None = None, **fields: Any
    ) -> GenerateResponse:
        """``POST /generate``: a request model, a dict, or its fields as keywords."""
        call = _Call("POST", "/generate", request_body(request, fields))
        return GenerateResponse.model_validate(self._json(call))

    def chat_completions(
        self, request: ChatCompletionRequest | Mapping[str, Any] | None = None, **fields: Any
    ) -> ChatCompletionResponse:
        """``POST /v1/chat/completions`` without streaming (the openai SDK streams)."""
        call = _Call("POST", "/v1/chat/completions", chat_body(request, fields))
        return ChatCompletionResponse.model_validate(self._json(call))

    # --- transport --------------------------------------------------------------------------

    def _json(self, call: _Call) -> Any:
        return self._send(call).json()

    def _send(self, call: _Call) -> httpx.Response:
        if not call.retry:
            return self._attempt(call)
        retrying = Retrying(**self.retry_policy.tenacity_options())
        try:
            for attempt in retrying:
                with attempt:
                    response = self._attempt(call)
        except ToolGradeAPIError as exc:
            _gave_up(exc, int(retrying.statistics.get("attempt_number", 1)))
            raise
        return response

    def _attempt(self, call: _Call) -> httpx.Response:
        url, content, headers = self._prepare(call)
        try:
            response = self._http.request(call.method, url, content=content, headers=headers)
        except httpx.TransportError as exc:
            raise _transport_error(call, url, exc) from exc
        return _checked(response)


class AsyncToolGradeClient(_ClientBase):
    """Asynchronous client (same arguments and methods as :class:`ToolGradeClient`)."""

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        api_key: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        max_retries: int | None = None,
        retry: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(base_url, api_key, timeout, retry, max_retries, headers)
        self._http = httpx.AsyncClient(
            headers=self._headers, timeout=self._timeout, transport=transport
        )

    async def __aenter__(self) -> AsyncToolGradeClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    # --- endpoints --------------------------------------------------------------------------

    async def health(self) -> HealthResponse:
        """``GET /health``."""
        return HealthResponse.model_validate(await self._json(_Call("GET", "/health")))

    async def ready(self) -> ReadyResponse:
        """``GET /ready`` (no retries). Raises :class:`ServiceUnavailableError` while loading."""
        return ReadyResponse.model_validate(await self._json(_Call("GET", "/ready", retry=False)))

    async def models(self) -> ModelList:
        """``GET /v1/models``."""
        return ModelList.model_validate(await self._json(_Call("GET", "/v1/models")))

    async def metrics(self) -> str:
        """``GET /metrics`` (Prometheus text)."""
        return (await self._send(_Call("GET", "/metrics"))).text

    async def score(
        self,
        items: Sequence[ScoreItem | Mapping[str, Any]],
        *,
        include_items: bool = False,
        bootstrap_samples: int | None = None,
        seed: int | None = None,
    ) -> ScoreResponse:
        """``POST /score``: items ``{"id"?, "prediction", "reference", "tools", "category"?}``."""
        call = score_call(items, include_items, bootstrap_samples, seed)
        return ScoreResponse.model_validate(await self._json(call))

    async def reward(
        self,
        completions: Sequence[Any] | None,
        labels: Sequence[Any],
        *,
        tools: Any = None,
        weights: Mapping[str, float] | None = None,
        profile: str | None = None,
        prompts: Sequence[Any] | None = None,
        query: Sequence[str] | None = None,
    ) -> RewardResponse:
        """``POST /reward``: one reward (and four components) per completion."""
        call = reward_call(completions, labels, tools, weights, profile, prompts, query)
        return RewardResponse.model_validate(await self._json(call))

    async def generate(
        self, request: GenerateRequest | Mapping[str, Any] | None = None, **fields: Any
    ) -> GenerateResponse:
        """``POST /generate``: a request model, a dict, or its fields as keywords."""
        call = _Call("POST", "/generate", request_body(request, fields))
        return GenerateResponse.model_validate(await self._json(call))

    async def chat_completions(
        self, request: ChatCompletionRequest | Mapping[str, Any] | None = None, **fields: Any
    ) -> ChatCompletionResponse:
        """``POST /v1/chat/completions`` without streaming (the openai SDK streams)."""
        call = _Call("POST", "/v1/chat/completions", chat_body(request, fields))
        return ChatCompletionResponse.model_validate(await self._json(call))

    # --- transport --------------------------------------------------------------------------

    async def _json(self, call: _Call) -> Any:
        return (await self._send(call)).json()

    async def _send(self, call: _Call) -> httpx.Response:
        if not call.retry:
            return await self._attempt(call)
        retrying = AsyncRetrying(**self.retry_policy.tenacity_options())
        try:
            async for attempt in retrying:
                with attempt:
                    response = await self._attempt(call)
        except ToolGradeAPIError as exc:
            _gave_up(exc, int(retrying.statistics.get("attempt_number", 1)))
            raise
        return response

    async def _attempt(self, call: _Call) -> httpx.Response:
        url, content, headers = self._prepare(call)
        try:
            response = await self._http.request(call.method, url, content=content, headers=headers)
        except httpx.TransportError as exc:
            raise _transport_error(call, url, exc) from exc
        return _checked(response)
