"""BFCL-compatible value and call matching: the one rule set behind metrics and rewards.

The anchor is BFCL's AST checker (``bfcl_eval/eval_checker/ast_eval/ast_checker.py``,
bfcl-eval 2026.3.23). For BFCL possible answers (``Reference.exact`` false) its rules are kept:

- the function name must match exactly;
- every parameter the schema requires must be present, no parameter outside the schema or the
  answer may appear, and every answer parameter without ``""`` among its values must appear
  (``""`` means "may be omitted");
- types follow the declared schema: an int is accepted for a ``number`` (BFCL ``float``) at the
  top level only, ``"5"`` is not an integer, ``5.0`` is not an integer, ``true`` is not an
  integer; arrays get one level of element typing;
- when the answer's values have another type than the schema declares, the answer wins: a
  value of the answer's type is accepted and compared as is (BFCL's "variable" rule);
- strings are compared after BFCL's standardisation (spaces and ``,./-_*^`` removed,
  lower-cased, ``'`` → ``"``), also inside lists and dicts one level deep; lists are
  order-sensitive; dicts are compared key by key against the answer's per-key values.

Deviations from BFCL, deliberate and tested (``tests/service/core/test_bfcl_differential.py``
classifies every disagreement with BFCL's checker into one of these):

1. **Optimal assignment for several calls.** BFCL pairs parallel calls greedily (each expected
   call takes the first predicted call that fits), so a valid reordering can fail. Here the
   call list is valid when a perfect matching between predicted and expected calls exists.
2. **``any`` means any type.** BFCL checks an ``any`` parameter (and ``any`` array elements)
   as a string. Here a value of any type is accepted and compared as if the parameter were
   declared with the value's own type. A boolean never equals a number (Python's
   ``True == 1`` would let ``true`` pass for an answer ``[1]``).
3. **Exact references** (``Reference.exact``: xLAM-style ``{"name", "arguments"}``, which BFCL
   has no notion of) hold one acceptable value per parameter, written by whoever made the
   data, not for BFCL's standardisation. A value matches when it equals that value as
   written: strings character for character after Unicode NFC, numbers numerically
   (``5 == 5.0``; a boolean is never a number), lists in order, dicts by keys; the schema's
   types are not consulted, ``""`` is a literal empty string and every reference parameter
   is expected. Against plain canonical-JSON equality (sorted keys, equal text) this only
   adds ``5`` vs ``5.0`` and NFC-equivalent spellings. BFCL's standardisation would accept
   ``19.216.811`` for the address ``192.168.1.1``; a request opts exact references into it
   with ``string_match="bfcl"`` (``Reference.standardise_strings``,
   :attr:`ValueRule.EXACT_STANDARDISED`).
4. **Robustness.** Where BFCL would raise on malformed answers (a dict answer for a list
   parameter, an ``array`` without ``items``), the value simply does not match (or, for a
   missing ``items``, element types are not checked). Python tuples count as lists everywhere
   (BFCL converts them only for ``tuple`` parameters).

There is no category dispatch: one expected call is checked like BFCL's simple and multiple
categories, several like its parallel ones.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Final, NamedTuple

from service.core.assignment import best_assignment
from service.core.types import MatchResult, Reference, ReferenceCall, ToolCall, ToolSpec

__all__ = [
    "ArgumentOverlap",
    "CallJudgement",
    "ValueRule",
    "argument_overlap",
    "check_call",
    "judge_calls",
    "match_calls",
    "match_value",
    "standardise_string",
    "value_rule",
]

_NONE_TYPE: Final = type(None)
_JSON_TYPES: Final[Mapping[str, type]] = {
    "string": str,
    "integer": int,
    "number": float,
    "boolean": bool,
    "array": list,
    "object": dict,
    "null": _NONE_TYPE,
}
# BFCL's standardisation: drop " ,./-_*^", then lower-case; "'" becomes '"' (lower-casing
# never creates or removes a quote, so one translation table can do both).
_STANDARDISE_TABLE: Final = str.maketrans({**dict.fromkeys(" ,./-_*^"), "'": '"'})
_STANDARDISED: dict[str, str] = {}
# Entries per memo table before it is emptied. A reward service sees new tools and references
# with every request; its memory must plateau (measured by bench/http_reward.py --memory).
_CACHE_LIMIT: Final = 4096

_TYPE_MISMATCH: Final = "match:type_mismatch"


class ValueRule(IntEnum):
    """How a reference's values are compared (see the module docstring)."""

    BFCL = 0
    """BFCL possible answers: BFCL's type rules and string standardisation."""
    EXACT = 1
    """Exact references: values as written (strings after Unicode NFC, numbers by value)."""
    EXACT_STANDARDISED = 2
    """Exact references opted into BFCL's string standardisation (``string_match="bfcl"``)."""


def value_rule(reference: Reference) -> ValueRule:
    """The value rule a reference's kind (and its ``standardise_strings`` opt-in) calls for.

    Args:
        reference: A normalised reference.

    Returns:
        :attr:`ValueRule.BFCL` for possible answers, else :attr:`ValueRule.EXACT` or, when
        the reference opted in, :attr:`ValueRule.EXACT_STANDARDISED`.

    Example:
        >>> value_rule(Reference((ReferenceCall("f", {"x": (1,)}),)))
        <ValueRule.EXACT: 1>
        >>> value_rule(Reference((ReferenceCall("f", {"x": (1,)}),), standardise_strings=True))
        <ValueRule.EXACT_STANDARDISED: 2>
    """
    if not reference.exact:
        return ValueRule.BFCL
    return ValueRule.EXACT_STANDARDISED if reference.standardise_strings else ValueRule.EXACT


_VALUE_MISMATCH: Final = "match:value_mismatch"


def standardise_string(text: str) -> str:
    """BFCL's string standardisation (``standardize_string`` in its AST checker).

    Args:
        text: any string.

    Returns:
        ``text`` without spaces and ``,./-_*^``, lower-cased, with ``'`` replaced by ``"``.

    Example:
        >>> standardise_string("New York, NY")
        'newyorkny'
        >>> standardise_string("It's 3.5-4")
        'it"s354'
    """
    standardised = _STANDARDISED.get(text)
    if standardised is None:
        standardised = text.translate(_STANDARDISE_TABLE).lower()
        if len(_STANDARDISED) >= _CACHE_LIMIT:
            _STANDARDISED.clear()
        _STANDARDISED[text] = standardised
    return standardised


# --------------------------------------------------------------------------------------------
# Declared types, precomputed once per schema
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _DeclaredType:
    """What a parameter schema says about a value's type, in BFCL's terms.

    ``types`` is empty for "any"; one type for a plain declaration; several for a JSON Schema
    union. ``element`` is the declared element type of an array (None: unchecked).
    """

    types: tuple[type, ...]
    element: type | None = None


_ANY: Final = _DeclaredType(types=())


def _declared_type(schema: Mapping[str, Any] | None) -> _DeclaredType:
    if not schema:
        return _ANY
    declared = schema.get("type")
    names = declared if isinstance(declared, list) else [declared]
    types = tuple(
        _JSON_TYPES[name] for name in names if isinstance(name, str) and name in _JSON_TYPES
    )
    if not types:
        return _ANY
    element: type | None = None
    items = schema.get("items")
    if types == (list,) and isinstance(items, Mapping):
        element_type = _declared_type(items).types
        element = element_type[0] if len(element_type) == 1 else None
    return _DeclaredType(types=types, element=element)


# id(spec) -> (spec, {parameter: declared type}); the spec is held so its id is not reused.
_DECLARED_BY_SPEC: dict[int, tuple[ToolSpec, dict[str, _DeclaredType]]] = {}


def _declared_types(spec: ToolSpec) -> dict[str, _DeclaredType]:
    entry = _DECLARED_BY_SPEC.get(id(spec))
    if entry is not None and entry[0] is spec:
        return entry[1]
    declared = {name: _declared_type(schema) for name, schema in spec.parameters.items()}
    if len(_DECLARED_BY_SPEC) >= _CACHE_LIMIT:
        _DECLARED_BY_SPEC.clear()
    _DECLARED_BY_SPEC[id(spec)] = (spec, declared)
    return declared


# --------------------------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------------------------


def match_value(
    value: Any,
    acceptable: tuple[Any, ...],
    param_schema: Mapping[str, Any] | None,
    *,
    exact: bool = False,
    standardise_strings: bool = False,
) -> bool:
    """Whether ``value`` matches one of the acceptable values of a parameter.

    Args:
        value: the predicted value (decoded JSON; tuples count as lists).
        acceptable: the reference's acceptable values (BFCL possible answers, or one value
            for an exact reference).
        param_schema: the parameter's JSON Schema (from :class:`ToolSpec`), or None when the
            tool or parameter is not declared (no type constraint).
        exact: True for an exact reference (see the module docstring, deviation 3).
        standardise_strings: With ``exact``, compare strings after BFCL's standardisation
            instead of as written.

    Returns:
        True when the value is acceptable.

    Example:
        >>> match_value(5, (5.0,), {"type": "number"})
        True
        >>> match_value("5", (5,), {"type": "integer"})
        False
        >>> match_value("new york", ("New York",), {"type": "string"})
        True
        >>> match_value(5.0, (5,), {"type": "integer"}, exact=True)
        True
        >>> match_value("new york", ("New York",), None, exact=True)
        False
        >>> match_value("new york", ("New York",), None, exact=True, standardise_strings=True)
        True
    """
    if not exact:
        rule = ValueRule.BFCL
    elif standardise_strings:
        rule = ValueRule.EXACT_STANDARDISED
    else:
        rule = ValueRule.EXACT
    return _check_value(value, acceptable, _declared_type(param_schema), rule) is None


# Plain immutable scalars: a verdict on one of these against an all-scalar tuple of acceptable
# values can never go stale.
_SCALAR_TYPES: Final = frozenset({str, int, float, bool, type(None)})
_MEMO_MAX_CHARS: Final = 256
_MEMO_PER_ANSWER: Final = 1024
# id(acceptable) -> (acceptable, {(value type, value, declared types, element, rule): verdict});
# the tuple is held so its id cannot be reused, and only all-scalar tuples are remembered.
_VERDICTS_BY_ANSWER: dict[int, tuple[tuple[Any, ...], dict[tuple[Any, ...], str | None]]] = {}


def _check_value(
    value: Any, acceptable: tuple[Any, ...], declared: _DeclaredType, rule: ValueRule
) -> str | None:
    """None when ``value`` matches, else ``match:type_mismatch`` or ``match:value_mismatch``.

    Verdicts on scalars are remembered per tuple of acceptable values (the samples of one
    prompt, and the candidates of one item, repeat most values).
    """
    value_type = type(value)
    if value_type not in _SCALAR_TYPES or (value_type is str and len(value) > _MEMO_MAX_CHARS):
        return _judge_value(value, acceptable, declared, rule)
    entry = _VERDICTS_BY_ANSWER.get(id(acceptable))
    if entry is None or entry[0] is not acceptable:
        if not all(type(option) in _SCALAR_TYPES for option in acceptable):
            return _judge_value(value, acceptable, declared, rule)
        if len(_VERDICTS_BY_ANSWER) >= _CACHE_LIMIT:
            _VERDICTS_BY_ANSWER.clear()
        entry = _VERDICTS_BY_ANSWER[id(acceptable)] = (acceptable, {})
    verdicts = entry[1]
    key = (value_type, value, declared.types, declared.element, rule)
    if key in verdicts:
        return verdicts[key]
    verdict = _judge_value(value, acceptable, declared, rule)
    if len(verdicts) < _MEMO_PER_ANSWER:
        verdicts[key] = verdict
    return verdict


def _judge_value(
    value: Any, acceptable: tuple[Any, ...], declared: _DeclaredType, rule: ValueRule
) -> str | None:
    try:
        if rule is not ValueRule.BFCL:
            standardise = rule is ValueRule.EXACT_STANDARDISED
            matched = any(_equal_exact(value, option, standardise) for option in acceptable)
            return None if matched else _VALUE_MISMATCH
        return _check_bfcl_value(value, acceptable, declared)
    except (RecursionError, OverflowError):
        # Model output nested beyond Python's recursion limit, or an integer too large for a
        # float, equals no acceptable value; scoring never raises on model output.
        return _VALUE_MISMATCH


def _check_bfcl_value(
    value: Any, acceptable: tuple[Any, ...], declared: _DeclaredType
) -> str | None:
    """BFCL's type check, then its value check for the expected type."""
    value_type = type(value)
    if value_type is tuple:
        value, value_type = list(value), list
    types = declared.types
    if len(types) == 1:
        expected = types[0]
        if expected is float and value_type is int:
            value, value_type = float(value), float  # BFCL's int → float, top level only
    else:
        expected, value = _expected_type(value, declared)
        value_type = type(value)
    answer_type = None
    for option in acceptable:  # the type of the first acceptable value that is not ""
        if option != "":
            answer_type = list if type(option) is tuple else type(option)
            break
    if expected is str and value_type is str and answer_type in (str, None):
        # The most common case, inlined: a string compared after standardisation.
        target = standardise_string(value)
        for option in acceptable:
            if type(option) is str and standardise_string(option) == target:
                return None
        return _VALUE_MISMATCH
    if value_type is expected:
        element = declared.element
        if element is not None and not _elements_typed(value, acceptable, element):
            return _TYPE_MISMATCH
        if answer_type is not None and answer_type is not expected:
            # BFCL's "variable" rule: the answer's own type wins; values compared as they are.
            return None if _contains(acceptable, value) else _VALUE_MISMATCH
    elif answer_type is not None and value_type is answer_type:
        return None if _contains(acceptable, value) else _VALUE_MISMATCH
    else:
        return _TYPE_MISMATCH
    if expected is str:
        matched = _string_matches(value, acceptable)
    elif expected is dict:
        matched = _dict_matches(value, acceptable)
    elif expected is list:
        # Under "any" the elements speak for themselves: a list of dicts is checked as one.
        element = declared.element if types else _uniform_element_type(value)
        if element is dict:
            matched = _list_of_dicts_matches(value, acceptable)
        else:
            matched = _list_matches(value, acceptable)
    else:
        matched = _contains(acceptable, value)
    return None if matched else _VALUE_MISMATCH


def _contains(acceptable: tuple[Any, ...], value: Any) -> bool:
    """``value in acceptable`` where a boolean never equals a number (``True == 1`` in Python)."""
    is_bool = type(value) is bool
    return any(option == value and (type(option) is bool) is is_bool for option in acceptable)


def _expected_type(value: Any, declared: _DeclaredType) -> tuple[type[Any], Any]:
    """For "any" and unions: the type expected of ``value``, and the value (int → float)."""
    types = declared.types
    value_type = type(value)
    if not types:
        return value_type, value  # deviation 2: "any" accepts the value's own type
    if value_type in types:
        expected = value_type
    elif value_type is int and float in types:
        expected = float
    else:
        expected = types[0]
    if expected is float and value_type is int:
        return float, float(value)  # BFCL: Python's int → float promotion, top level only
    return expected, value


def _answer_type(acceptable: Sequence[Any]) -> type | None:
    """Type of the first acceptable value that is not ``""`` (None if there is none)."""
    for option in acceptable:
        if option != "":
            return list if type(option) is tuple else type(option)
    return None


def _uniform_element_type(values: list[Any]) -> type | None:
    if values and all(type(item) is dict for item in values):
        return dict
    return None


def _elements_typed(values: list[Any], acceptable: tuple[Any, ...], element: type) -> bool:
    """BFCL's one-level element typing: some acceptable list types every element.

    An acceptable value that is not a list (``""``, a variable name) imposes nothing.
    """
    for option in acceptable:
        if not isinstance(option, list | tuple):
            return True
        option_type = _answer_type(option)
        if all(type(item) is element or type(item) is option_type for item in values):
            return True
    return False


def _standardised_scalar(value: Any) -> Any:
    return standardise_string(value) if type(value) is str else value


def _string_matches(value: str, acceptable: tuple[Any, ...]) -> bool:
    target = standardise_string(value)
    return any(
        type(option) is str and standardise_string(option) == target for option in acceptable
    )


def _list_matches(values: list[Any], acceptable: tuple[Any, ...]) -> bool:
    standardised = [_standardised_scalar(item) for item in values]
    for option in acceptable:
        # BFCL iterates an acceptable "" as the empty list.
        if isinstance(option, list | tuple | str) and standardised == [
            _standardised_scalar(item) for item in option
        ]:
            return True
    return False


def _dict_matches(value: Mapping[str, Any], acceptable: Sequence[Any]) -> bool:
    """BFCL's dict rule: each key in some acceptable dict, each value among that key's values."""
    for option in acceptable:
        if not isinstance(option, Mapping):
            continue  # "" (the dict may be omitted) or a malformed answer
        if _dict_matches_option(value, option):
            return True
    return False


def _dict_matches_option(value: Mapping[str, Any], option: Mapping[str, Any]) -> bool:
    for key, item in value.items():
        if key not in option:
            return False
        key_options = option[key]
        if not isinstance(key_options, list | tuple):
            key_options = (key_options,)
        target = _standardised_scalar(item)
        if not any(_standardised_scalar(candidate) == target for candidate in key_options):
            return False
    for key, key_options in option.items():
        if key not in value and (
            not isinstance(key_options, list | tuple) or "" not in key_options
        ):
            return False
    return True


def _list_of_dicts_matches(values: list[Any], acceptable: tuple[Any, ...]) -> bool:
    for option in acceptable:
        if not isinstance(option, list | tuple | str) or len(option) != len(values):
            continue
        if all(
            isinstance(item, Mapping)
            and isinstance(item_option, Mapping)
            and _dict_matches_option(item, item_option)
            for item, item_option in zip(values, option, strict=True)
        ):
            return True
    return False


def _equal_exact(value: Any, reference: Any, standardise: bool) -> bool:
    """Equality for exact references, at every depth.

    Strings are equal character for character after Unicode NFC (or, with ``standardise``,
    after BFCL's standardisation); numbers by value (a boolean is never a number); lists in
    order; dicts by keys.
    """
    if type(value) is str:
        if type(reference) is not str:
            return False
        if standardise:
            return standardise_string(value) == standardise_string(reference)
        return value == reference or _nfc(value) == _nfc(reference)
    if type(value) is bool or type(reference) is bool:
        return type(value) is type(reference) and value == reference
    if isinstance(value, int | float):
        return isinstance(reference, int | float) and value == reference
    if isinstance(value, list | tuple):
        return (
            isinstance(reference, list | tuple)
            and len(value) == len(reference)
            and all(_equal_exact(a, b, standardise) for a, b in zip(value, reference, strict=True))
        )
    if isinstance(value, Mapping):
        return (
            isinstance(reference, Mapping)
            and value.keys() == reference.keys()
            and all(_equal_exact(item, reference[key], standardise) for key, item in value.items())
        )
    return bool(value == reference)


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


# --------------------------------------------------------------------------------------------
# Calls
# --------------------------------------------------------------------------------------------


class _PairReport(NamedTuple):
    """One predicted call weighed against one expected call of the same name.

    ``label`` is :func:`check_call`'s verdict; ``hits`` counts the arguments whose value is
    acceptable; ``expected`` counts the reference parameters this partner is held to (those
    that may not be omitted, plus omittable ones it supplied).
    """

    label: str | None
    hits: int
    expected: int


_NO_DECLARED_TYPES: Final[Mapping[str, _DeclaredType]] = {}


def _weigh_pair(
    call: ToolCall,
    wanted: ReferenceCall,
    spec: ToolSpec | None,
    rule: ValueRule,
    verdict_only: bool = False,
) -> _PairReport:
    """Evaluate every argument once; the label is the first failure in BFCL's order.

    With ``verdict_only`` the evaluation stops at the first failure (``hits`` and
    ``expected`` are then -1): what a bare verdict needs.
    """
    arguments = call.arguments
    params = wanted.params
    label: str | None = None
    declared_types = _NO_DECLARED_TYPES
    if spec is not None:
        declared_types = _declared_types(spec)
        if not arguments.keys() >= spec.required:
            if verdict_only:
                return _PairReport("match:missing_required", -1, -1)
            label = "match:missing_required"
    hits = 0
    for name, value in arguments.items():
        acceptable = params.get(name)
        declared = declared_types.get(name)
        if acceptable is None:
            label = label or "match:unexpected_param"
            if verdict_only:
                return _PairReport(label, -1, -1)
            continue
        if declared is None:
            if spec is not None:
                label = label or "match:unexpected_param"
            declared = _ANY
        value_label = _check_value(value, acceptable, declared, rule)
        if value_label is None:
            hits += 1
        elif label is None:
            label = value_label
        if verdict_only and label is not None:
            return _PairReport(label, -1, -1)
    expected = 0
    for name, acceptable in params.items():
        if name in arguments:
            expected += 1
        elif rule is not ValueRule.BFCL or "" not in acceptable:
            expected += 1
            label = label or "match:missing_param"
    return _PairReport(label, hits, expected)


class _PairTable:
    """Pair reports for one prediction and reference, computed lazily and at most once."""

    __slots__ = ("calls", "expected", "reports", "rule", "specs", "verdict_only")

    def __init__(
        self,
        calls: Sequence[ToolCall],
        reference: Reference,
        tools: Mapping[str, ToolSpec],
        *,
        verdict_only: bool = False,
    ) -> None:
        self.verdict_only = verdict_only
        self.calls = calls
        self.expected = reference.calls
        self.rule = value_rule(reference)
        self.specs = [tools.get(wanted.name) for wanted in self.expected]
        self.reports: dict[tuple[int, int], _PairReport | None] = {}

    def report(self, predicted: int, wanted: int) -> _PairReport | None:
        """None when the names differ."""
        key = (predicted, wanted)
        if key in self.reports:
            return self.reports[key]
        call, expected_call = self.calls[predicted], self.expected[wanted]
        report = None
        if call.name == expected_call.name:
            spec = self.specs[wanted]
            report = _weigh_pair(call, expected_call, spec, self.rule, self.verdict_only)
        self.reports[key] = report
        return report

    def label(self, predicted: int, wanted: int) -> str | None:
        report = self.report(predicted, wanted)
        return "match:wrong_name" if report is None else report.label


def check_call(
    call: ToolCall,
    expected: ReferenceCall,
    spec: ToolSpec | None,
    *,
    exact: bool = False,
    standardise_strings: bool = False,
) -> str | None:
    """Check one predicted call against one expected call (BFCL's simple-function check).

    Args:
        call: the predicted call.
        expected: the expected call with its acceptable values.
        spec: the expected tool's normalised schema, or None when it is not declared (then
            only the reference constrains parameters and values carry no declared type).
        exact: True for an exact reference (module docstring, deviation 3).
        standardise_strings: With ``exact``, compare strings after BFCL's standardisation.

    Returns:
        None when the call matches, else one of ``match:wrong_name``,
        ``match:missing_required`` (a parameter the schema requires), ``match:unexpected_param``
        (outside the schema or the answer), ``match:type_mismatch``, ``match:value_mismatch``,
        ``match:missing_param`` (an answer parameter that may not be omitted).

    Example:
        >>> from service.core.schema import normalise_tool
        >>> spec = normalise_tool({"name": "area", "parameters": {"type": "dict",
        ...     "properties": {"base": {"type": "integer"}, "unit": {"type": "string"}},
        ...     "required": ["base"]}})
        >>> expected = ReferenceCall("area", {"base": (10,), "unit": ("units", "")})
        >>> check_call(ToolCall("area", {"base": 10}), expected, spec) is None
        True
        >>> check_call(ToolCall("area", {"base": "10"}), expected, spec)
        'match:type_mismatch'
        >>> check_call(ToolCall("area", {"base": 10, "colour": "red"}), expected, spec)
        'match:unexpected_param'
    """
    if call.name != expected.name:
        return "match:wrong_name"
    reference = Reference((expected,), exact=exact, standardise_strings=standardise_strings)
    return _weigh_pair(call, expected, spec, value_rule(reference), verdict_only=True).label


def match_calls(
    calls: Sequence[ToolCall], reference: Reference, tools: Mapping[str, ToolSpec]
) -> MatchResult:
    """BFCL-compatible full verdict for a predicted call list.

    The counts must agree; each predicted call must match a distinct expected call; the
    pairing is found by bipartite matching (an optimal assignment), not BFCL's greedy scan.

    Args:
        calls: the predicted calls.
        reference: the ground truth (exact or BFCL possible answers; no calls = irrelevance;
            ``any_call``: relevance, valid when some call names a tool in ``tools``).
        tools: the declared tools by name (schemas of the *expected* tools are used).

    Returns:
        :class:`MatchResult` with ``valid``, an ``area:reason`` ``error``
        (``match:no_call_expected``, ``match:call_expected``,
        ``match:no_offered_tool_called``, ``match:wrong_count``, or the label of
        :func:`check_call` for the first call that found no partner) and ``pairs`` of
        ``(predicted_index, reference_index)`` that matched.

    Example:
        >>> reference = Reference((ReferenceCall("f", {"x": (1,)}),
        ...                        ReferenceCall("f", {"x": (2,)})), exact=False)
        >>> calls = [ToolCall("f", {"x": 2}), ToolCall("f", {"x": 1})]
        >>> match_calls(calls, reference, {})
        MatchResult(valid=True, error=None, pairs=((0, 1), (1, 0)))
        >>> match_calls(calls[:1], reference, {}).error
        'match:wrong_count'
    """
    return _verdict(calls, reference, tools, None)


# Shared immutable results for the common outcomes (MatchResult is frozen).
_VALID_SINGLE: Final = MatchResult(valid=True, pairs=((0, 0),))
_VALID_EMPTY: Final = MatchResult(valid=True)
_INVALID: dict[str, MatchResult] = {}


def _invalid(label: str) -> MatchResult:
    result = _INVALID.get(label)
    if result is None:
        result = _INVALID[label] = MatchResult(valid=False, error=label)
    return result


def _relevance_verdict(calls: Sequence[ToolCall], tools: Mapping[str, ToolSpec]) -> MatchResult:
    # BFCL's relevance check: any call is right, here provided it names an offered tool (what
    # its arguments are is not judged: no call was specified).
    if not calls:
        return _invalid("match:call_expected")
    if any(call.name in tools for call in calls):
        return _VALID_EMPTY
    return _invalid("match:no_offered_tool_called")


def _verdict(
    calls: Sequence[ToolCall],
    reference: Reference,
    tools: Mapping[str, ToolSpec],
    table: _PairTable | None,
) -> MatchResult:
    expected = reference.calls
    if not expected:
        if reference.any_call:
            return _relevance_verdict(calls, tools)
        return _invalid("match:no_call_expected") if calls else _VALID_EMPTY
    if len(calls) != len(expected):
        return _invalid("match:wrong_count")
    if len(expected) == 1:
        if table is not None:
            label = table.label(0, 0)
        elif calls[0].name != expected[0].name:
            label = "match:wrong_name"
        else:
            spec = tools.get(expected[0].name)
            label = _weigh_pair(calls[0], expected[0], spec, value_rule(reference), True).label
        return _VALID_SINGLE if label is None else _invalid(label)
    return _perfect_matching(table or _PairTable(calls, reference, tools, verdict_only=True))


def _perfect_matching(table: _PairTable) -> MatchResult:
    """Kuhn's augmenting paths: valid when every predicted call gets its own expected call."""
    count = len(table.calls)
    holder_of: list[int | None] = [None] * count

    def augment(predicted: int, visited: set[int]) -> bool:
        # The in-order partner is tried first: the common case costs one check per call.
        for wanted in (predicted, *range(predicted), *range(predicted + 1, count)):
            if wanted in visited or table.label(predicted, wanted) is not None:
                continue
            visited.add(wanted)
            holder = holder_of[wanted]
            if holder is None or augment(holder, visited):
                holder_of[wanted] = predicted
                return True
        return False

    unmatched = [predicted for predicted in range(count) if not augment(predicted, set())]
    pairs = tuple(
        sorted(
            (predicted, wanted)
            for wanted, predicted in enumerate(holder_of)
            if predicted is not None
        )
    )
    if not unmatched:
        return MatchResult(valid=True, pairs=pairs)
    first = unmatched[0]
    labels = [table.label(first, wanted) for wanted in range(count)]
    informative = [label for label in labels if label not in (None, "match:wrong_name")]
    error = informative[0] if informative else "match:wrong_name"
    return MatchResult(valid=False, error=error, pairs=pairs)


# --------------------------------------------------------------------------------------------
# Argument overlap (argument_f1 and the semantic reward)
# --------------------------------------------------------------------------------------------


class ArgumentOverlap(NamedTuple):
    """Counts of ``(parameter, value)`` units after pairing predicted and expected calls.

    Calls are paired by name (see :func:`argument_overlap`). For a pair, ``predicted`` counts
    the call's arguments, ``expected`` the reference parameters it is held to (those that may
    not be omitted, plus omittable ones it supplied) and ``true_positives`` the arguments
    matching their partner's acceptable values; a pair where both sides have nothing to say
    (an argument-free call rightly made) counts as one right unit. A call left without a
    partner counts its arguments, and at least one unit, on its side: so an extra call
    always costs precision and a dropped call always costs recall, even without arguments.
    ``unpaired_calls`` counts calls on either side left without a same-name partner.

    When a denominator is zero the rate is 1.0 for a perfect empty match (nothing predicted,
    nothing expected, every call paired: e.g. no call for an irrelevance item) and 0.0
    otherwise.

    A named tuple rather than a frozen dataclass: it is built once per scored item, and
    that is ~3× cheaper.
    """

    true_positives: int
    predicted: int
    expected: int
    unpaired_calls: int = 0

    @property
    def _empty_rate(self) -> float:
        perfect = self.predicted == 0 and self.expected == 0 and self.unpaired_calls == 0
        return 1.0 if perfect else 0.0

    @property
    def precision(self) -> float:
        return self.true_positives / self.predicted if self.predicted else self._empty_rate

    @property
    def recall(self) -> float:
        return self.true_positives / self.expected if self.expected else self._empty_rate

    @property
    def f1(self) -> float:
        precision, recall = self.precision, self.recall
        if precision + recall == 0:
            return 0.0
        return 2 * precision * recall / (precision + recall)


def argument_overlap(
    calls: Sequence[ToolCall], reference: Reference, tools: Mapping[str, ToolSpec]
) -> ArgumentOverlap:
    """Argument precision/recall/F1 of predicted calls against a reference.

    Calls are paired by name, as many pairs per name as both sides allow; when a name occurs
    several times the pairing maximises matching arguments, then minimises the units left
    unmatched (:func:`~service.core.assignment.best_assignment`), so the counts do not depend on the
    order of either side. An argument is correct when :func:`match_value` accepts it for its
    partner's parameter, by the reference kind's value rule (:func:`value_rule`).

    Args:
        calls: the predicted calls.
        reference: the ground truth.
        tools: the declared tools by name (for parameter types).

    Returns:
        :class:`ArgumentOverlap`.

    Example:
        >>> reference = Reference((ReferenceCall("book", {"city": ("Paris",), "nights": (3,),
        ...                                                "guests": (2,)}),))
        >>> overlap = argument_overlap(
        ...     [ToolCall("book", {"city": "Paris", "nights": 3.0, "guests": 4, "pool": True})],
        ...     reference, {})
        >>> overlap.true_positives, overlap.predicted, overlap.expected
        (2, 4, 3)
        >>> round(overlap.f1, 4)
        0.5714
        >>> dropped = Reference((ReferenceCall("now", {}), ReferenceCall("f", {"x": (1,)})))
        >>> round(argument_overlap([ToolCall("f", {"x": 1})], dropped, {}).f1, 4)
        0.6667
    """
    expected = reference.calls
    if len(calls) == 1 and len(expected) == 1:
        return _judge_single(calls[0], expected[0], tools, value_rule(reference)).overlap
    return _overlap(_PairTable(calls, reference, tools), None)


class CallJudgement(NamedTuple):
    """The full verdict and the argument overlap of one prediction, computed together."""

    match: MatchResult
    overlap: ArgumentOverlap


def judge_calls(
    calls: Sequence[ToolCall], reference: Reference, tools: Mapping[str, ToolSpec]
) -> CallJudgement:
    """:func:`match_calls` and :func:`argument_overlap` at once, weighing each pair once.

    Args:
        calls: the predicted calls.
        reference: the ground truth.
        tools: the declared tools by name.

    Returns:
        :class:`CallJudgement` equal to ``(match_calls(...), argument_overlap(...))``.

    Example:
        >>> reference = Reference((ReferenceCall("f", {"x": (1,), "y": ("a", "")}),))
        >>> judgement = judge_calls([ToolCall("f", {"x": 1, "y": "b"})], reference, {})
        >>> judgement.match.error, judgement.overlap.true_positives, judgement.overlap.expected
        ('match:value_mismatch', 1, 2)
    """
    expected = reference.calls
    if len(calls) == 1 and len(expected) == 1:
        return _judge_single(calls[0], expected[0], tools, value_rule(reference))
    table = _PairTable(calls, reference, tools)
    verdict = _verdict(calls, reference, tools, table)
    return CallJudgement(match=verdict, overlap=_overlap(table, verdict))


def _judge_single(
    call: ToolCall, wanted: ReferenceCall, tools: Mapping[str, ToolSpec], rule: ValueRule
) -> CallJudgement:
    """The most common item (one call expected, one made), without the pairing machinery."""
    if call.name != wanted.name:
        overlap = ArgumentOverlap(
            0, max(1, len(call.arguments)), max(1, _mandatory_count(wanted, rule)), 2
        )
        return CallJudgement(match=_invalid("match:wrong_name"), overlap=overlap)
    report = _weigh_pair(call, wanted, tools.get(wanted.name), rule)
    verdict = _VALID_SINGLE if report.label is None else _invalid(report.label)
    hits, predicted, expected = _pair_units(report, len(call.arguments))
    return CallJudgement(match=verdict, overlap=ArgumentOverlap(hits, predicted, expected, 0))


def _pair_units(report: _PairReport, predicted: int) -> tuple[int, int, int]:
    """(right, predicted, expected) units of one pair; an argument-free pair is one unit."""
    if predicted == 0 and report.expected == 0:
        return 1, 1, 1
    return report.hits, predicted, report.expected


def _overlap(table: _PairTable, verdict: MatchResult | None) -> ArgumentOverlap:
    calls, expected_calls = table.calls, table.expected
    if verdict is not None and verdict.valid:
        # Every predicted argument matches its partner's and no partner misses anything: no
        # pairing can do better.
        pairs: list[tuple[int, int]] = list(verdict.pairs)
    else:
        pairs = _best_pairs(table)
    true_positives = predicted_count = expected_count = 0
    paired_calls = set()
    paired_expected = set()
    for predicted, wanted in pairs:
        report = table.report(predicted, wanted)
        assert report is not None  # pairs only join calls of the same name
        hits, made, held = _pair_units(report, len(calls[predicted].arguments))
        true_positives += hits
        predicted_count += made
        expected_count += held
        paired_calls.add(predicted)
        paired_expected.add(wanted)
    for index, call in enumerate(calls):
        if index not in paired_calls:
            predicted_count += max(1, len(call.arguments))
    for wanted, expected_call in enumerate(expected_calls):
        if wanted not in paired_expected:
            expected_count += max(1, _mandatory_count(expected_call, table.rule))
    return ArgumentOverlap(
        true_positives=true_positives,
        predicted=predicted_count,
        expected=expected_count,
        unpaired_calls=len(calls) + len(expected_calls) - 2 * len(pairs),
    )


def _mandatory_count(wanted: ReferenceCall, rule: ValueRule) -> int:
    if rule is not ValueRule.BFCL:
        return len(wanted.params)
    return sum(1 for acceptable in wanted.params.values() if "" not in acceptable)


def _best_pairs(table: _PairTable) -> list[tuple[int, int]]:
    """Same-name pairs, as many as both sides allow, one solver run per repeated name.

    The pairing maximises matching arguments first, then minimises the units the pairing
    leaves unmatched, then the expected units: every optimum has the same counts, so the
    overlap does not depend on the order of the calls.
    """
    by_name: dict[str, tuple[list[int], list[int]]] = {}
    for index, call in enumerate(table.calls):
        by_name.setdefault(call.name, ([], []))[0].append(index)
    for index, wanted in enumerate(table.expected):
        by_name.setdefault(wanted.name, ([], []))[1].append(index)
    pairs: list[tuple[int, int]] = []
    for predicted_indices, expected_indices in by_name.values():
        if not predicted_indices or not expected_indices:
            continue
        if len(predicted_indices) == 1 and len(expected_indices) == 1:
            pairs.append((predicted_indices[0], expected_indices[0]))
            continue
        perfect = _perfect_partners(table, predicted_indices, expected_indices)
        if perfect is not None:
            pairs.extend(perfect)
            continue
        weights = _pair_weights(table, predicted_indices, expected_indices)
        pairs.extend(
            (predicted_indices[row], expected_indices[column])
            for row, column in best_assignment(weights)
        )
    return pairs


def _pair_weights(
    table: _PairTable, predicted_indices: list[int], expected_indices: list[int]
) -> list[list[float]]:
    """Lexicographic pair weights packed into one number (right units, then unit savings).

    Pairing ``p`` with ``e`` instead of leaving both alone changes the units as
    :func:`_overlap` counts them; the weight ranks right units first, then the fewest units
    in all, then the fewest expected units. The packing base exceeds any possible sum of the
    lower keys, so the order is strictly lexicographic (and exact in a float).
    """
    cells = []
    bound = 1
    for predicted in predicted_indices:
        row = []
        made_alone = max(1, len(table.calls[predicted].arguments))
        for wanted in expected_indices:
            report = table.report(predicted, wanted)
            assert report is not None
            hits, made, held = _pair_units(report, len(table.calls[predicted].arguments))
            held_alone = max(1, _mandatory_count(table.expected[wanted], table.rule))
            saved_expected = held_alone - held
            saved_total = (made_alone - made) + saved_expected
            bound += abs(saved_total) + abs(saved_expected) + hits
            row.append((hits, saved_total, saved_expected))
        cells.append(row)
    base = float(2 * bound + 1)
    return [[(h * base + t) * base + e for h, t, e in row] for row in cells]


def _perfect_partners(
    table: _PairTable, predicted_indices: list[int], expected_indices: list[int]
) -> list[tuple[int, int]] | None:
    """A pairing of fully matching calls, found greedily, when both sides are the same size.

    Every pair then has all its arguments right and nothing missing, which no other pairing
    beats on any key of :func:`_pair_weights`; otherwise (or when greed fails) None.
    """
    if len(predicted_indices) != len(expected_indices):
        return None
    free = list(expected_indices)
    pairs = []
    for predicted in predicted_indices:
        partner = next(
            (wanted for wanted in free if _label(table.report(predicted, wanted)) is None),
            None,
        )
        if partner is None:
            return None
        free.remove(partner)
        pairs.append((predicted, partner))
    return pairs


def _label(report: _PairReport | None) -> str | None:
    return "match:wrong_name" if report is None else report.label
