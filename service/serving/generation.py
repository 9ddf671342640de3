"""The steps ``/generate`` and ``/v1/chat/completions`` share: messages and tools to a
tokenised prompt under a ``tool_choice`` plan, sampling options, and reading completions back.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from service.core.parsing.hermes import THINK_OPEN
from service.engine.base import GenerationEngine, GenerationInput, SamplingOptions
from service.engine.errors import (
    InvalidChatRequestError,
    PromptTooLongError,
    UnsupportedParameterError,
)
from service.engine.tokenizer import ChatTokenizer
from service.protocol.chat import ChatMessage
from service.serving.assistant_output import AssistantOutput, interpret_output
from service.serving.tool_choice import RequestTools, ToolChoicePlan, plan_tool_choice

# OpenAI's JSON has no -inf: vLLM reports impossible tokens at this log-probability.
LOGPROB_FLOOR = -9999.0


@dataclass(frozen=True, slots=True)
class PreparedPrompt:
    """A prompt ready for the engine, and how to read its completions."""

    token_ids: tuple[int, ...]
    plan: ToolChoicePlan
    # The template's generation prompt opened a think block the output will close.
    starts_in_reasoning: bool

    def read(self, generated: str, *, finished_cleanly: bool) -> AssistantOutput:
        """Interpret one completion (the forced prefix and closing restored around it)."""
        text = self.plan.forced_prefix + generated
        if finished_cleanly and self.plan.closing_suffix:
            text += self.plan.closing_suffix
        return interpret_output(
            text,
            parse_tool_calls=self.plan.parse_calls,
            starts_in_reasoning=self.starts_in_reasoning,
        )


def message_dicts(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    """Messages as the chat template reads them: text parts joined, OpenAI tool calls kept,
    ``developer`` treated as ``system``, ``reasoning`` passed as ``reasoning_content``.

    Raises:
        UnsupportedParameterError: A non-text content part (images, audio).
    """
    rendered = []
    for position, message in enumerate(messages):
        data = message.model_dump(exclude_none=True)
        if data["role"] == "developer":
            data["role"] = "system"
        # vLLM's name for the reasoning; chat templates read ``reasoning_content``.
        reasoning = data.pop("reasoning", None)
        if reasoning is not None:
            data.setdefault("reasoning_content", reasoning)
        if isinstance(message.content, list):
            texts = []
            for part in message.content:
                if part.type != "text" or part.text is None:
                    raise UnsupportedParameterError(
                        f"content part of type {part.type!r}: only text is supported",
                        label="request:unsupported_content",
                        param=f"messages.{position}.content",
                    )
                texts.append(part.text)
            data["content"] = "".join(texts)
        elif message.content is None:
            data["content"] = ""
        rendered.append(data)
    return rendered


def prepare_chat_prompt(
    engine: GenerationEngine,
    messages: Sequence[ChatMessage],
    *,
    tools: RequestTools,
    tool_choice: Any,
    enable_thinking: bool | None,
    parallel_tool_calls: bool = True,
    strict_arguments: bool = False,
) -> PreparedPrompt:
    """Render ``messages`` with ``tools`` (normalised by
    :func:`~service.serving.tool_choice.request_tools`) under ``tool_choice`` and tokenise the
    result."""
    tokenizer = engine.tokenizer
    plan = plan_tool_choice(
        tool_choice,
        tools,
        tokenizer,
        supports_json_schema=engine.supports_json_schema,
        parallel=parallel_tool_calls,
        strict_arguments=strict_arguments,
    )
    thinking = plan.enable_thinking if plan.enable_thinking is not None else enable_thinking
    prompt = tokenizer.render_chat(
        message_dicts(messages), tools=tools.template, enable_thinking=thinking
    )
    return PreparedPrompt(
        token_ids=tuple(tokenizer.encode(prompt + plan.forced_prefix)),
        plan=plan,
        starts_in_reasoning=prompt.rstrip().endswith(THINK_OPEN),
    )


def prepare_raw_prompt(tokenizer: ChatTokenizer, prompt: str) -> PreparedPrompt:
    """A raw prompt: sent as is, its completions parsed for calls."""
    return PreparedPrompt(
        token_ids=tuple(tokenizer.encode(prompt)),
        plan=ToolChoicePlan(mode="auto", parse_calls=True),
        starts_in_reasoning=prompt.rstrip().endswith(THINK_OPEN),
    )


def completion_budget(
    engine: GenerationEngine, prompt_tokens: int, max_tokens: int | None, *, param: str
) -> int:
    """``max_tokens``, defaulting to the rest of the context.

    Raises:
        PromptTooLongError: The prompt plus ``max_tokens`` exceed the context (400).
    """
    room = engine.max_model_len - prompt_tokens
    if room <= 0 or (max_tokens is not None and max_tokens > room):
        asked = f" plus max_tokens={max_tokens}" if max_tokens is not None else ""
        raise PromptTooLongError(
            f"the prompt has {prompt_tokens} tokens{asked}; this model's context is "
            f"{engine.max_model_len} tokens",
            label="request:context_length_exceeded",
            param=param,
        )
    return max_tokens if max_tokens is not None else room


def sampling_options(
    plan: ToolChoicePlan,
    *,
    max_tokens: int,
    temperature: float,
    top_p: float,
    top_k: int | None,
    n: int,
    seed: int | None,
    stop: str | Sequence[str] | None,
    presence_penalty: float = 0.0,
    frequency_penalty: float = 0.0,
    json_schema: Mapping[str, Any] | None = None,
) -> SamplingOptions:
    """Sampling options for a request under its tool-choice plan.

    Raises:
        InvalidChatRequestError: ``n > 1`` with greedy decoding (the copies would be identical).
    """
    if n > 1 and temperature == 0:
        raise InvalidChatRequestError(
            "n > 1 needs temperature > 0: greedy decoding returns the same completion n times",
            label="request:greedy_with_n",
            param="n",
        )
    stops = (stop,) if isinstance(stop, str) else tuple(stop or ())
    return SamplingOptions(
        max_tokens=max_tokens,
        temperature=temperature,
        top_p=top_p,
        top_k=top_k if top_k and top_k > 0 else None,
        n=n,
        seed=seed,
        stop=stops + plan.stop,
        presence_penalty=presence_penalty,
        frequency_penalty=frequency_penalty,
        # A forced call's grammar wins over response_format, as in vLLM.
        json_schema=plan.json_schema
        if plan.json_schema is not None or plan.structural_tag is not None
        else json_schema,
        structural_tag=plan.structural_tag,
        banned_token_ids=plan.banned_token_ids,
    )


def generation_input(
    prompt: PreparedPrompt, options: SamplingOptions, adapter: str | None, request_id: str
) -> GenerationInput:
    return GenerationInput(
        prompt_token_ids=prompt.token_ids, options=options, adapter=adapter, request_id=request_id
    )


def new_request_id(prefix: str) -> str:
    """``<prefix>-<32 hex>``."""
    return f"{prefix}-{uuid.uuid4().hex}"
