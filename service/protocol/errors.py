"""The OpenAI error envelope every error response uses."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from service.core.errors import ToolGradeError


class ErrorDetail(BaseModel):
    """What went wrong; ``code`` is ToolGrade's ``area:reason`` label (``auth:invalid_key``)."""

    message: str = Field(description="Human-readable explanation.")
    type: str = Field(description="OpenAI error type, e.g. invalid_request_error.")
    param: str | None = Field(default=None, description="The request field at fault, if any.")
    code: str | None = Field(default=None, description="Machine-readable area:reason label.")


class ErrorResponse(BaseModel):
    """``{"error": {"message", "type", "param", "code"}}``."""

    error: ErrorDetail


def error_body(
    message: str, *, error_type: str, param: str | None = None, code: str | None = None
) -> dict[str, Any]:
    """The OpenAI error envelope as a JSON-ready dict (:class:`ErrorResponse`'s shape).

    Args:
        message: What went wrong, for a person.
        error_type: OpenAI's error type (``invalid_request_error``, ...).
        param: The request field at fault, if any.
        code: ToolGrade's ``area:reason`` label.

    Returns:
        ``{"error": {"message", "type", "param", "code"}}``.

    Example:
        >>> error_body("bad", error_type="invalid_request_error", code="request:x")["error"]
        {'message': 'bad', 'type': 'invalid_request_error', 'param': None, 'code': 'request:x'}
    """
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


def error_body_for(exc: ToolGradeError) -> dict[str, Any]:
    """The envelope for a :class:`ToolGradeError`: its type, ``param`` and label as ``code``.

    Used for error responses and, once a stream's headers are sent, for the in-band error event.

    Args:
        exc: The error.

    Returns:
        ``{"error": {"message", "type", "param", "code"}}``.

    Example:
        >>> error_body_for(ToolGradeError("no such tool", label="schema:x", param="tools"))
        {'error': {'message': 'no such tool', 'type': 'invalid_request_error', 'param': 'tools', \
'code': 'schema:x'}}
    """
    return error_body(exc.message, error_type=exc.error_type, param=exc.param, code=exc.label)
