"""Streaming model text: how much of it is settled content while generation goes on.

A stream may send content only when no continuation can turn it into (part of) a call that
:func:`service.core.parsing.parse_calls` would find in the finished text; the rest waits for
the end. ToolGrade's chat stream and the vLLM tool-parser plugin both follow this rule, so
their joined streams equal their whole answers.
"""

from __future__ import annotations

import re

__all__ = ["settled_content"]

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
