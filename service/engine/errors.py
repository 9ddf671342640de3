"""Errors of the generation path.

Request problems subclass :class:`~service.core.errors.ToolGradeError` (400 unless stated), so
:mod:`service.exception_handlers` turns them into OpenAI's envelope; an engine that cannot
serve raises :class:`EngineUnavailableError` (503). Problems with the *server's*
configuration (a missing model, an adapter whose rank exceeds ``max_lora_rank``) are
:class:`EngineConfigurationError`: they stop the engine from loading, never reach a client.
"""

from __future__ import annotations

from service.core.errors import ToolGradeError


class UnknownModelError(ToolGradeError):
    """The request's ``model`` is neither the served model nor a loaded LoRA adapter
    (label ``request:unknown_model``)."""


class PromptTooLongError(ToolGradeError):
    """Prompt plus ``max_tokens`` exceed the context (``request:context_length_exceeded``)."""


class InvalidChatRequestError(ToolGradeError):
    """Messages, tools or ``tool_choice`` that cannot make a prompt (``request:*`` labels)."""


class UnsupportedParameterError(ToolGradeError):
    """A parameter this server does not implement, e.g. ``logprobs``
    (``request:unsupported_parameter``)."""


class EngineUnavailableError(ToolGradeError):
    """Generation was asked for but no engine is usable (scoring-only, loading or failed)."""

    status_code = 503
    error_type = "service_unavailable_error"


class EngineConfigurationError(RuntimeError):
    """The server's engine settings cannot work (raised while loading, logged by the app)."""
