"""Ground truth in any supported form, normalised into :class:`Reference`.

Accepted forms (each also as a JSON string, as xLAM's ``answers`` field ships them):

* **exact calls** ``[{"name", "arguments"}]`` (``parameters`` accepted for ``arguments``;
  arguments an object or a JSON string; OpenAI ``{"type": "function", "function": {...}}``
  accepted too): every value becomes a 1-tuple and ``exact=True``;
* **BFCL possible answers** ``[{function_name: {param: [acceptable values...]}}]``: each value
  list is kept as a tuple, as-is (``""`` among the values means "may be omitted"; matching
  interprets it), ``exact=False``;
* **no call**: ``[]``, ``None``, ``""`` (or only whitespace);
* **any call** ``{"any_call": true}``: a relevance item (BFCL's ``live_relevance``), where any
  call to an offered tool is right and which call is not judged (see
  :mod:`service.core.metrics`);
* a single call object or possible-answer entry on its own, as a one-call reference.

Exact calls and possible answers cannot be mixed in one reference. Anything else raises
:class:`~service.core.errors.InvalidReferenceError`, labelled ``reference:invalid_json``,
``reference:invalid_format``, ``reference:invalid_call``, ``reference:invalid_name``,
``reference:invalid_arguments``, ``reference:invalid_possible_answer``,
``reference:mixed_forms`` or ``reference:invalid_any_call``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from functools import lru_cache
from typing import Any, Final

import orjson

from service.core.errors import InvalidReferenceError
from service.core.parsing.call_objects import is_mapping
from service.core.parsing.json_text import NOT_JSON, decode_json, kept_bytes
from service.core.types import Reference, ReferenceCall

__all__ = [
    "ANY_CALL",
    "ANY_CALL_KEY",
    "NO_CALL",
    "STRING_MATCH_MODES",
    "apply_string_match",
    "normalise_reference",
]

NO_CALL: Final = Reference(calls=(), exact=True)
"""The reference of an item where no call should be made."""

ANY_CALL_KEY: Final = "any_call"
"""The one key of an any-call reference, ``{"any_call": true}``."""

ANY_CALL: Final = Reference(calls=(), exact=True, any_call=True)
"""The reference of a relevance item: some call to an offered tool should be made."""

_PARAM: Final = "reference"

STRING_MATCH_MODES: Final = ("exact", "bfcl")
"""How exact references compare strings: as written (default) or by BFCL's standardisation."""


def normalise_reference(reference: Any) -> Reference:
    """Normalise ground truth (exact calls, BFCL possible answers or no-call) to a Reference.

    Args:
        reference: A list (or JSON string of a list) of exact calls or of BFCL possible
            answers; ``[]``, ``None`` or ``""`` for "no call"; ``{"any_call": true}`` for "any
            call to an offered tool"; or a :class:`Reference`.

    Returns:
        The :class:`Reference`: ``exact=True`` with 1-tuples for exact calls, ``exact=False``
        with the acceptable values as tuples for possible answers.

    Raises:
        InvalidReferenceError: The reference is none of these (label ``reference:*``).

    Example:
        >>> normalise_reference('[{"name": "get_user", "arguments": "{\\\\"age\\\\": 30}"}]')
        Reference(calls=(ReferenceCall(name='get_user', params={'age': (30,)}),), exact=True, \
standardise_strings=False, any_call=False)
        >>> normalise_reference([{"get_weather": {"city": ["Paris", "paris"], "unit": ["", "C"]}}])
        Reference(calls=(ReferenceCall(name='get_weather', \
params={'city': ('Paris', 'paris'), 'unit': ('', 'C')}),), exact=False, standardise_strings=False, \
any_call=False)
        >>> normalise_reference(None).expects_no_call, normalise_reference("[]").expects_no_call
        (True, True)
        >>> normalise_reference('{"any_call": true}').any_call
        True
    """
    if isinstance(reference, str):
        return _normalise_text(reference)
    if isinstance(reference, Reference):
        return reference
    if isinstance(reference, bytes | bytearray):
        return _normalise_text(bytes(reference).decode("utf-8", errors="replace"))
    return _normalise_decoded_cached(reference)


_DECODED_CACHE: dict[bytes, tuple[Any, Reference]] = {}
# Bounded so a long-running reward service, which sees new references all the time, plateaus.
_DECODED_CACHE_LIMIT: Final = 4096
# Exact types only: a subclass, a dataclass or a date is not encoded, so it is never cached.
_KEY_OPTIONS: Final = (
    orjson.OPT_PASSTHROUGH_SUBCLASS
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
)


def apply_string_match(reference: Reference, string_match: str = "exact") -> Reference:
    """The reference with its string rule chosen by the request's ``string_match``.

    Exact references compare strings as written; ``"bfcl"`` opts them into BFCL's
    standardisation (case, spaces and ``,./-_*^`` ignored). BFCL possible answers always use
    BFCL's standardisation, so the mode leaves them unchanged.

    Args:
        reference: A normalised reference.
        string_match: ``"exact"`` or ``"bfcl"``.

    Returns:
        The reference, with ``standardise_strings`` set for ``"bfcl"`` on an exact reference.

    Raises:
        InvalidReferenceError: ``string_match`` is neither mode (label
            ``reference:unknown_string_match``).

    Example:
        >>> exact = normalise_reference([{"name": "f", "arguments": {"city": "Paris"}}])
        >>> apply_string_match(exact, "bfcl").standardise_strings
        True
        >>> apply_string_match(exact) is exact
        True
    """
    if string_match not in STRING_MATCH_MODES:
        raise InvalidReferenceError(
            f"unknown string_match {string_match!r}; expected one of {list(STRING_MATCH_MODES)}",
            label="reference:unknown_string_match",
            param="string_match",
        )
    wanted = string_match == "bfcl" and reference.exact
    if wanted == reference.standardise_strings:
        return reference
    return replace(reference, standardise_strings=wanted)


def _normalise_decoded_cached(reference: Any) -> Reference:
    """:func:`_normalise_decoded`, remembered per distinct decoded reference.

    A service decodes a fresh copy of the same label per request, so identity cannot be the
    key. The key is the reference's JSON (key order kept; ``1``, ``1.0`` and ``true`` apart).
    What is remembered is a private copy decoded from that key, normalised: it equals the
    caller's reference with the same types (else nothing is cached: a tuple, a NaN), and it
    cannot change later, since no caller holds it. A hit needs the key and ``==`` with the
    copy, which together admit only references that normalise identically.
    """
    try:
        key = orjson.dumps(reference, option=_KEY_OPTIONS)
    except orjson.JSONEncodeError:  # not plain JSON data (e.g. > 64-bit integers): no cache
        return _normalise_decoded(reference)
    known = _DECODED_CACHE.get(key)
    if known is not None and known[0] == reference:
        return known[1]
    private_copy = orjson.loads(key)
    if private_copy != reference:  # a tuple for a list, a NaN: normalise it as it is
        return _normalise_decoded(reference)
    normalised = _normalise_decoded(private_copy)
    if len(_DECODED_CACHE) >= _DECODED_CACHE_LIMIT:
        _DECODED_CACHE.clear()
    _DECODED_CACHE[kept_bytes(key)] = (private_copy, normalised)
    return normalised


@lru_cache(maxsize=4096)
def _normalise_text(text: str) -> Reference:
    # Cached: a training run scores every completion of a prompt against the same label
    # string. The Reference is shared between callers: treat it as read-only.
    return _normalise_decoded(_decoded(text))


def _normalise_decoded(reference: Any) -> Reference:
    if reference is None:
        return NO_CALL
    if isinstance(reference, list | tuple):
        entries: Sequence[Any] = reference
    elif is_mapping(reference):
        if ANY_CALL_KEY in reference:
            return _any_call(reference)
        entries = [reference]
    else:
        raise _error(
            "reference:invalid_format",
            f"a reference is a list of calls or possible answers, not {type(reference).__name__}",
        )
    if not entries:
        return NO_CALL
    calls: list[ReferenceCall] = []
    exact = True
    for index, entry in enumerate(entries):
        call, call_is_exact = _reference_call(index, entry)
        if index == 0:
            exact = call_is_exact
        elif call_is_exact != exact:
            raise _error(
                "reference:mixed_forms", "a reference mixes exact calls and BFCL possible answers"
            )
        calls.append(call)
    return Reference(calls=tuple(calls), exact=exact)


def _any_call(reference: Mapping[Any, Any]) -> Reference:
    if len(reference) != 1 or reference[ANY_CALL_KEY] is not True:
        raise _error(
            "reference:invalid_any_call",
            'an any-call reference is exactly {"any_call": true}, with no other keys',
        )
    return ANY_CALL


def _decoded(text: str) -> Any:
    if not text.strip():
        return None
    decoded = decode_json(text)
    if decoded is NOT_JSON:
        raise _error("reference:invalid_json", "the reference string is not valid JSON")
    if isinstance(decoded, str):
        raise _error("reference:invalid_format", "the reference decodes to a string, not calls")
    return decoded


def _reference_call(index: int, entry: Any) -> tuple[ReferenceCall, bool]:
    """The entry as a ReferenceCall and whether it is an exact call."""
    if not is_mapping(entry):
        raise _error("reference:invalid_call", f"reference[{index}] is not an object")
    if "function" in entry and "name" not in entry and is_mapping(entry["function"]):
        entry = entry["function"]
    if isinstance(entry.get("name"), str) or _is_call_object(entry):
        return _exact_call(index, entry), True
    if len(entry) == 1:
        return _possible_answer(index, entry), False
    raise _error(
        "reference:invalid_call",
        f"reference[{index}] is neither a call {{name, arguments}} nor {{function: {{...}}}}",
    )


def _is_call_object(entry: Mapping[Any, Any]) -> bool:
    return "name" in entry and ("arguments" in entry or "parameters" in entry)


def _exact_call(index: int, entry: Mapping[Any, Any]) -> ReferenceCall:
    name = _checked_name(index, entry["name"])
    arguments = entry.get("arguments", entry.get("parameters"))
    if isinstance(arguments, str):
        decoded = decode_json(arguments) if arguments.strip() else {}
        if decoded is NOT_JSON:
            raise _error(
                "reference:invalid_arguments", f"reference[{index}] arguments are not JSON"
            )
        arguments = decoded
    if arguments is None:
        arguments = {}
    if not is_mapping(arguments) or not all(isinstance(k, str) for k in arguments):
        raise _error(
            "reference:invalid_arguments",
            f"reference[{index}] arguments must be an object with string keys",
        )
    return ReferenceCall(name=name, params={key: (value,) for key, value in arguments.items()})


def _possible_answer(index: int, entry: Mapping[Any, Any]) -> ReferenceCall:
    ((name, params),) = entry.items()
    name = _checked_name(index, name)
    if not is_mapping(params):
        raise _error(
            "reference:invalid_possible_answer",
            f"reference[{index}] possible answer for {name!r} must map parameters to values",
        )
    acceptable: dict[str, tuple[Any, ...]] = {}
    for param, values in params.items():
        if not isinstance(param, str) or not isinstance(values, list | tuple):
            raise _error(
                "reference:invalid_possible_answer",
                f"reference[{index}] {name}.{param}: acceptable values must be a list",
            )
        acceptable[param] = tuple(values)
    return ReferenceCall(name=name, params=acceptable)


def _checked_name(index: int, name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise _error("reference:invalid_name", f"reference[{index}] function name must be a string")
    return name


def _error(label: str, message: str) -> InvalidReferenceError:
    return InvalidReferenceError(message, label=label, param=_PARAM)
