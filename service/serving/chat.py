"""``/v1/chat/completions``: OpenAI's chat API on the served model, tool calls parsed by the core.

``finish_reason`` is ``tool_calls`` only when the core parser found calls; their ``arguments``
are JSON strings and each call gets an OpenAI-style id. ``reasoning_content`` carries Qwen3's
``<think>`` text. Streaming follows OpenAI's chunk format: a role chunk, reasoning and content
deltas, each parsed call in one ``tool_calls`` delta, a finish chunk per choice, an optional
usage chunk, then ``data: [DONE]``.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from service.core.errors import ToolGradeError
from service.core.types import ToolCall as CoreToolCall
from service.engine.base import GenerationEngine, GenerationInput, GenerationResult
from service.engine.errors import UnsupportedParameterError
from service.protocol.chat import (
    AssistantMessage,
    ChatChoice,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChatCompletionResponse,
    ChoiceDelta,
    ChunkChoice,
    FunctionCall,
    FunctionCallDelta,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from service.protocol.errors import error_body_for
from service.serving.assistant_output import AssistantOutput, AssistantStream
from service.serving.generation import (
    PreparedPrompt,
    completion_budget,
    generation_input,
    new_request_id,
    prepare_chat_prompt,
    sampling_options,
)
from service.serving.tool_choice import request_tools

logger = logging.getLogger("toolgrade.generation")

# OpenAI's default sampling.
DEFAULT_TEMPERATURE = 1.0
DEFAULT_TOP_P = 1.0


class ChatCompletionService:
    """Chat completions on one engine (cheap to create: one per request is fine)."""

    def __init__(self, engine: GenerationEngine) -> None:
        self.engine = engine

    async def create(
        self, request: ChatCompletionRequest
    ) -> ChatCompletionResponse | AsyncIterator[str]:
        """The completion, or (``stream``) an iterator of server-sent events.

        Every request error (unknown model, bad tools or tool_choice, prompt too long,
        unsupported parameters) is raised here, before a stream starts.
        """
        _reject_unsupported(request)
        adapter = self.engine.resolve_adapter(request.model)
        prompt = prepare_chat_prompt(
            self.engine,
            request.messages,
            tools=request_tools(
                [tool.model_dump(exclude_none=True) for tool in request.tools or ()]
            ),
            tool_choice=request.tool_choice,
            enable_thinking=_enable_thinking(request),
        )
        max_tokens = completion_budget(
            self.engine,
            len(prompt.token_ids),
            request.max_completion_tokens or request.max_tokens,
            param="max_tokens",
        )
        options = sampling_options(
            prompt.plan,
            max_tokens=max_tokens,
            temperature=_default(request.temperature, DEFAULT_TEMPERATURE),
            top_p=_default(request.top_p, DEFAULT_TOP_P),
            top_k=request.top_k,
            n=request.n,
            seed=request.seed,
            stop=request.stop,
            presence_penalty=request.presence_penalty,
            frequency_penalty=request.frequency_penalty,
            json_schema=_response_schema(request, self.engine),
        )
        request_id = new_request_id("chatcmpl")
        engine_input = generation_input(prompt, options, adapter, request_id)
        model = request.model or self.engine.model_name
        keep_one_call = request.parallel_tool_calls is False
        if request.stream:
            include_usage = bool(request.stream_options and request.stream_options.include_usage)
            return self._stream(
                engine_input, prompt, request_id, model, include_usage, keep_one_call
            )
        result = await self.engine.generate(engine_input)
        return _response(result, prompt, request_id, model, keep_one_call)

    async def _stream(
        self,
        engine_input: GenerationInput,
        prompt: PreparedPrompt,
        request_id: str,
        model: str,
        include_usage: bool,
        keep_one_call: bool,
    ) -> AsyncIterator[str]:
        created = int(time.time())

        def event(choices: list[ChunkChoice], usage: Usage | None = None) -> str:
            chunk = ChatCompletionChunk(
                id=request_id, created=created, model=model, choices=choices, usage=usage
            )
            return f"data: {chunk.model_dump_json(exclude_none=True)}\n\n"

        n = engine_input.options.n
        streams = [
            AssistantStream(
                parse_tool_calls=prompt.plan.parse_calls,
                starts_in_reasoning=prompt.starts_in_reasoning,
            )
            for _ in range(n)
        ]
        # The forced prefix is part of the assistant's text, though not generated.
        for stream in streams:
            stream.feed(prompt.plan.forced_prefix)
        token_counts = [0] * n
        yield event(
            [
                ChunkChoice(index=i, delta=ChoiceDelta(role="assistant", content=""))
                for i in range(n)
            ]
        )
        try:
            async for delta in self.engine.stream(engine_input):
                stream = streams[delta.index]
                token_counts[delta.index] = delta.token_count
                sendable = stream.feed(delta.text)
                if sendable:
                    yield event([_text_chunk(delta.index, sendable)])
                if delta.finish_reason is None:
                    continue
                if delta.finish_reason == "stop" and prompt.plan.closing_suffix:
                    stream.feed(prompt.plan.closing_suffix)
                rest, output = stream.finish()
                if rest:
                    yield event([_text_chunk(delta.index, rest)])
                calls = _calls(output, keep_one_call)
                if calls:
                    yield event([_tool_calls_chunk(delta.index, calls)])
                finish = "tool_calls" if calls else delta.finish_reason
                yield event(
                    [ChunkChoice(index=delta.index, delta=ChoiceDelta(), finish_reason=finish)]
                )
        except ToolGradeError as exc:
            # Headers are sent: report in-band, as OpenAI-compatible servers do.
            yield f"data: {json.dumps(error_body_for(exc))}\n\n"
        else:
            if include_usage:
                completion_tokens = sum(token_counts)
                usage = Usage(
                    prompt_tokens=len(prompt.token_ids),
                    completion_tokens=completion_tokens,
                    total_tokens=len(prompt.token_ids) + completion_tokens,
                )
                yield event([], usage)
        yield "data: [DONE]\n\n"


def _reject_unsupported(request: ChatCompletionRequest) -> None:
    if request.logprobs or request.top_logprobs:
        raise UnsupportedParameterError(
            "logprobs are not supported by this server",
            label="request:unsupported_parameter",
            param="logprobs",
        )


def _enable_thinking(request: ChatCompletionRequest) -> bool | None:
    if request.enable_thinking is not None:
        return request.enable_thinking
    value = (request.chat_template_kwargs or {}).get("enable_thinking")
    return value if isinstance(value, bool) else None


def _response_schema(request: ChatCompletionRequest, engine: GenerationEngine) -> Any:
    """The JSON Schema ``response_format`` asks for (None for text)."""
    response_format = request.response_format
    if response_format is None or response_format.type == "text":
        return None
    if not engine.supports_json_schema:
        raise UnsupportedParameterError(
            f"response_format {response_format.type!r} needs structured outputs, which the "
            f"{engine.kind} engine does not provide",
            label="request:unsupported_parameter",
            param="response_format",
        )
    if response_format.type == "json_object":
        return {"type": "object"}
    schema = (response_format.json_schema or {}).get("schema")
    if not isinstance(schema, dict):
        raise UnsupportedParameterError(
            "response_format json_schema needs {'json_schema': {'name': ..., 'schema': {...}}}",
            label="request:invalid_response_format",
            param="response_format",
        )
    return schema


def _default(value: float | None, default: float) -> float:
    return default if value is None else value


def _calls(output: AssistantOutput, keep_one: bool) -> Sequence[CoreToolCall]:
    return output.calls[:1] if keep_one else output.calls


def new_tool_call_id() -> str:
    """An OpenAI-style call id: ``call_`` and 24 random hex digits."""
    return f"call_{secrets.token_hex(12)}"


def openai_tool_calls(calls: Sequence[CoreToolCall]) -> list[ToolCall]:
    """Parsed calls in OpenAI's shape: ids, and arguments as a JSON string."""
    return [
        ToolCall(
            id=new_tool_call_id(),
            function=FunctionCall(
                name=call.name, arguments=json.dumps(dict(call.arguments), ensure_ascii=False)
            ),
        )
        for call in calls
    ]


def _response(
    result: GenerationResult,
    prompt: PreparedPrompt,
    request_id: str,
    model: str,
    keep_one_call: bool,
) -> ChatCompletionResponse:
    choices = []
    for completion in result.completions:
        output = prompt.read(completion.text, finished_cleanly=completion.finish_reason == "stop")
        calls = _calls(output, keep_one_call)
        message = AssistantMessage(
            content=output.content,
            reasoning_content=output.reasoning,
            tool_calls=openai_tool_calls(calls) if calls else None,
        )
        finish = "tool_calls" if calls else completion.finish_reason
        choices.append(ChatChoice(index=completion.index, message=message, finish_reason=finish))
    prompt_tokens = result.prompt_token_count
    completion_tokens = result.completion_token_count
    return ChatCompletionResponse(
        id=request_id,
        created=int(time.time()),
        model=model,
        choices=choices,
        usage=Usage(
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            total_tokens=prompt_tokens + completion_tokens,
        ),
    )


def _text_chunk(index: int, sendable: Any) -> ChunkChoice:
    return ChunkChoice(
        index=index,
        delta=ChoiceDelta(
            reasoning_content=sendable.reasoning or None, content=sendable.content or None
        ),
    )


def _tool_calls_chunk(index: int, calls: Sequence[CoreToolCall]) -> ChunkChoice:
    deltas = [
        ToolCallDelta(
            index=position,
            id=call.id,
            type="function",
            function=FunctionCallDelta(name=call.function.name, arguments=call.function.arguments),
        )
        for position, call in enumerate(openai_tool_calls(calls))
    ]
    return ChunkChoice(index=index, delta=ChoiceDelta(tool_calls=deltas))
