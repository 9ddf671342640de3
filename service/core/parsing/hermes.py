"""Qwen3/Hermes tool-call markup: ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>``.

Also splits off the reasoning of a leading ``<think>...</think>`` block (or everything before a
lone ``</think>``, which is what a completion looks like when the chat template pre-filled the
opening tag).

Decisions, matching what vLLM's Hermes parser (the one that serves Qwen3) accepts, so a reward
never favours output the server would not turn into calls — but with the failure named rather
than silently dropped:

* each block holds exactly one call object (a list inside a block is ``not_a_call_object``);
* the **last** block may be unterminated (generation stopped on ``</tool_call>`` as a stop
  string, or ran out of tokens right after the JSON): when its JSON decodes to a call it counts,
  with no error; otherwise ``parse:unterminated_tool_call``. A block followed by another
  ``<tool_call>`` before any ``</tool_call>`` is always ``parse:unterminated_tool_call``;
* any malformed block fails the whole prediction (no partial credit), with the first block's
  label; ``</tool_call>`` without an opening tag is ``parse:unmatched_tool_call_tag``;
* markup inside the ``<think>`` block is reasoning, not calls; a lone ``</think>`` after a
  ``<tool_call>`` is not a reasoning boundary;
* like vLLM's parser, tags are found by plain search, not JSON-aware: an argument string that
  contains ``</tool_call>`` ends its block early (and fails to decode).
"""

from __future__ import annotations

from typing import Final

from service.core.parsing import labels
from service.core.parsing.call_objects import CallParseError, tool_call_from
from service.core.parsing.json_text import NOT_JSON, decode_json
from service.core.types import ParseResult, ToolCall

__all__ = [
    "THINK_CLOSE",
    "THINK_OPEN",
    "TOOL_CALL_CLOSE",
    "TOOL_CALL_OPEN",
    "has_tool_call_markup",
    "parse_hermes",
    "split_reasoning",
]

TOOL_CALL_OPEN: Final = "<tool_call>"
TOOL_CALL_CLOSE: Final = "</tool_call>"
THINK_OPEN: Final = "<think>"
THINK_CLOSE: Final = "</think>"


def split_reasoning(
    text: str, *, starts_in_reasoning: bool | None = None
) -> tuple[str | None, str]:
    """``(reasoning, rest)``: the ``<think>`` block's stripped text (``None`` when absent).

    A leading ``<think>`` block is reasoning; an unterminated one (the model was cut off while
    thinking) is all reasoning. A lone ``</think>`` depends on what is known of the prompt:

    * ``starts_in_reasoning=None`` (a scorer reading text without its prompt): the template
      pre-filled ``<think>``, so the text before a lone ``</think>`` is reasoning — unless a
      ``<tool_call>`` comes first (then the tag is stray text inside the answer);
    * ``True`` (the server saw its generation prompt open the block): as if the text began
      with ``<think>``;
    * ``False`` (the server saw that it did not): a lone ``</think>`` is text of the answer.
      Knowing beats guessing here, and it lets a stream send the answer as it is written
      instead of holding everything back in case a ``</think>`` turns up later.

    Args:
        text: The model's output.
        starts_in_reasoning: Whether the prompt opened a think block; ``None`` when unknown.

    Returns:
        The reasoning (``None`` without a think block, ``""`` for an empty one) and the text
        after it (not stripped).

    Example:
        >>> split_reasoning("<think>\\nweather in Paris?\\n</think>\\n\\nanswer")
        ('weather in Paris?', '\\n\\nanswer')
        >>> split_reasoning("pre-filled think</think>answer"), split_reasoning("answer")
        (('pre-filled think', 'answer'), (None, 'answer'))
        >>> split_reasoning("stray</think>answer", starts_in_reasoning=False)
        (None, 'stray</think>answer')
        >>> split_reasoning("cut short", starts_in_reasoning=True)
        ('cut short', '')
    """
    if starts_in_reasoning:
        text = THINK_OPEN + text
    start = text.find(THINK_OPEN)
    if start >= 0 and not text[:start].strip():
        inner = start + len(THINK_OPEN)
        end = text.find(THINK_CLOSE, inner)
        if end < 0:
            return text[inner:].strip(), ""
        return text[inner:end].strip(), text[end + len(THINK_CLOSE) :]
    if starts_in_reasoning is None:
        end = text.find(THINK_CLOSE)
        if end >= 0 and (start < 0 or start > end) and text.find(TOOL_CALL_OPEN, 0, end) < 0:
            return text[:end].strip(), text[end + len(THINK_CLOSE) :]
    return None, text


def has_tool_call_markup(text: str) -> bool:
    """Whether ``text`` holds either Hermes tag (then it is parsed as Hermes, and only so)."""
    return TOOL_CALL_OPEN in text or TOOL_CALL_CLOSE in text


def parse_hermes(text: str, *, reasoning: str | None = None) -> ParseResult:
    """Calls from ``<tool_call>`` blocks; ``content`` is the text around them.

    ``reasoning`` (the ``<think>`` text, split off beforehand) is passed through.

    Example:
        >>> result = parse_hermes('Sure.\\n<tool_call>\\n{"name": "f", "arguments": {"x": 1}}'
        ...                       '\\n</tool_call>\\n<tool_call>{"name": "g", "arguments": {}}')
        >>> result.ok, [c.name for c in result.calls], result.content
        (True, ['f', 'g'], 'Sure.')
        >>> parse_hermes("<tool_call>{\\"name\\": \\"f\\", \\"arguments\\": {").error
        'parse:unterminated_tool_call'
    """
    calls: list[ToolCall] = []
    outside: list[str] = []
    position = 0
    try:
        while True:
            start = text.find(TOOL_CALL_OPEN, position)
            if start < 0:
                outside.append(text[position:])
                break
            outside.append(text[position:start])
            inner = start + len(TOOL_CALL_OPEN)
            end = text.find(TOOL_CALL_CLOSE, inner)
            next_start = text.find(TOOL_CALL_OPEN, inner, end if end >= 0 else len(text))
            if next_start >= 0:
                raise CallParseError(labels.UNTERMINATED_TOOL_CALL, "a block without its end")
            terminated = end >= 0
            block_end = end if terminated else len(text)
            calls.append(_call_from_block(text[inner:block_end], terminated=terminated))
            position = block_end + len(TOOL_CALL_CLOSE) if terminated else block_end
        content = "".join(outside)
        if TOOL_CALL_CLOSE in content:
            raise CallParseError(
                labels.UNMATCHED_TOOL_CALL_TAG, f"{TOOL_CALL_CLOSE} without opening"
            )
    except CallParseError as failure:
        return ParseResult(calls=(), error=failure.label, form="hermes", reasoning=reasoning)
    return ParseResult(
        calls=tuple(calls), form="hermes", content=content.strip() or None, reasoning=reasoning
    )


def _call_from_block(block: str, *, terminated: bool) -> ToolCall:
    if not block.strip():
        if terminated:
            raise CallParseError(labels.EMPTY_TOOL_CALL, "an empty block")
        raise CallParseError(labels.UNTERMINATED_TOOL_CALL, "an empty block at the end")
    value = decode_json(block)
    if value is NOT_JSON:
        label = labels.INVALID_JSON if terminated else labels.UNTERMINATED_TOOL_CALL
        raise CallParseError(label, "the block is not JSON")
    return tool_call_from(value, from_text=True)
