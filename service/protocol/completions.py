"""``POST /v1/completions``: OpenAI's (legacy) text completions on a raw prompt.

The prompt is sent to the model as is: no chat template, no tool parsing. This is what BFCL's
local-model handlers call with a prompt they rendered themselves. Field names, defaults
(``max_tokens`` 16) and the ``logprobs`` shape follow OpenAI's API as vLLM serves it; ``top_k``
is vLLM's extension.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from service.protocol.chat import MAX_CHOICES, StreamOptions, Usage

#: OpenAI's default ``max_tokens`` for text completions.
DEFAULT_MAX_TOKENS = 16
#: The most alternatives ``logprobs`` may ask for per token (vLLM's default ``max_logprobs``).
MAX_LOGPROBS = 20

#: One prompt as text or token ids, or a batch of either.
Prompt = str | list[int] | list[str] | list[list[int]]


class CompletionRequest(BaseModel):
    """OpenAI's completion request (the fields this server implements)."""

    model_config = ConfigDict(extra="ignore")

    model: str | None = Field(
        default=None, description="The served model or a LoRA adapter (GET /v1/models)."
    )
    prompt: Prompt = Field(description="Text or token ids, or a list of prompts (a batch).")
    max_tokens: int | None = Field(default=DEFAULT_MAX_TOKENS, ge=1)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    top_k: int | None = Field(default=None, ge=-1, description="vLLM extension; -1 or 0: off.")
    n: int = Field(default=1, ge=1, le=MAX_CHOICES)
    seed: int | None = Field(default=None, ge=0, le=2**63 - 1)
    stop: str | list[str] | None = None
    presence_penalty: float = Field(default=0.0, ge=-2.0, le=2.0)
    frequency_penalty: float = Field(default=0.0, ge=-2.0, le=2.0)
    logprobs: int | None = Field(
        default=None, ge=0, le=MAX_LOGPROBS, description="Alternatives per token to report."
    )
    echo: bool = Field(default=False, description="Prepend the prompt text to each completion.")
    suffix: str | None = None
    best_of: int | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    user: str | None = None


class CompletionLogprobs(BaseModel):
    """OpenAI's completion logprobs: parallel lists, one entry per generated token."""

    text_offset: list[int] = Field(default_factory=list)
    token_logprobs: list[float | None] = Field(default_factory=list)
    tokens: list[str] = Field(default_factory=list)
    top_logprobs: list[dict[str, float] | None] = Field(default_factory=list)


CompletionFinishReason = Literal["stop", "length"]


class CompletionChoice(BaseModel):
    index: int
    text: str
    logprobs: CompletionLogprobs | None = None
    finish_reason: CompletionFinishReason | None = None


class CompletionResponse(BaseModel):
    id: str
    object: Literal["text_completion"] = "text_completion"
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: Usage


class CompletionChunk(BaseModel):
    """One server-sent event of a streamed completion (same ``object`` as the response)."""

    id: str
    object: Literal["text_completion"] = "text_completion"
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: Usage | None = None
