"""``/v1/completions``: raw-prompt text completions on the served model, as vLLM serves them.

No chat template and no tool parsing: the prompt's tokens go to the engine and the text comes
back as generated. A batch of prompts answers ``n`` choices per prompt, choice ``index`` =
prompt position × ``n`` + completion index (vLLM's numbering). Streaming sends one chunk per
text delta, the last with its ``finish_reason``, then an optional usage chunk and
``data: [DONE]``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from service.core.errors import ToolGradeError
from service.engine.base import CompletionDelta, GenerationEngine, GenerationInput, TokenLogprob
from service.engine.errors import InvalidChatRequestError, UnsupportedParameterError
from service.protocol.chat import Usage
from service.protocol.completions import (
    CompletionChoice,
    CompletionChunk,
    CompletionLogprobs,
    CompletionRequest,
    CompletionResponse,
)
from service.serving.generation import (
    LOGPROB_FLOOR,
    completion_budget,
    new_request_id,
    sampling_options,
)
from service.serving.tool_choice import ToolChoicePlan

# OpenAI's default sampling.
DEFAULT_TEMPERATURE = 1.0
DEFAULT_TOP_P = 1.0
_PLAIN_TEXT = ToolChoicePlan(mode="none", parse_calls=False)


@dataclass(frozen=True, slots=True)
class _Prompt:
    text: str
    token_ids: tuple[int, ...]


class CompletionService:
    """Text completions on one engine (cheap to create: one per request is fine)."""

    def __init__(self, engine: GenerationEngine) -> None:
        self.engine = engine

    async def create(self, request: CompletionRequest) -> CompletionResponse | AsyncIterator[str]:
        """The completion, or (``stream``) an iterator of server-sent events.

        Every request error (unknown model, empty or too long prompt, unsupported parameters)
        is raised here, before a stream starts.
        """
        self._reject_unsupported(request)
        adapter = self.engine.resolve_adapter(request.model)
        prompts = self._prompts(request)
        inputs = []
        request_id = new_request_id("cmpl")
        for position, prompt in enumerate(prompts):
            options = sampling_options(
                _PLAIN_TEXT,
                max_tokens=completion_budget(
                    self.engine, len(prompt.token_ids), request.max_tokens, param="max_tokens"
                ),
                temperature=_default(request.temperature, DEFAULT_TEMPERATURE),
                top_p=_default(request.top_p, DEFAULT_TOP_P),
                top_k=request.top_k,
                n=request.n,
                seed=request.seed,
                stop=request.stop,
                presence_penalty=request.presence_penalty,
                frequency_penalty=request.frequency_penalty,
            )
            inputs.append(
                GenerationInput(
                    prompt_token_ids=prompt.token_ids,
                    options=dataclasses.replace(options, logprobs=request.logprobs),
                    adapter=adapter,
                    request_id=request_id if len(prompts) == 1 else f"{request_id}-{position}",
                )
            )
        model = request.model or self.engine.model_name
        if request.stream:
            include_usage = bool(request.stream_options and request.stream_options.include_usage)
            return self._stream(request, prompts, inputs, request_id, model, include_usage)
        results = await asyncio.gather(*(self.engine.generate(item) for item in inputs))
        choices = []
        completion_tokens = 0
        for position, (prompt, result) in enumerate(zip(prompts, results, strict=True)):
            for completion in result.completions:
                completion_tokens += completion.token_count
                echoed = prompt.text if request.echo else ""
                choices.append(
                    CompletionChoice(
                        index=position * request.n + completion.index,
                        text=echoed + completion.text,
                        logprobs=_completion_logprobs(
                            completion.logprobs, request.logprobs, len(echoed)
                        ),
                        finish_reason=completion.finish_reason,
                    )
                )
        prompt_tokens = sum(len(prompt.token_ids) for prompt in prompts)
        return CompletionResponse(
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

    def _reject_unsupported(self, request: CompletionRequest) -> None:
        if request.suffix:
            raise UnsupportedParameterError(
                "suffix (fill-in-the-middle) is not supported",
                label="request:unsupported_parameter",
                param="suffix",
            )
        if request.best_of is not None and request.best_of != request.n:
            raise UnsupportedParameterError(
                "best_of other than n is not supported",
                label="request:unsupported_parameter",
                param="best_of",
            )
        if request.logprobs is not None and not self.engine.supports_logprobs:
            raise UnsupportedParameterError(
                f"logprobs need the vllm engine; this server runs {self.engine.kind}",
                label="request:unsupported_parameter",
                param="logprobs",
            )
        if request.logprobs is not None and request.echo:
            raise UnsupportedParameterError(
                "echo with logprobs needs the prompt's logprobs, which are not supported",
                label="request:unsupported_parameter",
                param="echo",
            )

    def _prompts(self, request: CompletionRequest) -> list[_Prompt]:
        prompt = request.prompt
        batch: Sequence[str | list[int]]
        if isinstance(prompt, str) or (prompt and isinstance(prompt[0], int)):
            batch = [prompt]
        else:
            batch = prompt  # type: ignore[assignment]
        if not batch:
            raise InvalidChatRequestError(
                "prompt is empty", label="request:empty_prompt", param="prompt"
            )
        tokenizer = self.engine.tokenizer
        prompts = []
        for item in batch:
            if isinstance(item, str):
                prompts.append(_Prompt(item, tuple(tokenizer.encode(item))))
            else:
                prompts.append(_Prompt(tokenizer.decode(item), tuple(item)))
            if not prompts[-1].token_ids:
                raise InvalidChatRequestError(
                    "prompt is empty", label="request:empty_prompt", param="prompt"
                )
        return prompts

    async def _stream(
        self,
        request: CompletionRequest,
        prompts: Sequence[_Prompt],
        inputs: Sequence[GenerationInput],
        request_id: str,
        model: str,
        include_usage: bool,
    ) -> AsyncIterator[str]:
        created = int(time.time())
        n = request.n
        token_counts = [0] * (len(prompts) * n)
        text_offsets = [0] * (len(prompts) * n)
        echoed = [False] * (len(prompts) * n)
        try:
            async for position, delta in _merged(self.engine, inputs):
                index = position * n + delta.index
                token_counts[index] = delta.token_count
                text = delta.text
                if request.echo and not echoed[index]:
                    text = prompts[position].text + text
                    echoed[index] = True
                logprobs = _completion_logprobs(
                    delta.logprobs, request.logprobs, text_offsets[index]
                )
                if logprobs is not None and logprobs.tokens:
                    text_offsets[index] = logprobs.text_offset[-1] + len(logprobs.tokens[-1])
                choice = CompletionChoice(
                    index=index, text=text, logprobs=logprobs, finish_reason=delta.finish_reason
                )
                chunk = CompletionChunk(
                    id=request_id, created=created, model=model, choices=[choice]
                )
                yield f"data: {chunk.model_dump_json(exclude_none=True)}\n\n"
        except ToolGradeError as exc:
            yield _stream_error_event(exc)
        else:
            if include_usage:
                prompt_tokens = sum(len(prompt.token_ids) for prompt in prompts)
                usage = Usage(
                    prompt_tokens=prompt_tokens,
                    completion_tokens=sum(token_counts),
                    total_tokens=prompt_tokens + sum(token_counts),
                )
                chunk = CompletionChunk(
                    id=request_id, created=created, model=model, choices=[], usage=usage
                )
                yield f"data: {chunk.model_dump_json(exclude_none=True)}\n\n"
        yield "data: [DONE]\n\n"


async def _merged(
    engine: GenerationEngine, inputs: Sequence[GenerationInput]
) -> AsyncIterator[tuple[int, CompletionDelta]]:
    """Every prompt's deltas as they come, tagged with the prompt's position."""
    if len(inputs) == 1:
        async for delta in engine.stream(inputs[0]):
            yield 0, delta
        return
    queue: asyncio.Queue[tuple[int, CompletionDelta] | BaseException | None] = asyncio.Queue()

    async def pump(position: int, item: GenerationInput) -> None:
        try:
            async for delta in engine.stream(item):
                await queue.put((position, delta))
        except BaseException as exc:  # handed to the consumer, which re-raises it
            await queue.put(exc)
        else:
            await queue.put(None)

    tasks = [asyncio.create_task(pump(position, item)) for position, item in enumerate(inputs)]
    try:
        running = len(tasks)
        while running:
            entry = await queue.get()
            if entry is None:
                running -= 1
            elif isinstance(entry, BaseException):
                raise entry
            else:
                yield entry
    finally:
        for task in tasks:
            task.cancel()


def _completion_logprobs(
    logprobs: Sequence[TokenLogprob] | None, alternatives: int | None, text_offset: int
) -> CompletionLogprobs | None:
    """OpenAI's completion logprobs: ``alternatives + 1`` entries per token, as vLLM sends."""
    if alternatives is None or logprobs is None:
        return None
    result = CompletionLogprobs()
    for token in logprobs:
        result.text_offset.append(
            result.text_offset[-1] + len(result.tokens[-1]) if result.tokens else text_offset
        )
        result.tokens.append(token.token)
        result.token_logprobs.append(max(token.logprob, LOGPROB_FLOOR))
        result.top_logprobs.append(
            {text: max(value, LOGPROB_FLOOR) for text, value in token.top[: alternatives + 1]}
        )
    return result


def _stream_error_event(exc: ToolGradeError) -> str:
    # Headers are sent: report in-band, as OpenAI-compatible servers do.
    error = {"message": exc.message, "type": exc.error_type, "param": exc.param, "code": exc.label}
    return f"data: {json.dumps({'error': error})}\n\n"


def _default(value: float | None, default: float) -> float:
    return default if value is None else value
