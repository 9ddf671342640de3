"""``/v1/chat/completions``: OpenAI's chat API on the served model, tool calls parsed by the core.

The wire follows vLLM's OpenAI server. ``finish_reason`` is ``tool_calls`` when the core parser
found calls (``stop`` for a named ``tool_choice``, as OpenAI and vLLM answer); ``arguments`` are
JSON strings and each call gets an id. ``reasoning`` (and ``reasoning_content``, its former name)
carries Qwen3's ``<think>`` text. ``logprobs``/``top_logprobs`` come from the engine.

Streaming follows the same chunk format: a role chunk, reasoning and content deltas (text that
may still become a call is held back), and tool calls as vLLM and OpenAI stream them: a delta
with the call's id and name as soon as the name in its ``<tool_call>`` block is complete, then
argument fragments, each a canonical prefix of the final ``arguments`` string (one complete
top-level argument at a time; the rest when the block closes; calls in other forms when the
completion ends). Logprobs go with the chunk of the tokens they belong to, a finish chunk per
choice, the usage chunk when ``stream_options.include_usage`` is set, then ``data: [DONE]``.
The joined stream equals the non-streamed message whenever the calls parse. What was sent
cannot be taken back: when a block whose name was sent never closes (``max_tokens``) or turns
out malformed, the whole answer has no calls (there is no partial credit) while the stream
already carried that call's head; its content and ``finish_reason`` still equal the
non-streamed answer's.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from service.core.errors import ToolGradeError
from service.core.parsing import split_reasoning
from service.core.parsing.hermes import TOOL_CALL_CLOSE, TOOL_CALL_OPEN
from service.core.parsing.streaming import OpenCall, arguments_json, open_hermes_call
from service.core.types import ToolCall as CoreToolCall
from service.engine.base import (
    GenerationEngine,
    GenerationInput,
    GenerationResult,
)
from service.engine.base import TokenLogprob as EngineLogprob
from service.engine.errors import UnsupportedParameterError
from service.protocol.chat import (
    AssistantMessage,
    ChatChoice,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChatCompletionResponse,
    ChatLogprobs,
    ChoiceDelta,
    ChunkChoice,
    FunctionCall,
    FunctionCallDelta,
    TokenLogprob,
    ToolCall,
    ToolCallDelta,
    TopLogprob,
    Usage,
)
from service.protocol.errors import error_body_for
from service.serving.assistant_output import (
    AssistantOutput,
    AssistantStream,
    interpret_output,
)
from service.serving.generation import (
    LOGPROB_FLOOR,
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
        self._reject_unsupported(request)
        adapter = self.engine.resolve_adapter(request.model)
        prompt = prepare_chat_prompt(
            self.engine,
            request.messages,
            tools=request_tools(
                [tool.model_dump(exclude_none=True) for tool in request.tools or ()]
            ),
            tool_choice=request.tool_choice,
            enable_thinking=_enable_thinking(request),
            parallel_tool_calls=request.parallel_tool_calls is not False,
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
        if request.logprobs:
            options = dataclasses.replace(options, logprobs=request.top_logprobs or 0)
        request_id = new_request_id("chatcmpl")
        engine_input = generation_input(prompt, options, adapter, request_id)
        model = request.model or self.engine.model_name
        reading = _Reading(
            prompt=prompt,
            keep_one_call=request.parallel_tool_calls is False,
            top_logprobs=request.top_logprobs or 0 if request.logprobs else None,
        )
        if request.stream:
            include_usage = bool(request.stream_options and request.stream_options.include_usage)
            return self._stream(engine_input, reading, request_id, model, include_usage)
        result = await self.engine.generate(engine_input)
        return _response(result, reading, request_id, model)

    def _reject_unsupported(self, request: ChatCompletionRequest) -> None:
        if request.top_logprobs and not request.logprobs:
            raise UnsupportedParameterError(
                "top_logprobs needs logprobs: true",
                label="request:invalid_logprobs",
                param="top_logprobs",
            )
        if request.logprobs and not self.engine.supports_logprobs:
            raise UnsupportedParameterError(
                f"logprobs need the vllm engine; this server runs {self.engine.kind}",
                label="request:unsupported_parameter",
                param="logprobs",
            )

    async def _stream(
        self,
        engine_input: GenerationInput,
        reading: _Reading,
        request_id: str,
        model: str,
        include_usage: bool,
    ) -> AsyncIterator[str]:
        created = int(time.time())
        prompt = reading.prompt

        def event(choices: list[ChunkChoice], usage: Usage | None = None) -> str:
            chunk = ChatCompletionChunk(
                id=request_id, created=created, model=model, choices=choices, usage=usage
            )
            return f"data: {chunk.model_dump_json(exclude_none=True)}\n\n"

        n = engine_input.options.n
        streams = [
            _ChoiceStream(
                AssistantStream(
                    parse_tool_calls=prompt.plan.parse_calls,
                    starts_in_reasoning=prompt.starts_in_reasoning,
                )
            )
            for _ in range(n)
        ]
        # The forced prefix is part of the assistant's text, though not generated.
        for choice_stream in streams:
            choice_stream.text.feed(prompt.plan.forced_prefix)
        token_counts = [0] * n
        yield event(
            [
                ChunkChoice(index=i, delta=ChoiceDelta(role="assistant", content=""))
                for i in range(n)
            ]
        )
        try:
            async for delta in self.engine.stream(engine_input):
                choice_stream = streams[delta.index]
                token_counts[delta.index] = delta.token_count
                sendable = choice_stream.text.feed(delta.text)
                logprobs = _chat_logprobs(delta.logprobs, reading.top_logprobs)
                if sendable or (logprobs is not None and logprobs.content):
                    yield event([_text_chunk(delta.index, sendable, logprobs)])
                if delta.finish_reason is None:
                    for chunk in choice_stream.settled_calls(delta.index, reading):
                        yield event([chunk])
                    continue
                if delta.finish_reason == "stop" and prompt.plan.closing_suffix:
                    choice_stream.text.feed(prompt.plan.closing_suffix)
                rest, output = choice_stream.text.finish()
                if rest:
                    yield event([_text_chunk(delta.index, rest, None)])
                calls = reading.calls(output)
                for chunk in choice_stream.final_calls(delta.index, calls):
                    yield event([chunk])
                finish = reading.finish_reason(calls, delta.finish_reason)
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


@dataclass(frozen=True, slots=True)
class _Reading:
    """How one request's completions are read back."""

    prompt: PreparedPrompt
    keep_one_call: bool
    top_logprobs: int | None

    def calls(self, output: AssistantOutput) -> Sequence[CoreToolCall]:
        return output.calls[:1] if self.keep_one_call else output.calls

    def finish_reason(self, calls: Sequence[CoreToolCall], engine_reason: str) -> Any:
        # OpenAI and vLLM answer "stop" for a call the request named.
        if calls and self.prompt.plan.mode != "named":
            return "tool_calls"
        return engine_reason


@dataclass
class _SentCall:
    """A call as far as a stream has sent it."""

    name: str
    arguments: str
    complete: bool


@dataclass
class _ChoiceStream:
    """One choice's stream: its text so far and the calls already sent (whole or in part).

    ``diverged`` is set when the text turns out to disagree with a call already sent (a block
    that never closed, malformed markup): nothing can be taken back, so no more calls are sent.
    """

    text: AssistantStream
    sent: list[_SentCall] = field(default_factory=list)
    checked_upto: int = 0
    diverged: bool = False
    looked_upto: int = 0

    def settled_calls(self, index: int, reading: _Reading) -> list[ChunkChoice]:
        """Chunks for what settled since the last look: calls whose blocks closed, and the open
        block's id and name once its name is complete, then its arguments as they complete."""
        if not self.text.parse_tool_calls or self.diverged:
            return []
        text = self.text.text
        # Only a ">" (ending "</tool_call>") or a "," (after a call's name, or after one of
        # its top-level arguments) can settle anything: most tokens need no look at all.
        new = text[self.looked_upto :]
        self.looked_upto = len(text)
        if "," not in new and ">" not in new:
            return []
        last_open = text.rfind(TOOL_CALL_OPEN)
        if last_open < 0:
            return []
        chunks = []
        closed = text.rfind(TOOL_CALL_CLOSE)
        if closed >= self.checked_upto:
            self.checked_upto = closed + len(TOOL_CALL_CLOSE)
            output = interpret_output(
                text[: self.checked_upto],
                parse_tool_calls=True,
                starts_in_reasoning=self.text.starts_in_reasoning,
            )
            chunks = self.final_calls(index, reading.calls(output))
        if last_open > closed and not self.diverged:
            _, answer = split_reasoning(text, starts_in_reasoning=self.text.starts_in_reasoning)
            open_call = open_hermes_call(answer)
            if open_call is not None:
                chunks.extend(self._open_call(index, open_call, reading))
        return chunks

    def final_calls(self, index: int, calls: Sequence[CoreToolCall]) -> list[ChunkChoice]:
        """Chunks that complete ``calls`` (read from closed blocks) beyond what was sent."""
        if self.diverged:
            return []
        if len(calls) < len(self.sent):
            self.diverged = True
            return []
        chunks = []
        for position, call in enumerate(calls):
            arguments = arguments_json(call.arguments)
            if position == len(self.sent):
                self.sent.append(_SentCall(call.name, "", complete=False))
                chunks.append(_call_head_chunk(index, position, call.name))
            sent = self.sent[position]
            if sent.name != call.name or not arguments.startswith(sent.arguments):
                self.diverged = True
                break
            if sent.complete:
                if sent.arguments != arguments:
                    self.diverged = True
                    break
                continue
            chunks.append(_call_arguments_chunk(index, position, arguments[len(sent.arguments) :]))
            sent.arguments = arguments
            sent.complete = True
        return chunks

    def _open_call(self, index: int, open_call: OpenCall, reading: _Reading) -> list[ChunkChoice]:
        position = open_call.position
        if reading.keep_one_call and position > 0:
            return []
        chunks = []
        if position == len(self.sent):
            self.sent.append(_SentCall(open_call.name, "", complete=False))
            chunks.append(_call_head_chunk(index, position, open_call.name))
        elif position != len(self.sent) - 1 or self.sent[position].complete:
            return []  # an earlier block did not read as a call: the answer will have none
        sent = self.sent[position]
        if sent.name != open_call.name:
            self.diverged = True
            return chunks
        settled = open_call.arguments
        if len(settled) > len(sent.arguments) and settled.startswith(sent.arguments):
            chunks.append(_call_arguments_chunk(index, position, settled[len(sent.arguments) :]))
            sent.arguments = settled
        return chunks


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


def new_tool_call_id() -> str:
    """An OpenAI-style call id: ``call_`` and 24 random hex digits."""
    return f"call_{secrets.token_hex(12)}"


def openai_tool_calls(calls: Sequence[CoreToolCall]) -> list[ToolCall]:
    """Parsed calls in OpenAI's shape: ids, and arguments as a JSON string."""
    return [
        ToolCall(
            id=new_tool_call_id(),
            function=FunctionCall(name=call.name, arguments=arguments_json(call.arguments)),
        )
        for call in calls
    ]


def _chat_logprobs(
    logprobs: Sequence[EngineLogprob] | None, top_logprobs: int | None
) -> ChatLogprobs | None:
    """The engine's logprobs in OpenAI's chat shape, ``top_logprobs`` alternatives each."""
    if top_logprobs is None or logprobs is None:
        return None
    return ChatLogprobs(
        content=[
            TokenLogprob(
                token=token.token,
                logprob=max(token.logprob, LOGPROB_FLOOR),
                bytes=_utf8(token.token),
                top_logprobs=[
                    TopLogprob(token=text, logprob=max(value, LOGPROB_FLOOR), bytes=_utf8(text))
                    for text, value in token.top[:top_logprobs]
                ],
            )
            for token in logprobs
        ]
    )


def _utf8(text: str) -> list[int]:
    return list(text.encode("utf-8", errors="replace"))


def _response(
    result: GenerationResult, reading: _Reading, request_id: str, model: str
) -> ChatCompletionResponse:
    choices = []
    for completion in result.completions:
        output = reading.prompt.read(
            completion.text, finished_cleanly=completion.finish_reason == "stop"
        )
        calls = reading.calls(output)
        message = AssistantMessage(
            content=output.content,
            reasoning=output.reasoning,
            reasoning_content=output.reasoning,
            tool_calls=openai_tool_calls(calls) if calls else None,
        )
        choices.append(
            ChatChoice(
                index=completion.index,
                message=message,
                finish_reason=reading.finish_reason(calls, completion.finish_reason),
                logprobs=_chat_logprobs(completion.logprobs, reading.top_logprobs),
            )
        )
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


def _text_chunk(index: int, sendable: Any, logprobs: ChatLogprobs | None) -> ChunkChoice:
    reasoning = (sendable.reasoning or None) if sendable else None
    return ChunkChoice(
        index=index,
        delta=ChoiceDelta(
            reasoning=reasoning,
            reasoning_content=reasoning,
            content=(sendable.content or None) if sendable else None,
        ),
        logprobs=logprobs,
    )


def _call_head_chunk(index: int, position: int, name: str) -> ChunkChoice:
    """A call's first delta, as vLLM and OpenAI send it: a new id, the type and the name."""
    call = ToolCallDelta(
        index=position,
        id=new_tool_call_id(),
        type="function",
        function=FunctionCallDelta(name=name),
    )
    return ChunkChoice(index=index, delta=ChoiceDelta(tool_calls=[call]))


def _call_arguments_chunk(index: int, position: int, arguments: str) -> ChunkChoice:
    call = ToolCallDelta(index=position, function=FunctionCallDelta(arguments=arguments))
    return ChunkChoice(index=index, delta=ChoiceDelta(tool_calls=[call]))
