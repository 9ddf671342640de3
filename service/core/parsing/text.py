"""Model text: reasoning split, then the one form the text is written in.

Order of recognition (the first that applies decides the form):

1. ``<tool_call>`` / ``</tool_call>`` anywhere after the reasoning → Hermes, and only Hermes;
2. the text starts with ``{`` or ``[`` and is exactly one JSON value → that value's calls
   (``form="json"``); a JSON value with no call keys at all (``[1, 2]``, ``{"answer": 4}``) is a
   plain answer;
3. the text is Python call syntax (``f(a=1)``, ``[f(a=1), g(b=2)]``) → ``form="python"``;
4. JSON (or fenced Python) embedded in prose, see :mod:`.embedded`;
5. otherwise a plain answer: no calls, no error, ``form="text"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from service.core.parsing.call_objects import CALL_KEYS, CallParseError
from service.core.parsing.embedded import parse_embedded
from service.core.parsing.hermes import has_tool_call_markup, parse_hermes, split_reasoning
from service.core.parsing.json_text import NOT_JSON, decode_json
from service.core.parsing.python_calls import looks_like_python_call, parse_python_calls
from service.core.parsing.structured import parse_structured
from service.core.types import ParseResult

__all__ = ["parse_text"]


def parse_text(text: str) -> ParseResult:
    """Parse model text in any supported form; ``reasoning`` carries a ``<think>`` block.

    Example:
        >>> parse_text("<think>easy</think>get_time()")
        ParseResult(calls=(ToolCall(name='get_time', arguments={}),), error=None, \
form='python', content=None, reasoning='easy')
    """
    reasoning, body = split_reasoning(text)
    result = _parse_body(body.strip())
    if reasoning is None:
        return result
    return ParseResult(
        calls=result.calls,
        error=result.error,
        form=result.form,
        content=result.content,
        reasoning=reasoning,
    )


def _parse_body(body: str) -> ParseResult:
    if not body:
        return ParseResult(calls=())
    if has_tool_call_markup(body):
        return parse_hermes(body)
    if body[0] in "{[":
        value = decode_json(body)
        if value is not NOT_JSON:
            return _whole_json(value, body)
    if looks_like_python_call(body):
        try:
            calls = parse_python_calls(body)
        except CallParseError as failure:
            return ParseResult(calls=(), error=failure.label, form="python")
        if calls is not None:
            return ParseResult(calls=calls, form="python")
    return parse_embedded(body)


def _whole_json(value: Any, body: str) -> ParseResult:
    if not _attempts_a_call(value):
        if value == []:
            return ParseResult(calls=(), form="json")
        return ParseResult(calls=(), form="text", content=body)
    result = parse_structured(value, from_text=True)
    return ParseResult(calls=result.calls, error=result.error, form="json", content=result.content)


def _attempts_a_call(value: Any) -> bool:
    if isinstance(value, Mapping):
        return not CALL_KEYS.isdisjoint(value)
    if isinstance(value, list):
        return any(isinstance(item, Mapping) and not CALL_KEYS.isdisjoint(item) for item in value)
    return False
