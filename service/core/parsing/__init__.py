"""Every prediction form in one entry point: :func:`parse_calls`.

One small parser per form, each returning calls **and** a failure label (vLLM's Hermes parser
hides failures; these do not):

* :mod:`.hermes` — Qwen3/Hermes ``<tool_call>`` blocks, ``<think>`` reasoning;
* :mod:`.python_calls` — Python call syntax via :mod:`ast` (never ``eval``);
* :mod:`.embedded` — JSON in prose or Markdown fences (balanced, string-aware scan);
* :mod:`.structured` — call lists, OpenAI ``tool_calls`` and assistant messages as data;
* :mod:`.text` — which of these a piece of model text is;
* :mod:`.call_objects` — the rules for one call object, shared by all of them;
* :mod:`.labels` — the ``parse:*`` labels.

A prediction without call markup is a plain answer: no calls and no error (``form="text"``);
whether that is right is the scorer's business (``parse:no_call_found`` when calls were
expected). Malformed call markup yields no calls and a label: there is no partial credit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from service.core.parsing import labels
from service.core.parsing.hermes import split_reasoning
from service.core.parsing.structured import parse_structured
from service.core.parsing.text import parse_answer_text, parse_text
from service.core.types import ParseResult

__all__ = ["labels", "parse_answer", "parse_calls", "split_reasoning"]


def parse_calls(prediction: Any) -> ParseResult:
    """Extract tool calls from a model prediction in any supported form. Never raises.

    Args:
        prediction: Model text (Hermes ``<tool_call>`` blocks, optionally after ``<think>``;
            bare JSON; JSON in prose or a fence; Python call syntax), ``bytes`` (decoded as
            UTF-8, invalid bytes replaced), a list of calls (``{"name", "arguments"}``,
            OpenAI tool calls, BFCL ``{name: {args}}``) or chat messages, an OpenAI assistant
            message or a single call object, or ``None`` (no output).

    Returns:
        A :class:`~service.core.types.ParseResult`: the calls with decoded arguments, ``error``
        ``None`` or a ``parse:*`` label (then no calls), the recognised ``form``, the text
        outside call markup (``content``) and the ``<think>`` text (``reasoning``).

    Example:
        >>> result = parse_calls('<think>Need the weather.</think>\\n<tool_call>\\n'
        ...     '{"name": "get_weather", "arguments": {"city": "Paris"}}\\n</tool_call>')
        >>> result.ok, result.form, result.reasoning
        (True, 'hermes', 'Need the weather.')
        >>> [(call.name, dict(call.arguments)) for call in result.calls]
        [('get_weather', {'city': 'Paris'})]
        >>> parse_calls('[get_weather(city="Paris"), math.factorial(number=5)]').calls[1]
        ToolCall(name='math.factorial', arguments={'number': 5})
        >>> parse_calls('Sure: {"name": "f", "arguments": {"x": 1}}').calls
        (ToolCall(name='f', arguments={'x': 1}),)
        >>> parse_calls("It is sunny in Paris.")
        ParseResult(calls=(), error=None, form='text', content='It is sunny in Paris.', \
reasoning=None)
        >>> parse_calls('<tool_call>{"name": "f", "arguments": {"x": 1').error
        'parse:unterminated_tool_call'
    """
    try:
        return _dispatch(prediction)
    # The contract is "never raises": a bug must cost one item its score, not the whole
    # request. Tests assert that the internal-error label never appears.
    except Exception as failure:
        return _failed(prediction, failure)


def parse_answer(answer: str, *, reasoning: str | None = None) -> ParseResult:
    """Calls in the answer part of model text, its reasoning split off beforehand (by
    :func:`split_reasoning`, which the caller also needs). Never raises.

    A reader that splits the reasoning itself (the server, which streams it apart) parses the
    rest here so that no second split reads the answer differently.

    Args:
        answer: The text after the reasoning.
        reasoning: The reasoning, passed through to the result.

    Returns:
        A :class:`~service.core.types.ParseResult`, as :func:`parse_calls` gives.

    Example:
        >>> reasoning, answer = split_reasoning("weather?</think>\\n<tool_call>\\n"
        ...     '{"name": "get_weather", "arguments": {}}\\n</tool_call>')
        >>> result = parse_answer(answer, reasoning=reasoning)
        >>> result.calls, result.reasoning
        ((ToolCall(name='get_weather', arguments={}),), 'weather?')
    """
    try:
        return parse_answer_text(answer, reasoning=reasoning)
    except Exception as failure:
        return _failed(answer, failure)


def _failed(prediction: Any, failure: Exception) -> ParseResult:
    label = labels.TOO_DEEP if isinstance(failure, RecursionError) else labels.INTERNAL_ERROR
    return ParseResult(calls=(), error=label, form=_form_guess(prediction))


def _dispatch(prediction: Any) -> ParseResult:
    if isinstance(prediction, str):
        return parse_text(prediction)
    if type(prediction) is list or type(prediction) is dict:
        return parse_structured(prediction)
    if prediction is None:
        return ParseResult(calls=())
    if isinstance(prediction, bytes | bytearray | memoryview):
        return parse_text(bytes(prediction).decode("utf-8", errors="replace"))
    if isinstance(prediction, Mapping) or (
        isinstance(prediction, Sequence) and not isinstance(prediction, str)
    ):
        return parse_structured(prediction)
    return ParseResult(calls=(), error=labels.UNSUPPORTED_TYPE, form="unknown")


def _form_guess(prediction: Any) -> str:
    return "text" if isinstance(prediction, str | bytes | bytearray) else "structured"
