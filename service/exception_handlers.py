"""The one place where errors become HTTP responses, always in OpenAI's envelope.

``{"error": {"message", "type", "param", "code"}}`` with ``code`` the ``area:reason`` label:

* :class:`~service.core.errors.ToolGradeError` and subclasses (core request errors, the HTTP
  layer's errors in :mod:`service.errors`, the engine's errors): the class's ``status_code`` and
  ``error_type``.
* FastAPI's request validation errors: **400** (not FastAPI's bare 422 body), ``param`` the
  dotted path of the first offending field, ``code`` ``request:<pydantic error type>``.
* Starlette's HTTP errors (unknown path, wrong method): their status, ``request:*`` codes.
* Anything else is a bug in the service: 500, logged with its traceback. No request a client
  can send should reach it; the fuzz tests check that.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from service.core.errors import ToolGradeError
from service.engine.errors import EngineUnavailableError
from service.logging_config import REQUEST_ID_HEADER, current_request_id
from service.protocol.errors import error_body, error_body_for

logger = logging.getLogger("toolgrade.errors")

# How many validation problems one error message lists before "and N more".
MAX_LISTED_PROBLEMS = 3

_HTTP_ERROR_KINDS: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "request:bad_request"),
    401: ("authentication_error", "auth:unauthorized"),
    403: ("permission_error", "auth:forbidden"),
    404: ("not_found_error", "request:not_found"),
    405: ("invalid_request_error", "request:method_not_allowed"),
    413: ("invalid_request_error", "request:body_too_large"),
    415: ("invalid_request_error", "request:unsupported_media_type"),
}


def error_response(exc: ToolGradeError, headers: dict[str, str] | None = None) -> JSONResponse:
    """The response for a :class:`ToolGradeError` (usable from ASGI middleware too).

    Example:
        >>> from service.errors import PayloadTooLargeError
        >>> too_big = PayloadTooLargeError("too big", label="request:body_too_large")
        >>> response = error_response(too_big)
        >>> response.status_code, response.body[:40]
        (413, b'{"error":{"message":"too big","type":"in')
    """
    return JSONResponse(
        error_body_for(exc), status_code=exc.status_code, headers=_with_request_id(headers)
    )


def describe_validation_errors(errors: Sequence[Any]) -> tuple[str, str | None, str]:
    """Summarise pydantic/FastAPI validation errors as ``(message, param, code)``.

    Example:
        >>> describe_validation_errors([{"loc": ("body", "labels"), "msg": "Field required",
        ...     "type": "missing"}])
        ('labels: Field required', 'labels', 'request:missing')
    """
    if not errors:
        return "invalid request", None, "request:invalid"
    problems = []
    for error in errors[:MAX_LISTED_PROBLEMS]:
        where = _field_path(error.get("loc", ()))
        problems.append(f"{where}: {error.get('msg', 'invalid')}" if where else error.get("msg"))
    message = "; ".join(str(p) for p in problems)
    if len(errors) > MAX_LISTED_PROBLEMS:
        message += f" (and {len(errors) - MAX_LISTED_PROBLEMS} more)"
    first = errors[0]
    return message, _field_path(first.get("loc", ())) or None, f"request:{first.get('type')}"


def _field_path(loc: Sequence[Any]) -> str:
    # FastAPI prefixes body fields with "body" (and query parameters with "query").
    parts = list(loc[1:] if loc and loc[0] in {"body", "query", "path", "header"} else loc)
    return ".".join(str(part) for part in parts)


def _with_request_id(headers: dict[str, str] | None) -> dict[str, str] | None:
    request_id = current_request_id()
    if request_id is None:
        return headers
    return {**(headers or {}), REQUEST_ID_HEADER: request_id}


async def _toolgrade_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ToolGradeError)
    # A missing engine is an expected state (its 503 is in the access log); other 5xx are not.
    if exc.status_code >= 500 and not isinstance(exc, EngineUnavailableError):
        logger.warning("%s: %s", exc.label, exc.message)
    return error_response(exc)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    message, param, code = describe_validation_errors(exc.errors())
    body = error_body(message, error_type="invalid_request_error", param=param, code=code)
    return JSONResponse(body, status_code=400, headers=_with_request_id(None))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    error_type, code = _HTTP_ERROR_KINDS.get(
        exc.status_code,
        ("server_error", "internal:http_error")
        if exc.status_code >= 500
        else ("invalid_request_error", "request:http_error"),
    )
    message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    body = error_body(message, error_type=error_type, code=code)
    headers = dict(exc.headers or {})
    return JSONResponse(body, status_code=exc.status_code, headers=_with_request_id(headers))


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    logger.error(
        "unhandled error on %s %s",
        request.method,
        request.url.path,
        exc_info=(type(exc), exc, exc.__traceback__),
    )
    body = error_body(
        "internal server error (a bug in ToolGrade: please report it with the request id)",
        error_type="server_error",
        code="internal:unexpected",
    )
    return JSONResponse(body, status_code=500, headers=_with_request_id(None))


def register_exception_handlers(app: FastAPI) -> None:
    """Install every handler on ``app``."""
    app.add_exception_handler(ToolGradeError, _toolgrade_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
