"""``POST /generate``: ToolGrade's own generation endpoint.

Takes a raw ``prompt`` (sent as is) or chat ``messages`` (rendered with the model's chat
template and ``tools``, which may be in any form the scorer understands: OpenAI, BFCL, xLAM).
Each output comes back as text **and** as the core parser reads it: calls with decoded
arguments (ready for ``/score``), the text outside the calls, the ``<think>`` reasoning, and
the parse failure label when the output had malformed call markup.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from service.protocol.chat import MAX_CHOICES, ChatMessage, ToolChoice
from service.protocol.score import CallOut

DEFAULT_MAX_TOKENS = 256


class GenerateRequest(BaseModel):
    """Exactly one of ``prompt`` and ``messages``."""

    model_config = ConfigDict(extra="forbid")

    prompt: str | None = Field(default=None, description="Raw prompt text (no chat template).")
    messages: list[ChatMessage] | None = Field(
        default=None, min_length=1, description="Chat messages, rendered by the chat template."
    )
    tools: list[dict[str, Any]] | str | None = Field(
        default=None,
        description="Tool schemas for the template (OpenAI, BFCL or xLAM form; a JSON string "
        "of the list, as in xLAM rows, works too).",
    )
    tool_choice: ToolChoice | None = Field(
        default=None, description='With messages: "none", "auto", "required" or a function.'
    )
    enable_thinking: bool | None = Field(default=None, description="Qwen3 thinking switch.")
    max_tokens: int = Field(default=DEFAULT_MAX_TOKENS, ge=1)
    temperature: float = Field(default=1.0, ge=0.0, le=2.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    top_k: int | None = Field(default=None, ge=-1)
    n: int = Field(default=1, ge=1, le=MAX_CHOICES)
    seed: int | None = Field(default=None, ge=0, le=2**63 - 1)
    stop: list[str] | None = None
    lora: str | None = Field(default=None, description="A LoRA adapter's name (GET /v1/models).")
    model: str | None = Field(default=None, description="Alternative to lora: any served name.")
    return_token_ids: bool = Field(
        default=False, description="Also return each completion's token ids (e.g. for RL)."
    )

    @model_validator(mode="after")
    def _one_prompt(self) -> GenerateRequest:
        if (self.prompt is None) == (self.messages is None):
            raise ValueError("send exactly one of 'prompt' and 'messages'")
        return self


class GenerateOutput(BaseModel):
    """One completion, as text and as parsed by the core."""

    index: int
    text: str = Field(description="Everything the model wrote (forced tool-call prefix included).")
    content: str | None = Field(description="Text outside tool calls and reasoning.")
    reasoning: str | None = Field(description="The <think> block's text.")
    tool_calls: list[CallOut] = Field(description="Parsed calls, arguments decoded.")
    parse_error: str | None = Field(
        description="parse:* label when the text had malformed call markup."
    )
    finish_reason: Literal["stop", "length", "tool_calls"]
    token_ids: list[int] | None = Field(
        default=None, description="The completion's token ids, with return_token_ids."
    )


class GenerateUsage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class GenerateResponse(BaseModel):
    model: str
    outputs: list[GenerateOutput]
    usage: GenerateUsage
