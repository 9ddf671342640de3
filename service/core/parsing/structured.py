"""Predictions given as data: call lists, OpenAI ``tool_calls`` and assistant messages.

* a list of calls: ``{"name", "arguments"}`` objects (arguments an object or a JSON string),
  OpenAI tool calls, or BFCL's decoded ``{function_name: {...}}``, mixed freely
  (``form="structured"``; ``"openai"`` when the first item is an OpenAI tool call);
* an empty list: a well-formed empty call list (no calls, no error);
* an OpenAI assistant message: its ``tool_calls`` (or legacy ``function_call``) when present,
  otherwise its ``content`` parsed as text (so Hermes markup in TRL's conversational
  completions is read); ``reasoning_content``/``reasoning`` becomes ``reasoning``;
* a list of chat messages (its first item has a ``role``): the calls of every assistant turn,
  in order; other turns (tool results, user turns) are ignored; the first malformed turn fails
  the prediction;
* one call object or OpenAI tool call on its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from service.core.parsing import labels
from service.core.parsing.call_objects import CallParseError, is_mapping, tool_call_from
from service.core.types import ParseResult, ToolCall

__all__ = ["parse_structured"]


def parse_structured(
    value: Any, *, from_text: bool = False, reasoning: str | None = None
) -> ParseResult:
    """Calls from a decoded prediction (a list or a mapping).

    Args:
        value: The prediction as data.
        from_text: ``value`` was decoded from model text: stricter call objects (see
            :func:`~service.core.parsing.call_objects.tool_call_from`) and ``form="json"``.
        reasoning: Reasoning split off the text beforehand, passed through.

    Example:
        >>> parse_structured([{"type": "function", "function": {"name": "f",
        ...                    "arguments": '{"x": 1}'}}]).calls
        (ToolCall(name='f', arguments={'x': 1}),)
    """
    shape = _form_of(value)
    form = "json" if from_text else shape
    try:
        if shape == "messages":
            return _parse_messages(value, form=form, from_text=from_text)
        if _is_list(value):
            calls: tuple[ToolCall, ...] = tuple(
                [tool_call_from(item, from_text=from_text) for item in value]
            )
        elif is_mapping(value):
            if _is_message(value):
                return _parse_message(value, form=form, from_text=from_text)
            calls = (tool_call_from(value, from_text=from_text),)
        else:
            raise CallParseError(labels.NOT_A_CALL_OBJECT, "neither a list nor an object")
    except CallParseError as failure:
        return ParseResult(calls=(), error=failure.label, form=form, reasoning=reasoning)
    return ParseResult(calls=calls, form=form, reasoning=reasoning)


def _form_of(value: Any) -> str:
    """The shape's name, judged by the value or, for a list, by its first item."""
    first = value[0] if _is_list(value) and value else value
    if not is_mapping(first):
        return "structured"
    if first is not value and "role" in first:
        return "messages"
    return "openai" if _is_message(first) or _is_openai_call(first) else "structured"


def _is_list(value: Any) -> bool:
    kind = type(value)
    if kind is list or kind is tuple:
        return True
    if kind is dict or kind is str:
        return False
    return isinstance(value, Sequence) and not isinstance(value, str | bytes | bytearray)


def _is_message(value: Mapping[Any, Any]) -> bool:
    if "role" in value or "tool_calls" in value or "function_call" in value:
        return True
    return "content" in value and "name" not in value


def _is_openai_call(item: Mapping[Any, Any]) -> bool:
    return "function" in item and "name" not in item


def _parse_messages(
    messages: Sequence[Mapping[Any, Any]], *, form: str, from_text: bool
) -> ParseResult:
    calls: list[ToolCall] = []
    for message in messages:
        if not is_mapping(message):
            raise CallParseError(labels.NOT_A_CALL_OBJECT, "a chat turn that is not an object")
        if message.get("role") != "assistant":
            continue
        result = _parse_message(message, form=form, from_text=from_text)
        if result.error is not None:  # a malformed turn fails the whole completion
            return ParseResult(calls=(), error=result.error, form=form)
        calls.extend(result.calls)
    return ParseResult(calls=tuple(calls), form=form)


def _parse_message(message: Mapping[Any, Any], *, form: str, from_text: bool) -> ParseResult:
    """One assistant message; ``form`` names calls from ``tool_calls``/``function_call``."""
    # Imported here: text parsing reads JSON messages through this module.
    from service.core.parsing.text import parse_text

    content = _content_text(message.get("content"))
    reasoning = message.get("reasoning_content", message.get("reasoning"))
    reasoning = reasoning if isinstance(reasoning, str) else None
    tool_calls = message.get("tool_calls")
    function_call = message.get("function_call")
    if tool_calls:
        if not _is_list(tool_calls):
            raise CallParseError(labels.NOT_A_CALL_OBJECT, "tool_calls must be a list")
        calls = tuple([tool_call_from(call, from_text=from_text) for call in tool_calls])
    elif function_call:
        calls = (tool_call_from(function_call, from_text=from_text),)
    elif content is not None:
        return parse_text(content, reasoning=reasoning)
    else:
        calls = ()
    return ParseResult(calls=calls, form=form, content=content or None, reasoning=reasoning)


def _content_text(content: Any) -> str | None:
    """Message content as text: a string, or the text parts of a content-part list."""
    if isinstance(content, str):
        return content
    if _is_list(content):
        parts = [
            part["text"]
            for part in content
            if is_mapping(part) and isinstance(part.get("text"), str)
        ]
        return "".join(parts)
    return None
