"""JSON calls embedded in prose or in Markdown fences.

The simplest extraction decodes the span from the first ``{`` to the last ``}``. That fails on two
calls in one answer, on a list of calls, and on any brace in the surrounding prose. Here one
linear, string-aware pass pairs every bracket; then, left to right, each paired span that could
hold a call (it contains a ``"name":`` key) is decoded, and a call-shaped object — or a list of
them — is taken. That first-to-last span is tried last, so whatever it reads, this reads too.

Decisions:

* JSON objects in prose that are not call-shaped (no ``"name"`` + ``"arguments"``) are data,
  not calls: ``The user is {"name": "Ann", "age": 30}.`` is a plain answer;
* a ``"name":`` key (or ``'name':``, a Python-dict attempt) that no decoded span accounts for
  is an attempted call that failed: ``parse:invalid_json``;
* a call-shaped object with bad contents (``"arguments": 5``) fails the prediction with its
  label, even when other calls in the same text are fine;
* a Markdown fence whose whole content is Python call syntax is read as Python.

Bounded work: spans are only decoded when they contain a ``"name":`` key, and at most
:data:`MAX_FAILED_DECODES` undecodable spans are tried, so adversarial nesting stays linear.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import Any, Final

from service.core.parsing import labels
from service.core.parsing.call_objects import CallParseError, is_call_shaped, tool_call_from
from service.core.parsing.json_text import NOT_JSON, decode_json
from service.core.parsing.python_calls import looks_like_python_call, parse_python_calls
from service.core.types import ParseResult, ToolCall

__all__ = ["MAX_FAILED_DECODES", "bracket_pairs", "parse_embedded"]

MAX_FAILED_DECODES: Final = 32

# Tokens the bracket pass cares about; ``\\.`` consumes an escape pair so ``\"`` never toggles.
_BRACKET_TOKENS: Final = re.compile(r'[\[\]{}"]|\\.', re.DOTALL)
_CLOSER_OF: Final = {"{": "}", "[": "]"}
_OPENER_OF: Final = {"}": "{", "]": "["}
# A name key, JSON or Python quoted: the mark of an attempted call.
_NAME_KEY: Final = re.compile(r"([\"'])name\1\s*:")
_FENCE: Final = re.compile(r"```[\w+-]*[ \t]*\n?(.*?)```", re.DOTALL)
_EMPTY_FENCE: Final = re.compile(r"```[\w+-]*\s*```")


@dataclass(frozen=True, slots=True)
class _Span:
    start: int
    end: int  # exclusive
    value: Any


def bracket_pairs(text: str) -> dict[int, int]:
    """Map each opening bracket's index to its closing bracket's index (string-aware).

    Quotes only open strings inside brackets (prose apostrophes and quotes are ignored). A
    closer that does not match the innermost opener closes the nearest matching one (the
    openers in between stay unpaired); a closer with no matching opener is ignored.

    Example:
        >>> bracket_pairs('say "hi" {"a": "}", "b": [1]} ]')
        {25: 27, 9: 28}
    """
    pairs: dict[int, int] = {}
    stack: list[tuple[str, int]] = []
    in_string = False
    for token in _BRACKET_TOKENS.finditer(text):
        char = token.group()
        if in_string:
            in_string = char != '"'
        elif char in _CLOSER_OF:
            stack.append((char, token.start()))
        elif char in _OPENER_OF:
            opener = _OPENER_OF[char]
            for depth in range(len(stack) - 1, -1, -1):
                if stack[depth][0] == opener:
                    pairs[stack[depth][1]] = token.start()
                    del stack[depth:]
                    break
        elif char == '"' and stack:
            in_string = True
    return pairs


def parse_embedded(text: str, *, reasoning: str | None = None) -> ParseResult:
    """Calls from JSON objects/lists (or Python calls in fences) inside ``text``.

    Returns ``form="json"`` (or ``"python"``) with the calls and the prose around them; a
    ``form="text"`` result with no calls when nothing in ``text`` attempts a call.
    ``reasoning`` (the ``<think>`` text, split off beforehand) is passed through.

    Example:
        >>> result = parse_embedded('I will call {"name": "f", "arguments": {"x": 1}} and '
        ...                         '```json\\n[{"name": "g", "arguments": {}}]\\n``` now.')
        >>> result.form, [c.name for c in result.calls], result.content
        ('json', ['f', 'g'], 'I will call  and  now.')
    """
    try:
        python_calls = _python_fences(text)
        if python_calls:
            return ParseResult(
                calls=python_calls, form="python", content=text.strip() or None, reasoning=reasoning
            )
        if "name" not in text:  # every call object and every attempted one has a name key
            return ParseResult(
                calls=(), form="text", content=text.strip() or None, reasoning=reasoning
            )
        pairs = bracket_pairs(text)
        if text[0] in "{[" and 0 not in pairs:
            # Starts as JSON but never closes: truncated output earns nothing for the complete
            # calls inside it.
            raise CallParseError(labels.INVALID_JSON, "the leading bracket is never closed")
        spans = _decoded_spans(text, pairs)
        calls, call_spans = _calls_in(spans)
        if not calls:
            seed_span = _seed_span(text)
            if seed_span is not None:
                calls, call_spans = _calls_in([seed_span])
        if not calls and _has_unexplained_name_key(text, spans):
            raise CallParseError(labels.INVALID_JSON, "a call-like key in text that is not JSON")
    except CallParseError as failure:
        return ParseResult(calls=(), error=failure.label, form="json", reasoning=reasoning)
    if not calls:
        return ParseResult(calls=(), form="text", content=text.strip() or None, reasoning=reasoning)
    content = _outside(text, call_spans) or None
    return ParseResult(calls=calls, form="json", content=content, reasoning=reasoning)


def _python_fences(text: str) -> tuple[ToolCall, ...]:
    calls: list[ToolCall] = []
    if "```" not in text:
        return ()
    for fence in _FENCE.finditer(text):
        body = fence.group(1).strip()
        if looks_like_python_call(body):
            calls.extend(parse_python_calls(body) or ())
    return tuple(calls)


def _decoded_spans(text: str, pairs: dict[int, int]) -> list[_Span]:
    """Every decodable bracketed span that contains a ``"name":`` key, outermost first."""
    name_keys = [m.start() for m in _NAME_KEY.finditer(text) if m.group(1) == '"']
    if not name_keys:
        return []
    spans: list[_Span] = []
    consumed_until = 0
    failures = 0
    for start in sorted(pairs):
        end = pairs[start] + 1
        if start < consumed_until or not _contains_any(name_keys, start, end):
            continue
        value = decode_json(text[start:end])
        if value is NOT_JSON:
            failures += 1
            if failures > MAX_FAILED_DECODES:
                break
            continue
        spans.append(_Span(start, end, value))
        consumed_until = end
    return spans


def _contains_any(sorted_positions: list[int], start: int, end: int) -> bool:
    index = bisect.bisect_left(sorted_positions, start)
    return index < len(sorted_positions) and sorted_positions[index] < end


def _calls_in(spans: list[_Span]) -> tuple[tuple[ToolCall, ...], list[_Span]]:
    """The calls in ``spans`` (a call-shaped object, or a list of them) and their spans."""
    calls: list[ToolCall] = []
    call_spans: list[_Span] = []
    for span in spans:
        value = span.value
        if is_call_shaped(value):
            calls.append(tool_call_from(value, from_text=True))
        elif isinstance(value, list) and value and all(is_call_shaped(v) for v in value):
            calls.extend(tool_call_from(v, from_text=True) for v in value)
        else:
            continue
        call_spans.append(span)
    return tuple(calls), call_spans


def _seed_span(text: str) -> _Span | None:
    start, end = text.find("{"), text.rfind("}") + 1
    if start < 0 or end <= start:
        return None
    value = decode_json(text[start:end])
    return None if value is NOT_JSON else _Span(start, end, value)


def _has_unexplained_name_key(text: str, spans: list[_Span]) -> bool:
    starts = [span.start for span in spans]
    for match in _NAME_KEY.finditer(text):
        index = bisect.bisect_right(starts, match.start()) - 1
        if index < 0 or spans[index].end <= match.start():
            return True
    return False


def _outside(text: str, spans: list[_Span]) -> str:
    pieces: list[str] = []
    position = 0
    for span in spans:
        pieces.append(text[position : span.start])
        position = span.end
    pieces.append(text[position:])
    return _EMPTY_FENCE.sub("", "".join(pieces)).strip()
