"""Turning decoded objects (from JSON text or given as data) into :class:`ToolCall` values.

One set of rules for every form, so a call means the same thing whether it arrived in a
``<tool_call>`` block, a bare JSON list, an OpenAI message or a Python list:

* a call object has a non-empty string ``name`` and its arguments under ``arguments`` (or
  ``parameters``, ToolRL style; ``arguments`` wins when both are present);
* arguments are an object, or a JSON string that decodes to one (OpenAI's wire form);
  ``""`` and ``null`` mean no arguments;
* an OpenAI tool call ``{"type": "function", "function": {...}}`` wraps a call object;
* only for data given as objects (not text): a missing arguments key means no arguments, and
  BFCL's decoded form ``{function_name: {argument: value}}`` is a call.

Problems raise :class:`CallParseError` with a ``parse:*`` label; the form parsers turn it into
a labelled :class:`~service.core.types.ParseResult`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from service.core.parsing import labels
from service.core.parsing.json_text import NOT_JSON, decode_json
from service.core.types import ToolCall

__all__ = ["CALL_KEYS", "CallParseError", "is_call_shaped", "is_mapping", "tool_call_from"]

CALL_KEYS: Final = frozenset({"name", "function", "tool_calls", "function_call"})
"""Keys whose presence makes a decoded object an attempted call (or message with calls)."""

# Keys that cannot name a function in BFCL's ``{function_name: {...}}`` form: with them the
# object is some other (malformed) shape, not a call to a function called "arguments".
_RESERVED_KEYS: Final = frozenset(
    {"name", "arguments", "parameters", "function", "type", "id", "tool_calls", "role"}
)


_JSON_NON_MAPPINGS: Final = frozenset({list, tuple, str, int, float, bool, type(None)})


class CallParseError(Exception):
    """A decoded object that is not a well-formed call; ``label`` says why (``parse:*``)."""

    def __init__(self, label: str, detail: str = "") -> None:
        super().__init__(detail or label)
        self.label = label


def is_call_shaped(value: Any) -> bool:
    """Whether ``value`` is an object with a ``name`` and an arguments key (or an OpenAI call).

    Used to pick calls out of prose, where a JSON object without these keys is data.

    Example:
        >>> is_call_shaped({"name": "f", "arguments": {}}), is_call_shaped({"name": "Ann"})
        (True, False)
    """
    if not isinstance(value, dict):
        return False
    if "name" not in value:
        value = value.get("function")
        if not isinstance(value, dict) or "name" not in value:
            return False
    return "arguments" in value or "parameters" in value


def tool_call_from(value: Any, *, from_text: bool) -> ToolCall:
    """One call from a decoded object in any accepted call shape.

    Args:
        value: A call object, an OpenAI tool call, or (for data, ``from_text=False``) BFCL's
            ``{function_name: {argument: value}}``.
        from_text: The object was decoded from model text: the arguments key is then required
            and BFCL's form is not accepted (in text, ``{"result": {...}}`` is data).

    Returns:
        The call, with its arguments as a fresh ``dict``.

    Raises:
        CallParseError: ``parse:not_a_call_object``, ``parse:invalid_name`` or
            ``parse:invalid_arguments``.

    Example:
        >>> tool_call_from({"name": "f", "parameters": '{"x": 1}'}, from_text=True)
        ToolCall(name='f', arguments={'x': 1})
        >>> tool_call_from({"get_weather": {"city": "Paris"}}, from_text=False)
        ToolCall(name='get_weather', arguments={'city': 'Paris'})
    """
    if not is_mapping(value):
        raise CallParseError(labels.NOT_A_CALL_OBJECT, f"expected an object, got {_kind(value)}")
    if "name" in value:
        return _from_call_object(value, from_text=from_text)
    if "function" in value:
        return _from_openai_tool_call(value, from_text=from_text)
    if not from_text and len(value) == 1:
        ((name, arguments),) = value.items()
        if isinstance(name, str) and name not in _RESERVED_KEYS:
            return ToolCall(name=_checked_name(name), arguments=_arguments(arguments, owned=False))
    raise CallParseError(labels.NOT_A_CALL_OBJECT, "an object without a function name")


def is_mapping(value: Any) -> bool:
    """``isinstance(value, Mapping)``, answering for JSON's own types without the (slow) ABC check.

    Example:
        >>> from types import MappingProxyType
        >>> is_mapping({}), is_mapping([]), is_mapping(MappingProxyType({}))
        (True, False, True)
    """
    kind = type(value)
    if kind is dict:
        return True
    if kind in _JSON_NON_MAPPINGS:
        return False
    return isinstance(value, Mapping)


def _from_call_object(value: Mapping[Any, Any], *, from_text: bool) -> ToolCall:
    name = _checked_name(value["name"])
    if "arguments" in value:
        return ToolCall(name=name, arguments=_arguments(value["arguments"], owned=from_text))
    if "parameters" in value:
        return ToolCall(name=name, arguments=_arguments(value["parameters"], owned=from_text))
    if from_text:
        raise CallParseError(labels.NOT_A_CALL_OBJECT, f"call {name!r} has no 'arguments'")
    return ToolCall(name=name, arguments={})


def _from_openai_tool_call(value: Mapping[Any, Any], *, from_text: bool) -> ToolCall:
    kind = value.get("type", "function")
    function = value["function"]
    if kind != "function" or not is_mapping(function) or "name" not in function:
        raise CallParseError(labels.NOT_A_CALL_OBJECT, "not an OpenAI function tool call")
    return _from_call_object(function, from_text=from_text)


def _checked_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise CallParseError(labels.INVALID_NAME, f"function name {name!r} is not a string")
    return name


def _arguments(arguments: Any, *, owned: bool) -> dict[str, Any]:
    """Arguments as a dict. ``owned``: freshly decoded JSON (string keys, safe to keep as is);
    otherwise the caller's object, checked for string keys and copied."""
    if isinstance(arguments, str):
        if not arguments.strip():
            return {}
        arguments = decode_json(arguments)
        if arguments is NOT_JSON:
            raise CallParseError(labels.INVALID_ARGUMENTS, "arguments string is not JSON")
        owned = True
    elif arguments is None:
        return {}
    if type(arguments) is dict and owned:
        return arguments
    if not is_mapping(arguments):
        raise CallParseError(
            labels.INVALID_ARGUMENTS, f"arguments must be an object, got {_kind(arguments)}"
        )
    if not all(type(key) is str for key in arguments):
        raise CallParseError(labels.INVALID_ARGUMENTS, "argument names must be strings")
    return dict(arguments)


def _kind(value: Any) -> str:
    return type(value).__name__
