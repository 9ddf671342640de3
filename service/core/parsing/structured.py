"""Predictions given as data: call lists, OpenAI ``tool_calls`` and assistant messages.

* a list of calls: ``{"name", "arguments"}`` objects (arguments an object or a JSON string),
  OpenAI tool calls, or BFCL's decoded ``{function_name: {...}}``, mixed freely
  (``form="structured"``; ``"openai"`` when every item is an OpenAI tool call);
* an empty list: a well-formed empty call list (no calls, no error);
* an OpenAI assistant message: its ``tool_calls`` (or legacy ``function_call``) when present,
  otherwise its ``content`` parsed as text (so Hermes markup in TRL's conversational
  completions is read); ``reasoning_content``/``reasoning`` becomes ``reasoning``;
* a list of chat messages: the calls of every assistant turn, in order; other turns (tool
  results, user turns) are ignored; the first malformed turn fails the prediction;
* one call object or OpenAI tool call on its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from service.core.parsing import labels
from service.core.parsing.call_objects import CallParseError, tool_call_from
from service.core.types import ParseResult, ToolCall

__all__ = ["parse_structured"]


def parse_structured(value: Any, *, from_text: bool = False) -> ParseResult:
    """Calls from a decoded prediction (a list or a mapping).

    Args:
        value: The prediction as data.
        from_text: ``value`` was decoded from model text (stricter call objects, see
            :func:`~service.core.parsing.call_objects.tool_call_from`).

    Example:
        >>> parse_structured([{"type": "function", "function": {"name": "f",
        ...                    "arguments": '{"x": 1}'}}]).calls
        (ToolCall(name='f', arguments={'x': 1}),)
    """
    form = _form_of(value)
    try:
        if form == "messages":
            return _parse_messages(value, from_text=from_text)
        if form == "openai" and isinstance(value, Mapping):
            return _parse_message(value, from_text=from_text)
        if isinstance(value, Mapping):
            return ParseResult(calls=(tool_call_from(value, from_text=from_text),), form=form)
        if _is_list(value):
            calls = tuple(tool_call_from(item, from_text=from_text) for item in value)
            return ParseResult(calls=calls, form=form)
    except CallParseError as failure:
        return ParseResult(calls=(), error=failure.label, form=form)
    return ParseResult(calls=(), error=labels.NOT_A_CALL_OBJECT, form=form)


def _form_of(value: Any) -> str:
    if isinstance(value, Mapping):
        return "openai" if _is_message(value) or _is_openai_call(value) else "structured"
    if _is_list(value) and value:
        if all(isinstance(item, Mapping) and "role" in item for item in value):
            return "messages"
        if all(_is_openai_call(item) for item in value):
            return "openai"
    return "structured"


def _is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes | bytearray)


def _is_message(value: Mapping[Any, Any]) -> bool:
    if "role" in value or "tool_calls" in value or "function_call" in value:
        return True
    return "content" in value and "name" not in value


def _is_openai_call(item: Any) -> bool:
    return isinstance(item, Mapping) and "function" in item and "name" not in item


def _parse_messages(messages: Sequence[Mapping[Any, Any]], *, from_text: bool) -> ParseResult:
    calls: list[ToolCall] = []
    for message in messages:
        if message.get("role") != "assistant":
            continue
        result = _parse_message(message, from_text=from_text)
        if result.error is not None:  # a malformed turn fails the whole completion
            return ParseResult(calls=(), error=result.error, form="messages")
        calls.extend(result.calls)
    return ParseResult(calls=tuple(calls), form="messages")


def _parse_message(message: Mapping[Any, Any], *, from_text: bool) -> ParseResult:
    # Imported here: text parsing reads JSON messages through this module.
    from service.core.parsing.text import parse_text

    content = _content_text(message.get("content"))
    reasoning = message.get("reasoning_content", message.get("reasoning"))
    reasoning = reasoning if isinstance(reasoning, str) else None
    tool_calls = message.get("tool_calls")
    function_call = message.get("function_call")
    if tool_calls:
        if not isinstance(tool_calls, list):
            raise CallParseError(labels.NOT_A_CALL_OBJECT, "tool_calls must be a list")
        calls = tuple(tool_call_from(call, from_text=from_text) for call in tool_calls)
    elif function_call:
        calls = (tool_call_from(function_call, from_text=from_text),)
    elif content is not None:
        result = parse_text(content)
        return ParseResult(
            calls=result.calls,
            error=result.error,
            form=result.form,
            content=result.content,
            reasoning=result.reasoning if result.reasoning is not None else reasoning,
        )
    else:
        calls = ()
    return ParseResult(calls=calls, form="openai", content=content or None, reasoning=reasoning)


def _content_text(content: Any) -> str | None:
    """Message content as text: a string, or the text parts of a content-part list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [
            part["text"]
            for part in content
            if isinstance(part, Mapping) and isinstance(part.get("text"), str)
        ]
        return "".join(parts)
    return None
