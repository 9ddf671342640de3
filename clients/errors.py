"""Typed exceptions of the ToolGrade clients, carrying the server's error envelope."""

from __future__ import annotations

from typing import Any

import httpx

from service.protocol.errors import ErrorDetail

# 503s that retrying cannot fix: the server has no engine and will not get one.
PERMANENT_UNAVAILABLE_CODES = frozenset({"engine:scoring_only", "engine:failed"})
RETRYABLE_STATUS_CODES = frozenset({500, 502, 503, 504})


class ToolGradeAPIError(Exception):
    """Base class of every client error."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        #: How many attempts were made before giving up (set once retries are exhausted).
        self.attempts = 1


class APIConnectionError(ToolGradeAPIError):
    """The server could not be reached, or the connection broke mid-request."""


class APITimeoutError(APIConnectionError):
    """The request timed out."""


class APIStatusError(ToolGradeAPIError):
    """The server answered with an error status; ``error`` is its envelope's content."""

    def __init__(self, response: httpx.Response, error: ErrorDetail) -> None:
        super().__init__(f"{response.status_code} {error.type}: {error.message}")
        self.response = response
        self.status_code = response.status_code
        self.error = error

    @property
    def code(self) -> str | None:
        """The server's ``area:reason`` label, e.g. ``reference:invalid``."""
        return self.error.code

    @property
    def param(self) -> str | None:
        """The request field at fault, when the server named one."""
        return self.error.param

    @property
    def retryable(self) -> bool:
        """Whether another attempt may succeed (5xx, except a permanently missing engine)."""
        return (
            self.status_code in RETRYABLE_STATUS_CODES
            and self.error.code not in PERMANENT_UNAVAILABLE_CODES
        )


class BadRequestError(APIStatusError):
    """400: the request was invalid (bad JSON, fields, references, tool schemas, weights)."""


class AuthenticationError(APIStatusError):
    """401: missing or wrong API key."""


class NotFoundError(APIStatusError):
    """404: no such endpoint (an old server, or a wrong base URL)."""


class PayloadTooLargeError(APIStatusError):
    """413: the body exceeds the server's limit; send smaller batches."""


class ServiceUnavailableError(APIStatusError):
    """503: no generation engine (scoring-only, still loading, or failed)."""


class InternalServerError(APIStatusError):
    """5xx other than 503: a server-side failure."""


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    404: NotFoundError,
    413: PayloadTooLargeError,
    503: ServiceUnavailableError,
}


def error_from_response(response: httpx.Response) -> APIStatusError:
    """The typed exception for an error response, with the envelope parsed when there is one.

    Example:
        >>> response = httpx.Response(400, json={"error": {"message": "bad", "type":
        ...     "invalid_request_error", "param": "labels", "code": "request:missing"}})
        >>> error = error_from_response(response)
        >>> type(error).__name__, error.code, error.param
        ('BadRequestError', 'request:missing', 'labels')
    """
    detail = _error_detail(response)
    if response.status_code in _BY_STATUS:
        return _BY_STATUS[response.status_code](response, detail)
    if response.status_code >= 500:
        return InternalServerError(response, detail)
    return APIStatusError(response, detail)


def _error_detail(response: httpx.Response) -> ErrorDetail:
    try:
        payload: Any = response.json()
        return ErrorDetail.model_validate(payload["error"])
    except Exception:
        # Not our envelope (a proxy's HTML page, an empty body): keep what there is.
        text = response.text.strip()[:500] or response.reason_phrase
        return ErrorDetail(message=text, type="http_error", param=None, code=None)
