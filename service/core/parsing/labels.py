"""The ``parse:*`` labels a :class:`~service.core.types.ParseResult` can carry.

One place for the vocabulary so reports, tests and docs agree on the spelling.
"""

from __future__ import annotations

from typing import Final

NO_CALL_FOUND: Final = "parse:no_call_found"
"""Calls were expected but none were made. The parser itself never returns it: a prediction
without call markup parses as a plain answer (zero calls, no error), and scoring applies this
label when the reference expected calls."""

INVALID_JSON: Final = "parse:invalid_json"
"""Call markup (a ``<tool_call>`` block, a prediction that starts with ``{``/``[``, or a
``"name":`` key in prose) whose JSON does not decode."""

UNTERMINATED_TOOL_CALL: Final = "parse:unterminated_tool_call"
"""A ``<tool_call>`` block without ``</tool_call>`` that cannot be read as a call: the last
block with undecodable JSON, or any block followed by another ``<tool_call>``."""

EMPTY_TOOL_CALL: Final = "parse:empty_tool_call"
"""A ``<tool_call>`` block holding only whitespace."""

UNMATCHED_TOOL_CALL_TAG: Final = "parse:unmatched_tool_call_tag"
"""A ``</tool_call>`` with no ``<tool_call>`` before it."""

NOT_A_CALL_OBJECT: Final = "parse:not_a_call_object"
"""Decoded call markup that is not a call: a list inside one ``<tool_call>`` block, a number
among a list of calls, an object with ``"name"`` but no ``"arguments"``, and the like."""

INVALID_NAME: Final = "parse:invalid_name"
"""A call whose ``name`` is not a non-empty string."""

INVALID_ARGUMENTS: Final = "parse:invalid_arguments"
"""A call whose arguments are not an object (or a JSON string that decodes to one)."""

INVALID_PYTHON_CALL: Final = "parse:invalid_python_call"
"""Python call syntax that :mod:`ast` rejects or that holds more than literals (arithmetic,
lambdas, comprehensions, ``**kwargs``, repeated keywords, non-finite floats, ...)."""

POSITIONAL_ARGUMENT: Final = "parse:positional_argument"
"""A Python-syntax call passing an argument by position: its parameter name is unknown."""

UNSUPPORTED_TYPE: Final = "parse:unsupported_type"
"""A prediction that is not text, a list, a mapping, bytes or ``None`` (e.g. a number)."""

TOO_DEEP: Final = "parse:too_deep"
"""A structure nested beyond what the parser follows (a safety net; JSON and Python nesting
limits normally surface as ``invalid_json`` / ``invalid_python_call``)."""

INTERNAL_ERROR: Final = "parse:internal_error"
"""A bug in the parser caught by the never-raise safety net; tests assert it never occurs."""
