"""Errors the HTTP layer raises about a request itself (auth, size, JSON, batch).

They subclass :class:`service.core.errors.ToolGradeError`, so the one module that builds error
responses (:mod:`service.exception_handlers`) maps them to the OpenAI envelope like any core
error: ``status_code`` and ``error_type`` come from the class, ``code`` is the ``area:reason``
label.
"""

from __future__ import annotations

from service.core.errors import ToolGradeError


class AuthenticationError(ToolGradeError):
    """A missing or wrong ``Authorization: Bearer`` key (labels ``auth:missing_key``,
    ``auth:invalid_key``)."""

    status_code = 401
    error_type = "authentication_error"


class PayloadTooLargeError(ToolGradeError):
    """A request body over ``Settings.max_body_bytes`` (label ``request:body_too_large``)."""

    status_code = 413


class InvalidJSONError(ToolGradeError):
    """A body that is not strict JSON: bad syntax, invalid UTF-8, NaN/Infinity, too deep."""


class BatchTooLargeError(ToolGradeError):
    """More items in one request than ``Settings.max_batch_items``."""
