"""Python call syntax (BFCL's prompting style): ``f(a=1, b=[2])`` or ``[f(a=1), g(b=2)]``.

One call per line (``f(a=1)\ng(b=2)``) is read too.

Parsed with :mod:`ast` and converted node by node; nothing is ever evaluated. Function names may
be dotted (``math.factorial``). Argument values convert like :func:`ast.literal_eval` into JSON
shapes (tuples and sets become lists; dict keys must be strings), with BFCL's readings of
non-literals: a bare name or attribute (``unit=celsius``, ``x=math.pi``) is its source text, a
nested call without keywords is its source text, one with keywords is ``{name: {kwargs}}``, and
``...`` is ``"..."``. Arithmetic (which BFCL ``eval``s), lambdas, comprehensions, ``**kwargs``,
repeated keywords and non-finite floats are rejected.
"""

from __future__ import annotations

import ast
import math
import re
from typing import Any, Final

from service.core.parsing import labels
from service.core.parsing.call_objects import CallParseError
from service.core.types import ToolCall

__all__ = ["looks_like_python_call", "parse_python_calls"]

# A call, or a list of calls, at the very start: ``name(`` / ``[name(``, dotted names allowed.
_CALL_START: Final = re.compile(r"\[?\s*[A-Za-z_][\w.]*[ \t]*\(")

_SYNTAX_FAILURES: Final = (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError)


def looks_like_python_call(text: str) -> bool:
    """Whether stripped ``text`` has the outline of a call or a list of calls.

    Example:
        >>> looks_like_python_call("[f(a=1), g(b=2)]"), looks_like_python_call("f(x) is nice")
        (True, False)
    """
    if _CALL_START.match(text) is None:
        return False
    return text.endswith(")") or (text.startswith("[") and text.endswith("]"))


def parse_python_calls(source: str) -> tuple[ToolCall, ...] | None:
    """Calls from Python call syntax, or ``None`` when ``source`` reads as prose.

    ``None`` means the text is not an attempted call: it is not Python, or it is calls with
    positional arguments only and no keyword anywhere (``Paris (France)`` parses as a call).

    Raises:
        CallParseError: ``parse:invalid_python_call`` (not Python but a keyword ``=`` suggests
            an attempt, or a value that is not a literal) or ``parse:positional_argument``.

    Example:
        >>> parse_python_calls("[math.factorial(number=5), g(xs=[1, (2, 3)], flag=True)]")
        (ToolCall(name='math.factorial', arguments={'number': 5}), \
ToolCall(name='g', arguments={'xs': [1, [2, 3]], 'flag': True}))
        >>> parse_python_calls("Paris (France)") is None
        True
    """
    try:
        statements = ast.parse(source).body
    except _SYNTAX_FAILURES as error:
        if "=" in source:
            raise CallParseError(labels.INVALID_PYTHON_CALL, str(error)) from None
        return None
    nodes: list[ast.expr] = []
    for statement in statements:
        if not isinstance(statement, ast.Expr):
            return None
        value = statement.value
        nodes.extend(value.elts if isinstance(value, ast.List | ast.Tuple) else [value])
    if not nodes or not all(isinstance(node, ast.Call) for node in nodes):
        return None
    calls: list[ast.Call] = [node for node in nodes if isinstance(node, ast.Call)]
    if any(call.args for call in calls):
        if any(call.keywords for call in calls):
            raise CallParseError(labels.POSITIONAL_ARGUMENT, "arguments must be passed by name")
        return None
    try:
        return tuple(_tool_call(call) for call in calls)
    except RecursionError:
        raise CallParseError(labels.INVALID_PYTHON_CALL, "nested too deeply") from None


def _tool_call(call: ast.Call) -> ToolCall:
    name = _dotted_name(call.func)
    if name is None:
        raise CallParseError(labels.INVALID_PYTHON_CALL, "the callee is not a (dotted) name")
    return ToolCall(name=name, arguments=_keyword_arguments(call))


def _keyword_arguments(call: ast.Call) -> dict[str, Any]:
    arguments: dict[str, Any] = {}
    for keyword in call.keywords:
        if keyword.arg is None:
            raise CallParseError(labels.INVALID_PYTHON_CALL, "**kwargs cannot be read")
        if keyword.arg in arguments:
            raise CallParseError(labels.INVALID_PYTHON_CALL, f"{keyword.arg!r} repeated")
        arguments[keyword.arg] = _value(keyword.value)
    return arguments


def _dotted_name(node: ast.expr) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def _value(node: ast.expr) -> Any:
    if isinstance(node, ast.Constant):
        return _constant(node.value)
    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        return [_value(element) for element in node.elts]
    if isinstance(node, ast.Dict):
        return _dict(node)
    if isinstance(node, ast.UnaryOp):
        return _signed_number(node)
    if isinstance(node, ast.Name | ast.Attribute):
        return ast.unparse(node)
    if isinstance(node, ast.Call) and _dotted_name(node.func) is not None and not node.args:
        if not node.keywords:
            return ast.unparse(node)
        nested = _tool_call(node)
        return {nested.name: nested.arguments}
    raise CallParseError(
        labels.INVALID_PYTHON_CALL, f"{type(node).__name__} is not a literal value"
    )


def _constant(value: Any) -> Any:
    if value is Ellipsis:
        return "..."
    if isinstance(value, float) and not math.isfinite(value):
        raise CallParseError(labels.INVALID_PYTHON_CALL, "non-finite float")
    if value is None or isinstance(value, str | int | float):  # bool is an int
        return value
    raise CallParseError(labels.INVALID_PYTHON_CALL, f"{type(value).__name__} is not JSON")


def _dict(node: ast.Dict) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key_node, value_node in zip(node.keys, node.values, strict=True):
        if not (isinstance(key_node, ast.Constant) and isinstance(key_node.value, str)):
            raise CallParseError(labels.INVALID_PYTHON_CALL, "dict keys must be strings")
        result[key_node.value] = _value(value_node)
    return result


def _signed_number(node: ast.UnaryOp) -> int | float:
    operand = node.operand
    if (
        isinstance(node.op, ast.USub | ast.UAdd)
        and isinstance(operand, ast.Constant)
        and isinstance(operand.value, int | float)
        and not isinstance(operand.value, bool)
    ):
        number: int | float = _constant(operand.value)
        return -number if isinstance(node.op, ast.USub) else number
    raise CallParseError(labels.INVALID_PYTHON_CALL, "only signed numbers may carry an operator")
