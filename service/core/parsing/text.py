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

from typing import Any

from service.core.parsing.call_objects import CALL_KEYS, CallParseError
from service.core.parsing.embedded import parse_embedded
from service.core.parsing.hermes import has_tool_call_markup, parse_hermes, split_reasoning
from service.core.parsing.json_text import NOT_JSON, decode_json
from service.core.parsing.python_calls import looks_like_python_call, parse_python_calls
from service.core.parsing.structured import parse_structured
from service.core.types import ParseResult

__all__ = ["parse_answer_text", "parse_text"]


def parse_text(
    text: str, *, reasoning: str | None = None, starts_in_reasoning: bool | None = None
) -> ParseResult:
    """Parse model text in any supported form; ``reasoning`` carries a ``<think>`` block.

    Args:
        text: The model's output.
        reasoning: Reasoning known from elsewhere (an OpenAI message's
            ``reasoning_content``), used when ``text`` has no ``<think>`` block.
        starts_in_reasoning: Whether the prompt opened a think block (see
            :func:`~service.core.parsing.hermes.split_reasoning`); ``None`` when unknown.

    Example:
        >>> parse_text("<think>easy</think>get_time()")
        ParseResult(calls=(ToolCall(name='get_time', arguments={}),), error=None, \
form='python', content=None, reasoning='easy')
    """
    think, body = split_reasoning(text, starts_in_reasoning=starts_in_reasoning)
    return parse_answer_text(body, reasoning=think if think is not None else reasoning)


def parse_answer_text(body: str, *, reasoning: str | None = None) -> ParseResult:
    """Parse the answer part of model text, its reasoning already split off (may raise on a
    bug: :func:`service.core.parsing.parse_answer` is the never-raising entry point).

    Args:
        body: The text after the reasoning.
        reasoning: Passed through to the result.

    Returns:
        The :class:`~service.core.types.ParseResult` of ``body``.

    Example:
        >>> parse_answer_text("<think>not reasoning here</think>", reasoning="r").content
        '<think>not reasoning here</think>'
    """
    body = body.strip()
    if not body:
        return ParseResult(calls=(), reasoning=reasoning)
    if has_tool_call_markup(body):
        return parse_hermes(body, reasoning=reasoning)
    if body[0] in "{[":
        value = decode_json(body)
        if value is not NOT_JSON:
            return _whole_json(value, body, reasoning)
    if looks_like_python_call(body):
        try:
            calls = parse_python_calls(body)
        except CallParseError as failure:
            return ParseResult(calls=(), error=failure.label, form="python", reasoning=reasoning)
        if calls is not None:
            return ParseResult(calls=calls, form="python", reasoning=reasoning)
    return parse_embedded(body, reasoning=reasoning)


def _whole_json(value: Any, body: str, reasoning: str | None) -> ParseResult:
    if not _attempts_a_call(value):
        if value == []:
            return ParseResult(calls=(), form="json", reasoning=reasoning)
        return ParseResult(calls=(), form="text", content=body, reasoning=reasoning)
    return parse_structured(value, from_text=True, reasoning=reasoning)


def _attempts_a_call(value: Any) -> bool:
    if type(value) is dict:
        return not CALL_KEYS.isdisjoint(value)
    if type(value) is list:
        return any(type(item) is dict and not CALL_KEYS.isdisjoint(item) for item in value)
    return False
