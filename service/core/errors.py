"""Errors raised by the core for malformed *requests* (never for malformed model output).

Model output that cannot be parsed or matched is not an error: it is scored and labelled.
These exceptions are for inputs a caller controls (tool schemas, references, weights), and the
HTTP layer maps every subclass of :class:`ToolGradeError` to a 4xx in the OpenAI envelope.
Labels read ``area:reason``.
"""

from __future__ import annotations


class ToolGradeError(Exception):
    """Base class: a client-side problem with an ``area:reason`` label and an optional param."""

    status_code = 400
    error_type = "invalid_request_error"

    def __init__(self, message: str, *, label: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.label = label
        self.param = param


class InvalidToolSchemaError(ToolGradeError):
    """A tool schema that none of the supported forms (OpenAI, plain/BFCL, xLAM) describes."""


class InvalidReferenceError(ToolGradeError):
    """A reference (ground truth) that is neither exact calls, BFCL possible answers nor no-call."""


class InvalidWeightsError(ToolGradeError):
    """Reward weights that are negative, unknown, non-finite or all zero."""
