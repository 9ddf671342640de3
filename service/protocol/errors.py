"""The OpenAI error envelope every error response uses."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    """What went wrong; ``code`` is ToolGrade's ``area:reason`` label (``auth:invalid_key``)."""

    message: str = Field(description="Human-readable explanation.")
    type: str = Field(description="OpenAI error type, e.g. invalid_request_error.")
    param: str | None = Field(default=None, description="The request field at fault, if any.")
    code: str | None = Field(default=None, description="Machine-readable area:reason label.")


class ErrorResponse(BaseModel):
    """``{"error": {"message", "type", "param", "code"}}``."""

    error: ErrorDetail
