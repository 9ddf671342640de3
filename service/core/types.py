"""The value types shared by every core module.

Kept in one small module so parsing, schema, matching, metrics and rewards agree on shapes
without importing each other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any, Final


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One function call as predicted by a model: a name and decoded keyword arguments."""

    name: str
    arguments: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ParseResult:
    """What :func:`service.core.parsing.parse_calls` made of a prediction.

    ``error`` is ``None`` when the prediction is well formed (possibly with zero calls, i.e. a
    plain answer); otherwise an ``area:reason`` label such as ``parse:invalid_json``.
    ``form`` names the recognised shape (``hermes``, ``json``, ``python``, ``openai``,
    ``structured``, ``text``). ``content`` is the text outside tool-call markup and
    ``reasoning`` the text of a leading ``<think>`` block, when present.
    """

    calls: tuple[ToolCall, ...]
    error: str | None = None
    form: str = "text"
    content: str | None = None
    reasoning: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool schema normalised from any supported form.

    ``parameters`` maps each parameter name to its JSON Schema; ``required`` is the set of
    parameters a call must supply; ``json_schema`` is the whole object schema used to validate
    a call's arguments (``additionalProperties: false``). ``validator_key`` is the canonical
    JSON of that schema without annotations, the key under which its compiled validator is
    cached (empty for a spec built by hand: it is then computed when needed).
    """

    name: str
    description: str
    parameters: Mapping[str, Mapping[str, Any]]
    required: frozenset[str]
    json_schema: Mapping[str, Any]
    validator_key: bytes = field(default=b"", compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class ReferenceCall:
    """One expected call. ``params`` maps a parameter to its acceptable values.

    For an exact reference each tuple holds one value. In BFCL possible answers ``""`` among
    the values means the parameter may be omitted.
    """

    name: str
    params: Mapping[str, tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class Reference:
    """Ground truth for one item: expected calls (empty means "no call should be made").

    ``exact`` is true for exact calls (one value per parameter) and false for BFCL possible
    answers. Exact references compare strings as written unless ``standardise_strings`` opts
    them into BFCL's standardisation; possible answers always use it. ``any_call`` marks a
    relevance item (BFCL's ``live_relevance``): no particular call is expected, but some call to
    an offered tool is; ``calls`` is then empty.
    """

    calls: tuple[ReferenceCall, ...]
    exact: bool = True
    standardise_strings: bool = False
    any_call: bool = False

    @property
    def expects_no_call(self) -> bool:
        return not self.calls and not self.any_call


@dataclass(frozen=True, slots=True)
class MatchResult:
    """Verdict of matching predicted calls against a reference (BFCL-compatible).

    ``pairs`` holds ``(predicted_index, reference_index)`` of the optimal assignment;
    ``error`` is an ``area:reason`` label when ``valid`` is false.
    """

    valid: bool
    error: str | None = None
    pairs: tuple[tuple[int, int], ...] = field(default_factory=tuple)


# Each dataclass's serialiser, generated once per type (as ``dataclasses`` generates
# ``__init__``): one dict display reading every field, so serialising a result costs what a
# hand-written ``to_dict`` would, without one to keep in step with the fields.
_SERIALISERS: dict[type, Callable[[Any], dict[str, Any]]] = {}
# Values that are JSON data as they are (the common case: checked inline, without a call).
_PLAIN_TYPES: Final = frozenset({str, int, float, bool, type(None)})


def to_json_data(value: Any) -> Any:
    """``value`` as JSON-ready data: a dataclass (these types) becomes a dict of its fields,
    recursively; a tuple or list a list; a mapping a plain dict of its values (decoded JSON
    already, such as a call's arguments); anything else is kept.

    The one serialiser of the result types, so a field added to a type is serialised with it.

    Args:
        value: A result (e.g. a metrics ``ItemScore``) or any value inside one.

    Returns:
        Dicts, lists and the values they held.

    Example:
        >>> to_json_data(ParseResult(calls=(ToolCall("f", {"x": [1, 2]}),)))
        {'calls': [{'name': 'f', 'arguments': {'x': [1, 2]}}], 'error': None, 'form': 'text', \
'content': None, 'reasoning': None}
    """
    kind = type(value)
    if kind in _PLAIN_TYPES:
        return value
    if kind is dict:
        return dict(value)
    serialiser = _SERIALISERS.get(kind)
    if serialiser is not None:
        return serialiser(value)
    if kind is tuple or kind is list:
        return [to_json_data(item) for item in value]
    if isinstance(value, Mapping):
        return dict(value)
    if is_dataclass(kind):
        return _SERIALISERS.setdefault(kind, _generate_serialiser(kind))(value)
    return value


def _generate_serialiser(kind: type) -> Callable[[Any], dict[str, Any]]:
    # Field names are identifiers (a dataclass's own), so the source below is well formed.
    entries = ", ".join(
        f"{item.name!r}: (_v if type(_v := value.{item.name}) in _PLAIN else _convert(_v))"
        for item in fields(kind)
    )
    namespace: dict[str, Any] = {"_PLAIN": _PLAIN_TYPES, "_convert": to_json_data}
    exec(f"def serialise(value):\n    return {{{entries}}}\n", namespace)
    serialise: Callable[[Any], dict[str, Any]] = namespace["serialise"]
    return serialise
