"""The shape of an answer in BFCL's category words: one rule for training data and evaluation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["CALL_SHAPES", "call_shape"]

CALL_SHAPES = ("no_call", "simple", "parallel", "parallel_multiple")


def call_shape(answers: Any) -> str:
    """Name the shape of a list of exact calls ``[{"name", "arguments"}]`` with BFCL's words.

    ``no_call`` (nothing to call, or not a list of calls at all), ``simple`` (one call),
    ``parallel`` (several calls of one function) or ``parallel_multiple`` (calls of several
    functions).

    Args:
        answers: The calls, as a list or tuple of mappings (anything else counts as no call).

    Returns:
        One of :data:`CALL_SHAPES`.

    Example:
        >>> call_shape([]), call_shape([{"name": "f", "arguments": {}}])
        ('no_call', 'simple')
        >>> call_shape([{"name": "f"}, {"name": "f"}]), call_shape(({"name": "f"}, {"name": "g"}))
        ('parallel', 'parallel_multiple')
        >>> call_shape(None), call_shape("f()")
        ('no_call', 'no_call')
    """
    if not isinstance(answers, Sequence) or isinstance(answers, str | bytes) or not answers:
        return "no_call"
    if len(answers) == 1:
        return "simple"
    names = {call.get("name") if isinstance(call, Mapping) else None for call in answers}
    return "parallel" if len(names) == 1 else "parallel_multiple"
