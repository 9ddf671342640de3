"""``POST /v1/chat/completions``: OpenAI's chat completions, with tools.

Requests and responses follow OpenAI's API as vLLM serves it, so the ``openai`` SDK and clients
written for vLLM work unchanged. Unknown request fields are ignored (as OpenAI-compatible servers
do), except ones whose absence would change the answer silently (``logprobs`` on an engine
without them, unsupported ``response_format`` types): those are 400. Extensions, as vLLM names
them: ``top_k``, ``chat_template_kwargs`` and a top-level ``enable_thinking`` (Qwen3's thinking
switch); responses carry the reasoning as ``reasoning`` (vLLM's name) and, for older clients,
``reasoning_content``; a message sent back may use either name.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# One request may ask for at most this many completions.
MAX_CHOICES = 16
#: The most alternatives ``top_logprobs`` may ask for (OpenAI's limit, vLLM's default).
MAX_TOP_LOGPROBS = 20


class FunctionCall(BaseModel):
    """A call as OpenAI serialises it: ``arguments`` is a JSON **string**."""

    name: str
    arguments: str


class ToolCall(BaseModel):
    """One entry of an assistant message's ``tool_calls``."""

    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class ContentPart(BaseModel):
    """A part of a multi-part message; only text parts are supported."""

    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    """A message of the conversation (system, developer, user, assistant or tool)."""

    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None
    reasoning: str | None = None
    reasoning_content: str | None = None


class FunctionDefinition(BaseModel):
    """A function the model may call: ``parameters`` is a JSON Schema object."""

    name: str = Field(min_length=1, max_length=256)
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class ChatTool(BaseModel):
    """``{"type": "function", "function": {...}}``."""

    type: Literal["function"] = "function"
    function: FunctionDefinition


class NamedFunction(BaseModel):
    name: str


class NamedToolChoice(BaseModel):
    """``{"type": "function", "function": {"name": ...}}``: call exactly this function."""

    type: Literal["function"] = "function"
    function: NamedFunction


ToolChoice = Literal["none", "auto", "required"] | NamedToolChoice


class StreamOptions(BaseModel):
    include_usage: bool = False


class ResponseFormat(BaseModel):
    """``text``, ``json_object`` or ``json_schema`` (``{"json_schema": {"schema": ...}}``)."""

    model_config = ConfigDict(extra="allow")

    type: Literal["text", "json_object", "json_schema"]
    json_schema: dict[str, Any] | None = None


class ChatCompletionRequest(BaseModel):
    """OpenAI's chat completion request (the fields this server implements)."""

    model_config = ConfigDict(extra="ignore")

    model: str | None = Field(
        default=None, description="The served model or a LoRA adapter (GET /v1/models)."
    )
    messages: list[ChatMessage] = Field(min_length=1)
    tools: list[ChatTool] | None = None
    tool_choice: ToolChoice | None = Field(
        default=None, description='"none", "auto" (default with tools), "required" or a function.'
    )
    parallel_tool_calls: bool | None = Field(
        default=None, description="false keeps only the first parsed call."
    )
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    top_k: int | None = Field(default=None, ge=-1, description="vLLM extension; -1 or 0: off.")
    n: int = Field(default=1, ge=1, le=MAX_CHOICES)
    seed: int | None = Field(default=None, ge=0, le=2**63 - 1)
    stop: str | list[str] | None = None
    presence_penalty: float = Field(default=0.0, ge=-2.0, le=2.0)
    frequency_penalty: float = Field(default=0.0, ge=-2.0, le=2.0)
    stream: bool = False
    stream_options: StreamOptions | None = None
    logprobs: bool | None = Field(
        default=None, description="Return each generated token's log-probability."
    )
    top_logprobs: int | None = Field(
        default=None, ge=0, le=MAX_TOP_LOGPROBS, description="Alternatives per token (logprobs)."
    )
    response_format: ResponseFormat | None = None
    user: str | None = None
    enable_thinking: bool | None = Field(
        default=None, description="Qwen3 thinking switch (also read from chat_template_kwargs)."
    )
    chat_template_kwargs: dict[str, Any] | None = None


class AssistantMessage(BaseModel):
    """The generated message. ``content`` is null when the model only called tools;
    ``reasoning_content`` repeats ``reasoning`` for clients written before vLLM renamed it."""

    role: Literal["assistant"] = "assistant"
    content: str | None = None
    reasoning: str | None = None
    reasoning_content: str | None = None
    tool_calls: list[ToolCall] | None = None


FinishReason = Literal["stop", "length", "tool_calls"]


class TopLogprob(BaseModel):
    """A candidate token: its text, log-probability and UTF-8 bytes."""

    token: str
    logprob: float
    bytes: list[int] | None = None


class TokenLogprob(TopLogprob):
    """A generated token and the most likely alternatives at its position."""

    top_logprobs: list[TopLogprob] = Field(default_factory=list)


class ChatLogprobs(BaseModel):
    content: list[TokenLogprob] | None = None


class ChatChoice(BaseModel):
    index: int
    message: AssistantMessage
    finish_reason: FinishReason
    logprobs: ChatLogprobs | None = None


class Usage(BaseModel):
    """Token counts (completion tokens summed over the ``n`` choices)."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletionResponse(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage


class FunctionCallDelta(BaseModel):
    name: str | None = None
    arguments: str | None = None


class ToolCallDelta(BaseModel):
    """A streamed call: ``index`` within the message; its first delta carries the id and name,
    the next ones its arguments."""

    index: int
    id: str | None = None
    type: Literal["function"] | None = None
    function: FunctionCallDelta


class ChoiceDelta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None
    reasoning: str | None = None
    reasoning_content: str | None = None
    tool_calls: list[ToolCallDelta] | None = None


class ChunkChoice(BaseModel):
    index: int
    delta: ChoiceDelta
    finish_reason: FinishReason | None = None
    logprobs: ChatLogprobs | None = None


class ChatCompletionChunk(BaseModel):
    """One server-sent event of a streamed completion."""

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None = None
