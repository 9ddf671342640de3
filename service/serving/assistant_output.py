"""What an assistant's generated text says: reasoning, content and tool calls.

The reasoning is split by the core's rule (:func:`service.core.parsing.split_reasoning`) and
calls are extracted by the core parser (:func:`service.core.parsing.parse_answer`), the same
one that scores predictions, so a call the service returns is exactly a call ``/score`` would
credit. Unlike vLLM's Hermes parser, a malformed call is not passed off as content silently:
the text stays in ``content`` *and* the failure label is kept (``parse_error``).

Streaming (:class:`AssistantStream`) emits reasoning and content as it is generated, holding
back text that might still turn out to be a call (from the first ``<``, ``{``, ``[`` or
backtick, or text that so far reads like a Python-style call ``f(...``), and settles the rest when
the completion ends — so the concatenated stream equals the non-streamed message.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from service.core.parsing import parse_answer, split_reasoning
from service.core.parsing.hermes import THINK_CLOSE, THINK_OPEN
from service.core.parsing.streaming import settled_content
from service.core.types import ToolCall


@dataclass(frozen=True, slots=True)
class AssistantOutput:
    """One completion read back.

    ``text`` is everything the model wrote (with any forced prefix); ``calls`` are empty
    unless calls were asked for and parsed; ``parse_error`` is the parser's label when calls
    were asked for and the text held malformed call markup.
    """

    text: str
    content: str | None
    reasoning: str | None
    calls: tuple[ToolCall, ...] = ()
    parse_error: str | None = None


def interpret_output(
    text: str, *, parse_tool_calls: bool, starts_in_reasoning: bool = False
) -> AssistantOutput:
    """Reasoning, content and (when ``parse_tool_calls``) calls of a completion.

    The reasoning is split once, by the core's rule, with what the server knows of its prompt
    (``starts_in_reasoning``): a lone ``</think>`` ends the reasoning only when the prompt
    opened the block; otherwise it is part of the content (and a stream can send the content
    as it comes). The rest is parsed as it is, never split a second time.

    Example:
        >>> out = interpret_output('<tool_call>\\n{"name": "f", "arguments": {"x": 1}}\\n'
        ...     '</tool_call>', parse_tool_calls=True)
        >>> out.calls, out.content
        ((ToolCall(name='f', arguments={'x': 1}),), None)
        >>> interpret_output('<tool_call>{"name": "f"', parse_tool_calls=True).parse_error
        'parse:unterminated_tool_call'
    """
    reasoning, rest = split_reasoning(text, starts_in_reasoning=starts_in_reasoning)
    reasoning = reasoning or None  # an empty think block (thinking off) is no reasoning
    rest = rest.strip()
    if not parse_tool_calls:
        return AssistantOutput(text=text, content=rest or None, reasoning=reasoning)
    result = parse_answer(rest, reasoning=reasoning)
    if result.calls:
        content = result.content.strip() if result.content else None
        return AssistantOutput(
            text=text, content=content or None, reasoning=reasoning, calls=result.calls
        )
    return AssistantOutput(
        text=text, content=rest or None, reasoning=reasoning, parse_error=result.error
    )


@dataclass
class StreamDelta:
    """Text to send for one completion: new reasoning and/or new content."""

    reasoning: str = ""
    content: str = ""

    def __bool__(self) -> bool:
        return bool(self.reasoning or self.content)


@dataclass
class AssistantStream:
    """Turns one completion's text deltas into reasoning/content deltas, then the final read.

    Feed every piece with :meth:`feed`; call :meth:`finish` once at the end for the remaining
    text and the parsed :class:`AssistantOutput`. Everything sent is a prefix of what the
    non-streamed response would hold.
    """

    parse_tool_calls: bool
    starts_in_reasoning: bool = False
    text: str = ""
    _sent_reasoning: str = field(default="", repr=False)
    _sent_content: str = field(default="", repr=False)

    def feed(self, piece: str) -> StreamDelta:
        """Add generated text; return what can be sent now."""
        self.text += piece
        reasoning, content = self._safe_parts()
        return self._advance(reasoning, content)

    def finish(self) -> tuple[StreamDelta, AssistantOutput]:
        """The rest of the text to send, and the completion read as a whole."""
        output = interpret_output(
            self.text,
            parse_tool_calls=self.parse_tool_calls,
            starts_in_reasoning=self.starts_in_reasoning,
        )
        return self._advance(output.reasoning or "", output.content or ""), output

    def _advance(self, reasoning: str, content: str) -> StreamDelta:
        delta = StreamDelta()
        if reasoning.startswith(self._sent_reasoning) and len(reasoning) > len(
            self._sent_reasoning
        ):
            delta.reasoning = reasoning[len(self._sent_reasoning) :]
            self._sent_reasoning = reasoning
        if content.startswith(self._sent_content) and len(content) > len(self._sent_content):
            delta.content = content[len(self._sent_content) :]
            self._sent_content = content
        return delta

    def _safe_parts(self) -> tuple[str, str]:
        """Reasoning and content that no later text can change."""
        body = (THINK_OPEN + self.text) if self.starts_in_reasoning else self.text
        stripped = body.lstrip()
        if not stripped:
            return "", ""
        if THINK_OPEN.startswith(stripped) and stripped != THINK_OPEN:
            return "", ""  # could still become "<think>"
        if not stripped.startswith(THINK_OPEN):
            return "", self._safe_content(stripped)
        inner = stripped[len(THINK_OPEN) :]
        reasoning, closed, rest = inner.partition(THINK_CLOSE)
        if not closed:
            return _hold_partial_marker(reasoning, THINK_CLOSE).strip(), ""
        return reasoning.strip(), self._safe_content(rest.lstrip())

    def _safe_content(self, content: str) -> str:
        if self.parse_tool_calls:
            return settled_content(content)
        # Trailing whitespace may end the content (stripped) or separate more words.
        return content.rstrip()


def _hold_partial_marker(text: str, marker: str) -> str:
    """``text`` without a trailing partial ``marker`` (e.g. ``"...</thi"``)."""
    for length in range(min(len(marker) - 1, len(text)), 0, -1):
        if marker.startswith(text[-length:]):
            return text[:-length]
    return text
