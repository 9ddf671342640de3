"""Streaming model text: how much of it is settled content while generation goes on.

A stream may send content only when no continuation can turn it into (part of) a call that
:func:`service.core.parsing.parse_calls` would find in the finished text; the rest waits for
the end. ToolGrade's chat stream and the vLLM tool-parser plugin both follow this rule, so
their joined streams equal their whole answers.

A Hermes ``<tool_call>`` block still being written is read by :func:`open_hermes_call`: its
name once complete, and the canonical prefix of its arguments (what :func:`arguments_json`
will render once the block closes) one complete top-level argument at a time. A stream can send
those as they settle, as vLLM and OpenAI do; if the block then never closes (``max_tokens``) or
turns out malformed, the finished text has no calls and what was sent cannot be taken back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from service.core.parsing.hermes import TOOL_CALL_CLOSE, TOOL_CALL_OPEN
from service.core.parsing.json_text import NOT_JSON, decode_json

__all__ = ["OpenCall", "arguments_json", "open_hermes_call", "settled_content"]

# Characters where a call may begin in content: Hermes/XML markup, JSON, a Markdown fence.
_CALL_START = re.compile(r"[<{\[`]")
# Content that so far is a dotted identifier, maybe followed by "(...": a Python-style call?
_CALL_SYNTAX_START = re.compile(r"\s*[A-Za-z_][\w.]*(\(.*)?", re.DOTALL)


def settled_content(text: str) -> str:
    """The start of ``text`` that no later text can turn into a call, trailing space held.

    Trailing whitespace is held too: it may end the content (which is stripped) or separate
    more words.

    Args:
        text: Content generated so far (reasoning already split off).

    Returns:
        The prefix of ``text`` that is safe to send now.

    Example:
        >>> settled_content('Sure. <tool_call>{"name"')
        'Sure.'
        >>> settled_content("get_weather(city=")
        ''
        >>> settled_content("It is sunny. ")
        'It is sunny.'
    """
    if _CALL_SYNTAX_START.fullmatch(text):
        return ""
    start = _CALL_START.search(text)
    settled = text if start is None else text[: start.start()]
    return settled.rstrip()


def arguments_json(arguments: Mapping[str, Any]) -> str:
    """A call's arguments as the JSON string OpenAI's ``tool_calls`` carry.

    Args:
        arguments: The parsed call's arguments.

    Returns:
        Compact-spaced JSON (``", "`` and ``": "`` separators), non-ASCII kept as is.

    Example:
        >>> arguments_json({"city": "Zürich", "days": [1, 2]})
        '{"city": "Zürich", "days": [1, 2]}'
    """
    return json.dumps(dict(arguments), ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class OpenCall:
    """An unclosed Hermes block read so far.

    ``position`` counts the blocks before it in the answer; ``arguments`` is a prefix of the
    :func:`arguments_json` string the block will have if it closes as a valid call (``""``
    until its first top-level argument is complete).
    """

    position: int
    name: str
    arguments: str


# The block's head: the name, complete (closing quote and the comma after it).
_OPEN_CALL_HEAD = re.compile(r'\s*\{\s*"name"\s*:\s*"([^"\\]*[^"\\\s][^"\\]*)"\s*,\s*')
_ARGUMENTS_KEY = re.compile(r'"arguments"\s*:\s*(?=\{)')
# JSON strings (an unterminated one matches the lone quote) and the structural characters.
_JSON_SCAN = re.compile(r'"(?:[^"\\]|\\.)*"|"|[{}\[\],]')


def open_hermes_call(answer: str) -> OpenCall | None:
    """The answer's last ``<tool_call>`` block if it is unclosed and its name is complete.

    Args:
        answer: The model's text after its reasoning, as far as it is generated.

    Returns:
        The block's position, name and settled arguments prefix, or ``None`` (no open block,
        or its name is not complete yet).

    Example:
        >>> open_hermes_call('<tool_call>\\n{"name": "get_weather", "argu')
        OpenCall(position=0, name='get_weather', arguments='')
        >>> open_hermes_call('<tool_call>{"name": "f", "arguments": {"a":1,"b": "x, y')
        OpenCall(position=0, name='f', arguments='{"a": 1, ')
        >>> open_hermes_call('<tool_call>{"name": "get_wea') is None
        True
    """
    start = answer.rfind(TOOL_CALL_OPEN)
    if start < 0 or answer.find(TOOL_CALL_CLOSE, start) >= 0:
        return None
    block = answer[start + len(TOOL_CALL_OPEN) :]
    head = _OPEN_CALL_HEAD.match(block)
    if head is None:
        return None
    position = answer.count(TOOL_CALL_OPEN, 0, start)
    key = _ARGUMENTS_KEY.match(block, head.end())
    settled = _settled_arguments(block[key.end() :]) if key else ""
    return OpenCall(position=position, name=head.group(1), arguments=settled)


def _settled_arguments(raw: str) -> str:
    """The canonical prefix of the object ``raw`` opens: its complete top-level arguments."""
    depth = 0
    last_comma = -1
    for token in _JSON_SCAN.finditer(raw):
        text = token.group()
        if text == '"':
            break  # a string still being written
        if text in "{[":
            depth += 1
        elif text in "}]":
            depth -= 1
            if depth == 0:
                break  # the object closed: the whole call is read when its block closes
        elif text == "," and depth == 1:
            last_comma = token.start()
    if last_comma < 0:
        return ""
    value = decode_json(raw[:last_comma] + "}")
    if value is NOT_JSON or type(value) is not dict or not value:
        return ""
    return arguments_json(value)[:-1] + ", "
