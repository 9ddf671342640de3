"""ASGI middleware: request id, access log and HTTP metrics; the API key; the body guard.

All are plain ASGI (not ``BaseHTTPMiddleware``) so streaming responses pass through untouched
and the body guard sees the request body exactly as the server receives it, chunk by chunk.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Sequence
from typing import Any

import orjson
from pydantic import SecretStr
from starlette.datastructures import Headers, MutableHeaders
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.auth import check_bearer_key
from service.core.errors import ToolGradeError
from service.errors import AuthenticationError, InvalidJSONError, PayloadTooLargeError
from service.exception_handlers import error_response
from service.logging_config import REQUEST_ID_HEADER, set_request_id
from service.serving.telemetry import UNMATCHED_HANDLER, HttpMetrics

access_logger = logging.getLogger("toolgrade.access")

# Successful requests to these are logged at debug level.
PROBE_PATHS = frozenset({"/health", "/ready", "/metrics"})
# A client-supplied request id is echoed only when it is a short, printable token.
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# orjson refuses nesting deeper than this itself (with an error, not a crash).
ORJSON_MAX_DEPTH = 1024
# Where the guard leaves the decoded body for routes that want to skip a second parse.
DECODED_JSON_SCOPE_KEY = "toolgrade.json"


class RequestContextMiddleware:
    """Give every request an id (``X-Request-ID``), echo it, log one access line and count it
    in the HTTP metrics (one observation, two outputs: the log line and the metrics agree)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        http_metrics: HttpMetrics,
        routes: Sequence[BaseRoute],
        unmetered_paths: frozenset[str],
    ) -> None:
        self.app = app
        self.http_metrics = http_metrics
        self.routes = routes
        self.unmetered_paths = unmetered_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = Headers(scope=scope)
        incoming = headers.get(REQUEST_ID_HEADER)
        request_id = incoming if incoming and _SANE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        # Each request runs in its own task, so the id does not leak into other requests; it is
        # left set after the app returns so the 500 handler (outside this middleware) sees it.
        set_request_id(request_id)
        status = 500
        response_bytes = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_bytes
            if message["type"] == "http.response.start":
                status = message["status"]
                response_headers = MutableHeaders(scope=message)
                response_headers[REQUEST_ID_HEADER] = request_id
                response_bytes = _content_length(response_headers.get("content-length"))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            duration_s = time.perf_counter() - started
            path = scope["path"]
            handler = _route_template(scope, self.routes)
            if handler not in self.unmetered_paths:
                self.http_metrics.observe(
                    method=scope["method"],
                    status=status,
                    handler=handler,
                    request_bytes=_content_length(headers.get("content-length")),
                    response_bytes=response_bytes,
                    duration_s=duration_s,
                )
            # Orchestrators probe these every few seconds: keep them out of the info log.
            level = logging.DEBUG if path in PROBE_PATHS and status < 400 else logging.INFO
            if access_logger.isEnabledFor(level):
                access_logger.log(
                    level,
                    "%s %s %s",
                    scope["method"],
                    path,
                    status,
                    extra={
                        "method": scope["method"],
                        "path": path,
                        "status": status,
                        "duration_ms": round(duration_s * 1000, 3),
                        "client": scope["client"][0] if scope.get("client") else None,
                    },
                )


def _route_template(scope: Scope, routes: Sequence[BaseRoute]) -> str:
    """The path template of the request's route, :data:`UNMATCHED_HANDLER` when none matches.

    The router leaves the route it matched (fully, or by path only: a 405) in the scope; only a
    request refused before routing (401, 413, bad JSON) is matched here.
    """
    matched = scope.get("route")
    if matched is None:
        for route in routes:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                matched = route
                break
            if match is Match.PARTIAL and matched is None:
                matched = route
    path = getattr(matched, "path", None)
    return path if isinstance(path, str) else UNMATCHED_HANDLER


def _content_length(value: str | None) -> int:
    return int(value) if value is not None and value.isdigit() else 0


class ApiKeyMiddleware:
    """401 for a missing or wrong bearer key on every path but ``public_paths``, before the
    body is read (see :mod:`service.auth`)."""

    def __init__(self, app: ASGIApp, *, api_key: SecretStr, public_paths: frozenset[str]) -> None:
        self.app = app
        self.api_key = api_key
        self.public_paths = public_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in self.public_paths:
            try:
                check_bearer_key(Headers(scope=scope).get("authorization"), self.api_key)
            except AuthenticationError as exc:
                response = error_response(exc, headers={"WWW-Authenticate": "Bearer"})
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class RequestBodyGuard:
    """Bound the body's size and, for JSON, its strictness and nesting depth.

    * Size: a ``Content-Length`` over ``max_body_bytes`` is refused before reading anything;
      otherwise the streamed chunks are counted as they arrive, so a chunked body without a
      length is cut off at the limit too (413).
    * JSON bodies (``application/json``, ``*+json``, or no content type) must be strict JSON:
      valid UTF-8, no ``NaN``/``Infinity``, no number overflowing a double, and at most
      ``max_json_depth`` nested arrays/objects (400). orjson checks syntax and refuses nesting
      beyond 1,024 levels while it decodes, so a 100k-deep body costs one bounded pass and
      never reaches a recursive decoder; the configured depth is then checked iteratively.

    The body is read once here and replayed to the app; the decoded value is left in the scope
    under :data:`DECODED_JSON_SCOPE_KEY`.
    """

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, max_json_depth: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_json_depth = max_json_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await error_response(self._too_large())(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left before sending its body: nobody to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                await error_response(self._too_large())(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body and _is_json(headers.get("content-type")):
            try:
                scope[DECODED_JSON_SCOPE_KEY] = decode_strict_json(body, self.max_json_depth)
            except ToolGradeError as exc:
                await error_response(exc)(scope, receive, send)
                return
        await self.app(scope, _replay(body, receive), send)

    def _too_large(self) -> PayloadTooLargeError:
        return PayloadTooLargeError(
            f"request body exceeds {self.max_body_bytes} bytes (TOOLGRADE_MAX_BODY_BYTES)",
            label="request:body_too_large",
        )


def _replay(body: bytes, receive: Receive) -> Receive:
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # later calls wait for the disconnect, as streaming needs

    return replay


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return True  # FastAPI may parse a body without a content type as JSON
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


def decode_strict_json(body: bytes, max_depth: int) -> Any:
    """Decode strict JSON, refusing what Python's ``json`` would accept or choke on.

    Args:
        body: The raw request body.
        max_depth: Most nested arrays/objects allowed (the top-level container is depth 1).

    Returns:
        The decoded value.

    Raises:
        InvalidJSONError: Labels ``request:invalid_utf8``, ``request:non_finite_number``,
            ``request:too_deep`` or ``request:invalid_json``.

    Example:
        >>> decode_strict_json(b'{"a": [1, 2.5]}', 8)
        {'a': [1, 2.5]}
        >>> decode_strict_json(b'[123456789012345678901234567890]', 8)  # exact, as json does
        [123456789012345678901234567890]
        >>> for body in (b'[NaN]', b'[[[]]]', b'"\\xff"'.replace(b"\\xff", bytes([255]))):
        ...     try:
        ...         decode_strict_json(body, 2)
        ...     except InvalidJSONError as exc:
        ...         print(exc.label)
        request:non_finite_number
        request:too_deep
        request:invalid_utf8
    """
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise _classify_decode_error(exc, max_depth) from None
    too_deep, lossy = _inspect(value, max_depth)
    if too_deep:
        raise _too_deep(max_depth)
    if lossy:
        # orjson turns integers beyond 64 bits into floats; Python's json keeps them exact
        # (safe now: the depth is bounded).
        value = json.loads(body)
    return value


def _classify_decode_error(exc: orjson.JSONDecodeError, max_depth: int) -> InvalidJSONError:
    reason = str(exc.msg)
    if "UTF-8" in reason or "surrogate" in reason:
        return InvalidJSONError(
            f"request body is not valid UTF-8 JSON: {reason}", label="request:invalid_utf8"
        )
    if "depth limit" in reason or "recursion" in reason.lower():
        return _too_deep(min(max_depth, ORJSON_MAX_DEPTH))
    following = exc.doc[exc.pos : exc.pos + 9] if isinstance(exc.doc, str) else ""
    if "infinity" in reason or following.startswith(("NaN", "Infinity", "-Infinity")):
        return InvalidJSONError(
            "request body is not valid JSON: NaN and Infinity are not JSON numbers",
            label="request:non_finite_number",
        )
    return InvalidJSONError(
        f"request body is not valid JSON: {reason} at position {exc.pos}",
        label="request:invalid_json",
    )


def _too_deep(max_depth: int) -> InvalidJSONError:
    return InvalidJSONError(
        f"request body nests deeper than {max_depth} levels (TOOLGRADE_MAX_JSON_DEPTH)",
        label="request:too_deep",
    )


def _inspect(value: Any, max_depth: int) -> tuple[bool, bool]:
    """``(nests deeper than max_depth, holds a float that may be a rounded big integer)``.

    Iterative: the value may be up to 1,024 levels deep, beyond Python's recursion limit.
    (A hot path: one pass over every node of every request, hence ``type() is`` checks.)
    """
    lossy = False
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        kind = type(node)
        if kind is dict:
            children = node.values()
        elif kind is list:
            children = node
        else:
            lossy = lossy or (kind is float and not -_INT64_BOUND <= node < 2 * _INT64_BOUND)
            continue
        if depth > max_depth:
            return True, lossy
        for child in children:
            kind = type(child)
            if kind is dict or kind is list:
                stack.append((child, depth + 1))
            elif kind is float and not -_INT64_BOUND <= child < 2 * _INT64_BOUND:
                lossy = True
    return False, lossy


# orjson keeps integers in [-2**63, 2**64) exact and turns larger ones into floats.
_INT64_BOUND = float(2**63)
