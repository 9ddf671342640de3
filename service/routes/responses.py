"""The error responses every route documents in OpenAPI (all in the OpenAI envelope)."""

from __future__ import annotations

from typing import Any

from service.protocol.errors import ErrorResponse


def documented_error(description: str) -> dict[str, Any]:
    """An OpenAPI response entry for an error in the envelope."""
    return {"model": ErrorResponse, "description": description}


#: What any authenticated JSON endpoint may answer besides its success.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: documented_error(
        "Invalid request: bad JSON, wrong field types, bad references or tool schemas."
    ),
    401: documented_error("Missing or wrong API key (when TOOLGRADE_API_KEY is set)."),
    413: documented_error("Body larger than TOOLGRADE_MAX_BODY_BYTES."),
    500: documented_error("A bug in ToolGrade (never caused by what a client sent)."),
}

#: Endpoints that need the generation engine also answer 503.
ENGINE_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    503: documented_error("No generation engine: scoring-only mode, still loading, or failed."),
}
