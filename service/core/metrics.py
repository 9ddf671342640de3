"""Per-item verdicts and corpus metrics for ``/score``, the CLI and the eval runner.

:func:`score_item` turns one ``(prediction, reference, tools)`` triple into an :class:`ItemScore`
by composing the other core modules (parsing, references, schema, matching), so every number
here follows the same rules as the rewards. :func:`summarise` aggregates item scores into a
:class:`ScoreReport` with the per-item rates (:data:`ITEM_RATES`), irrelevance and relevance
accuracy, a breakdown by category and a 95 % percentile-bootstrap confidence interval for every
rate.

Conventions (a demanding user will ask about each of these):

* **Parsed.** For an item whose reference expects calls, ``parsed`` means the prediction parsed
  without error *and* yielded at least one call; a plain answer there is labelled
  ``parse:no_call_found``. For a no-call reference a plain answer counts as parsed, provided it
  carries no malformed tool-call markup (that is an attempted call: ``parse:*`` label).
* **A prediction that failed to parse has no calls.** Every later check sees an empty call list,
  so it cannot earn name, schema, exec, argument or AST credit.
* **Zero predicted calls against a call reference** fail ``name_match``, ``schema_hit`` and
  ``exec_ok`` (nothing was called, so nothing would execute) and score argument
  precision/recall/F1 0.
* **Zero predicted calls against a no-call reference** (a correct abstention) pass
  ``name_match`` (both multisets are empty), ``schema_hit`` and ``exec_ok`` (vacuously: no call
  is undeclared or invalid) and score argument precision/recall/F1 1.
* **Calls against a no-call reference** are checked for schema and exec like any calls, but are
  never ``valid`` (``ast_accuracy``/``irrelevance_accuracy``) and never match names.
* **Any-call references** (relevance items, BFCL's ``live_relevance``: no particular call is
  expected, only that the model calls) mirror no-call ones, the other way round. The item is
  ``valid`` (``ast_accuracy``/``relevance_accuracy``) when the prediction parses and at least
  one of its calls names an offered tool, whatever the arguments — BFCL's relevance check —
  and ``name_match`` is that same verdict. A plain answer is ``parse:no_call_found``; calls to
  none of the offered tools are ``schema:undeclared_tool``. There is no expected argument to
  compare: argument precision/recall/F1 are 1 for a valid item and 0 otherwise, as for a
  correct or wrong abstention. ``schema_hit`` and ``exec_ok`` check every call as usual.
* **schema_hit**: every predicted call names a declared tool and supplies all its required
  parameters. **exec_ok**: every predicted call names a declared tool and its arguments validate
  against that tool's JSON Schema (:func:`service.core.schema.validate_arguments`).
* **error_type** is the first failing check in pipeline order, as an ``area:reason`` label:
  ``parse:*`` (from the parser), ``schema:undeclared_tool`` / ``schema:missing_required``,
  ``exec:<reason>`` (the validator's reason, e.g. ``exec:type_mismatch``), then ``match:*``
  (from :func:`service.core.matching.match_calls`). ``None`` when the item is valid.
* **Argument precision/recall/F1** come from :func:`service.core.matching.argument_overlap`
  (calls paired by name with an optimal assignment, values compared by BFCL's rules) and are
  macro-averaged over items.
* **Confidence intervals** are percentile bootstrap intervals (default 1,000 resamples, seed 0)
  over items. Rows are put in a canonical order before resampling, so the report — intervals
  included — does not depend on the order of the items. ``irrelevance_accuracy``'s interval
  resamples the no-call items only, ``relevance_accuracy``'s the any-call items.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from service.core.matching import judge_calls, match_calls
from service.core.parsing import parse_calls
from service.core.parsing.labels import NO_CALL_FOUND
from service.core.references import apply_string_match, normalise_reference
from service.core.schema import normalise_tools, validate_arguments
from service.core.types import Reference, ToolCall, ToolSpec, to_json_data

UNDECLARED_TOOL = "schema:undeclared_tool"
MISSING_REQUIRED = "schema:missing_required"
UNCATEGORISED = "uncategorised"

#: Rates averaged over every item, in report order.
ITEM_RATES: tuple[str, ...] = (
    "parse_rate",
    "name_accuracy",
    "argument_precision",
    "argument_recall",
    "argument_f1",
    "schema_hit_rate",
    "exec_rate",
    "ast_accuracy",
)
#: Every metric name a :class:`ScoreReport` carries, in report order.
METRIC_NAMES: tuple[str, ...] = (*ITEM_RATES, "irrelevance_accuracy", "relevance_accuracy")
# On no-call items the AST verdict is the irrelevance verdict; on any-call items, relevance.
_AST_COLUMN = ITEM_RATES.index("ast_accuracy")

if TYPE_CHECKING:
    # numpy is imported where the corpus summary needs it, not with the per-item verdicts: a
    # fresh `toolgrade score` process, its workers and a reward server scoring items would
    # otherwise all pay its import (~0.15 s) before the first item.
    import numpy as np
    import numpy.typing as npt

    FloatMatrix = npt.NDArray[np.float64]


class CallCheck(NamedTuple):
    """Schema and execution verdict for one predicted call.

    ``schema_error`` is ``None`` when the call names a declared tool and supplies every
    required parameter; ``exec_error`` is ``None`` when its arguments also validate against the
    tool's JSON Schema (the call "would execute"). A named tuple: one is built per call scored.
    """

    schema_error: str | None
    exec_error: str | None


_CALL_OK = CallCheck(None, None)
_CALL_UNDECLARED = CallCheck(UNDECLARED_TOOL, "exec:undeclared_tool")
_CALL_MISSING_REQUIRED = CallCheck(MISSING_REQUIRED, "exec:missing_required")


def check_call_schema(call: ToolCall, tools: Mapping[str, ToolSpec]) -> CallCheck:
    """Check one predicted call against the declared tools (the ``schema_hit``/``exec`` rule).

    Shared by :func:`score_item` and the rewards so both count the same thing.

    Args:
        call: A parsed call.
        tools: Declared tools by name, as returned by :func:`service.core.schema.normalise_tools`.

    Returns:
        A :class:`CallCheck`; its labels read ``schema:undeclared_tool``,
        ``schema:missing_required`` and ``exec:<validator reason>``.

    Example:
        >>> from service.core.schema import normalise_tools
        >>> tools = normalise_tools([{"name": "f", "parameters": {"type": "object",
        ...     "properties": {"age": {"type": "integer"}}, "required": ["age"]}}])
        >>> check_call_schema(ToolCall("f", {"age": 30}), tools)
        CallCheck(schema_error=None, exec_error=None)
        >>> check_call_schema(ToolCall("f", {"age": "30"}), tools).exec_error
        'exec:type_mismatch'
        >>> check_call_schema(ToolCall("f", {}), tools).schema_error
        'schema:missing_required'
    """
    spec = tools.get(call.name)
    if spec is None:
        return _CALL_UNDECLARED
    if not call.arguments.keys() >= spec.required:
        # A call missing a required argument cannot execute; no need to run the validator.
        return _CALL_MISSING_REQUIRED
    validation_error = validate_arguments(spec, call.arguments)
    return _CALL_OK if validation_error is None else CallCheck(None, _exec_label(validation_error))


def _exec_label(validation_label: str) -> str:
    # The validator speaks for the schema module (``schema:type_mismatch``); in a per-item
    # verdict the failing stage is execution, so keep its reason under the ``exec`` area.
    return (
        "exec:" + validation_label.partition(":")[2] if ":" in validation_label else "exec:invalid"
    )


@dataclass(frozen=True, slots=True)
class ItemScore:
    """The verdict on one prediction; see the module docstring for the conventions."""

    id: Any
    category: str | None
    parsed: bool
    valid: bool
    error_type: str | None
    name_match: bool
    schema_hit: bool
    exec_ok: bool
    argument_precision: float
    argument_recall: float
    argument_f1: float
    expects_no_call: bool
    expects_any_call: bool
    calls: tuple[ToolCall, ...]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field (generated from the fields); calls become
        ``{"name", "arguments"}`` objects.

        Returns:
            A plain dict with every field of the score.

        Example:
            >>> score = score_item('{"name": "f", "arguments": {}}', [{"name": "f",
            ...     "arguments": {}}], [{"name": "f", "parameters": {}}], item_id=7)
            >>> score.to_dict()["calls"], score.to_dict()["valid"]
            ([{'name': 'f', 'arguments': {}}], True)
        """
        data: dict[str, Any] = to_json_data(self)
        return data


class ItemSummary(NamedTuple):
    """Every field of an :class:`ItemScore` but ``calls``: all :func:`summarise` and
    :func:`error_breakdown` read.

    Where scores are summarised far from where they were made, this is what travels:
    ``toolgrade score``'s worker processes send these back, not whole scores with their calls.

    Example:
        >>> score = score_item("no tool fits", [], [], item_id="a")
        >>> summary = ItemSummary.of(score)
        >>> summary.id, summary.valid, summary.expects_no_call
        ('a', True, True)
        >>> summarise([summary]).metrics == summarise([score]).metrics
        True
    """

    id: Any
    category: str | None
    parsed: bool
    valid: bool
    error_type: str | None
    name_match: bool
    schema_hit: bool
    exec_ok: bool
    argument_precision: float
    argument_recall: float
    argument_f1: float
    expects_no_call: bool
    expects_any_call: bool

    @classmethod
    def of(cls, score: ItemScore) -> ItemSummary:
        """The summary of ``score``."""
        return cls._make(_SUMMARY_FIELDS(score))


# The summary's fields, read from a score in C (the field names are the summary's own: a test
# holds them equal to the score's, calls aside, in order).
_SUMMARY_FIELDS: Final = attrgetter(*ItemSummary._fields)


ScoredItem = ItemScore | ItemSummary
"""What the corpus summary takes: whole scores or their summaries, mixed freely."""


def score_item(
    prediction: Any,
    reference: Any,
    tools: Any,
    *,
    item_id: Any = None,
    category: str | None = None,
    string_match: str = "exact",
) -> ItemScore:
    """Score one prediction against its reference and the declared tools.

    Args:
        prediction: What the model produced: text (Hermes blocks, JSON, JSON in prose, Python
            call syntax), a list of calls, OpenAI ``tool_calls`` or an assistant message.
        reference: Exact calls, BFCL possible answers, or ``[]``/``None`` for "no call" (a JSON
            string of any of these is accepted).
        tools: Tool schemas (OpenAI, plain/BFCL or xLAM; a list or a JSON string; ``None`` for
            none).
        item_id: Carried into the result unchanged.
        category: Carried into the result; used by :func:`summarise` for ``by_category``.
        string_match: How an exact reference compares strings: ``"exact"`` (as written, the
            default) or ``"bfcl"`` (BFCL's standardisation; possible answers always use it).

    Returns:
        An :class:`ItemScore`.

    Raises:
        ToolGradeError: The reference or the tool schemas are malformed (a client error). A
            malformed *prediction* never raises: it is scored and labelled.

    Example:
        >>> tools = [{"name": "get_user", "parameters": {"type": "object", "properties": {
        ...     "name": {"type": "string"}, "age": {"type": "integer"}},
        ...     "required": ["name", "age"]}}]
        >>> reference = [{"name": "get_user", "arguments": {"name": "Ann", "age": 30}}]
        >>> text = 'Sure: {"name": "get_user", "arguments": {"name": "Ann", "age": 30}} done.'
        >>> score = score_item(text, reference, tools)
        >>> score.parsed, score.valid, score.argument_f1, score.error_type
        (True, True, 1.0, None)
        >>> bad = score_item({"name": "get_user", "arguments": {"name": "Ann", "age": "30"}},
        ...     reference, tools)
        >>> bad.schema_hit, bad.exec_ok, bad.error_type
        (True, False, 'exec:type_mismatch')
    """
    expected = apply_string_match(normalise_reference(reference), string_match)
    declared = normalise_tools(tools)
    return _score_normalised(prediction, expected, declared, item_id, category)


def _score_normalised(
    prediction: Any,
    expected: Reference,
    declared: dict[str, ToolSpec],
    item_id: Any,
    category: str | None,
) -> ItemScore:
    # The part of scoring after the reference and tools are normalised, shared by
    # score_item and BatchScorer (which differ only in how they normalise).
    parse = parse_calls(prediction)
    if expected.expects_no_call:
        return _score_no_call_item(parse.calls, parse.error, expected, declared, item_id, category)
    if expected.any_call:
        return _score_any_call_item(parse.calls, parse.error, expected, declared, item_id, category)
    return _score_call_item(parse.calls, parse.error, expected, declared, item_id, category)


class BatchScorer:
    """Scores many items, normalising each distinct reference and tools *object* once.

    GRPO groups, eval batches and BFCL's candidates share one reference and one tools object
    across many predictions; :func:`score_item` would rebuild (or look up by content) the
    normalised form for each. A scorer remembers it by object identity instead. Identity is
    safe because the scorer holds every object it has seen (so no id is reused) and a batch's
    references and tools are not mutated while it is scored. Keep one scorer per batch: it
    never forgets what it has seen.

    Verdicts are exactly :func:`score_item`'s, item for item.

    Example:
        >>> tools = [{"name": "f", "parameters": {"x": {"type": "int"}}}]
        >>> reference = [{"name": "f", "arguments": {"x": 1}}]
        >>> scorer = BatchScorer()
        >>> [scorer.score(p, reference, tools).valid for p in ('f(x=1)', 'f(x=2)', 'f(y=1)')]
        [True, False, False]
    """

    __slots__ = ("_references", "_string_match", "_tools")

    def __init__(self, string_match: str = "exact") -> None:
        self._string_match = string_match
        # id(object) -> (object, normalised); the object is held so its id cannot be reused.
        self._references: dict[int, tuple[Any, Reference]] = {}
        self._tools: dict[int, tuple[Any, dict[str, ToolSpec]]] = {}

    def score(
        self,
        prediction: Any,
        reference: Any,
        tools: Any,
        *,
        item_id: Any = None,
        category: str | None = None,
    ) -> ItemScore:
        """Score one item, as :func:`score_item` does.

        Args:
            prediction: As for :func:`score_item`.
            reference: As for :func:`score_item`; not mutated while this scorer is in use.
            tools: As for :func:`score_item`; not mutated while this scorer is in use.
            item_id: Carried into the result unchanged.
            category: Carried into the result.

        Returns:
            The :class:`ItemScore` :func:`score_item` would return.

        Raises:
            ToolGradeError: The reference or the tool schemas are malformed.
        """
        known_reference = self._references.get(id(reference))
        if known_reference is not None and known_reference[0] is reference:
            expected = known_reference[1]
        else:
            expected = apply_string_match(normalise_reference(reference), self._string_match)
            self._references[id(reference)] = (reference, expected)
        known_tools = self._tools.get(id(tools))
        if known_tools is not None and known_tools[0] is tools:
            declared = known_tools[1]
        else:
            declared = normalise_tools(tools)
            self._tools[id(tools)] = (tools, declared)
        return _score_normalised(prediction, expected, declared, item_id, category)


def score_items(
    items: Iterable[Mapping[str, Any]], *, string_match: str = "exact"
) -> list[ItemScore]:
    """Score a batch of ``/score`` items, sharing normalisation between them.

    Each distinct reference and tools object in the batch is normalised once (see
    :class:`BatchScorer`); the results are exactly :func:`score_item`'s, in input order.

    Args:
        items: Mappings with ``prediction``, ``reference`` and ``tools`` (each optional,
            ``None`` when absent) and optionally ``id`` and ``category``.
        string_match: How exact references compare strings (see :func:`score_item`).

    Returns:
        One :class:`ItemScore` per item, in order.

    Raises:
        ToolGradeError: An item's reference or tool schemas are malformed.

    Example:
        >>> tools = [{"name": "f", "parameters": {"x": {"type": "int"}}}]
        >>> label = [{"f": {"x": [1, 2]}}]
        >>> scores = score_items({"id": i, "prediction": p, "reference": label, "tools": tools}
        ...     for i, p in enumerate(['f(x=2)', 'f(x=3)']))
        >>> [(s.id, s.valid, s.error_type) for s in scores]
        [(0, True, None), (1, False, 'match:value_mismatch')]
    """
    scorer = BatchScorer(string_match)
    return [
        scorer.score(
            item.get("prediction"),
            item.get("reference"),
            item.get("tools"),
            item_id=item.get("id"),
            category=item.get("category"),
        )
        for item in items
    ]


def _unparsed_item(
    item_id: Any,
    category: str | None,
    error_type: str,
    *,
    expects_no_call: bool,
    expects_any_call: bool = False,
) -> ItemScore:
    # No call could be read from the prediction: every check fails and no call is carried.
    return ItemScore(
        id=item_id,
        category=category,
        parsed=False,
        valid=False,
        error_type=error_type,
        name_match=False,
        schema_hit=False,
        exec_ok=False,
        argument_precision=0.0,
        argument_recall=0.0,
        argument_f1=0.0,
        expects_no_call=expects_no_call,
        expects_any_call=expects_any_call,
        calls=(),
    )


def _score_call_item(
    parsed_calls: tuple[ToolCall, ...],
    parse_error: str | None,
    expected: Reference,
    declared: Mapping[str, ToolSpec],
    item_id: Any,
    category: str | None,
) -> ItemScore:
    if parse_error is not None or not parsed_calls:
        return _unparsed_item(
            item_id, category, parse_error or NO_CALL_FOUND, expects_no_call=False
        )
    schema_error, exec_error = _first_call_errors(parsed_calls, declared)
    verdict, overlap = judge_calls(parsed_calls, expected, declared)
    precision, recall = overlap.precision, overlap.recall
    return ItemScore(
        id=item_id,
        category=category,
        parsed=True,
        valid=verdict.valid,
        error_type=schema_error or exec_error or verdict.error,
        name_match=_same_names(parsed_calls, expected),
        schema_hit=schema_error is None,
        exec_ok=exec_error is None,
        argument_precision=precision,
        argument_recall=recall,
        argument_f1=_f1(precision, recall),
        expects_no_call=False,
        expects_any_call=False,
        calls=parsed_calls,
    )


def _first_call_errors(
    calls: Sequence[ToolCall], declared: Mapping[str, ToolSpec]
) -> tuple[str | None, str | None]:
    """The first schema label and the first exec label among the calls' checks."""
    schema_error = exec_error = None
    for call in calls:
        check = check_call_schema(call, declared)
        schema_error = schema_error or check.schema_error
        exec_error = exec_error or check.exec_error
    return schema_error, exec_error


def _f1(precision: float, recall: float) -> float:
    # Same formula as ArgumentOverlap.f1, from the rates already computed.
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def _score_no_call_item(
    parsed_calls: tuple[ToolCall, ...],
    parse_error: str | None,
    expected: Reference,
    declared: Mapping[str, ToolSpec],
    item_id: Any,
    category: str | None,
) -> ItemScore:
    # A plain answer (zero calls, no error) is the right behaviour here; only malformed call
    # markup fails parsing.
    if parse_error is not None:
        return _unparsed_item(item_id, category, parse_error, expects_no_call=True)
    calls = parsed_calls
    if not calls:
        return ItemScore(
            id=item_id,
            category=category,
            parsed=True,
            valid=True,
            error_type=None,
            name_match=True,
            schema_hit=True,
            exec_ok=True,
            argument_precision=1.0,
            argument_recall=1.0,
            argument_f1=1.0,
            expects_no_call=True,
            expects_any_call=False,
            calls=(),
        )
    schema_error, exec_error = _first_call_errors(calls, declared)
    # A call where none was wanted is never valid; match_calls only names the reason.
    match_error = match_calls(calls, expected, declared).error or "match:unexpected_call"
    return ItemScore(
        id=item_id,
        category=category,
        parsed=True,
        valid=False,
        error_type=schema_error or exec_error or match_error,
        name_match=False,
        schema_hit=schema_error is None,
        exec_ok=exec_error is None,
        argument_precision=0.0,
        argument_recall=0.0,
        argument_f1=0.0,
        expects_no_call=True,
        expects_any_call=False,
        calls=calls,
    )


def _score_any_call_item(
    parsed_calls: tuple[ToolCall, ...],
    parse_error: str | None,
    expected: Reference,
    declared: Mapping[str, ToolSpec],
    item_id: Any,
    category: str | None,
) -> ItemScore:
    if parse_error is not None or not parsed_calls:
        return _unparsed_item(
            item_id,
            category,
            parse_error or NO_CALL_FOUND,
            expects_no_call=False,
            expects_any_call=True,
        )
    schema_error, exec_error = _first_call_errors(parsed_calls, declared)
    verdict = match_calls(parsed_calls, expected, declared)
    credit = 1.0 if verdict.valid else 0.0
    return ItemScore(
        id=item_id,
        category=category,
        parsed=True,
        valid=verdict.valid,
        # Every call names an undeclared tool when the verdict fails: schema's label comes first.
        error_type=None if verdict.valid else schema_error or verdict.error,
        name_match=verdict.valid,
        schema_hit=schema_error is None,
        exec_ok=exec_error is None,
        argument_precision=credit,
        argument_recall=credit,
        argument_f1=credit,
        expects_no_call=False,
        expects_any_call=True,
        calls=parsed_calls,
    )


def _same_names(calls: Sequence[ToolCall], expected: Reference) -> bool:
    wanted = expected.calls
    if len(calls) != len(wanted):
        return False
    if len(calls) == 1:
        return calls[0].name == wanted[0].name
    return sorted(c.name for c in calls) == sorted(c.name for c in wanted)


@dataclass(frozen=True, slots=True)
class ScoreReport:
    """Corpus-level metrics over a set of :class:`ItemScore`.

    ``metrics`` maps every name in :data:`METRIC_NAMES` to a rate in [0, 1] (``None`` when it
    is undefined: no items, ``irrelevance_accuracy`` without no-call items or
    ``relevance_accuracy`` without any-call items); ``ci`` holds a
    95 % bootstrap interval for each defined rate; ``by_category`` holds, per category, the
    item count and the same metrics.
    """

    count: int
    metrics: dict[str, float | None]
    ci: dict[str, tuple[float, float]]
    by_category: dict[str, dict[str, float | None]]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (intervals as two-element lists).

        Returns:
            ``{"count", "metrics", "ci", "by_category"}``.

        Example:
            >>> report = summarise([score_item("no tool needed", [], [])], bootstrap_samples=10)
            >>> report.to_dict()["metrics"]["irrelevance_accuracy"]
            1.0
        """
        return {
            "count": self.count,
            "metrics": dict(self.metrics),
            "ci": {name: [low, high] for name, (low, high) in self.ci.items()},
            "by_category": {name: dict(values) for name, values in self.by_category.items()},
        }


def summarise(
    scores: Sequence[ScoredItem], *, bootstrap_samples: int = 1000, seed: int = 0
) -> ScoreReport:
    """Aggregate item scores into corpus metrics with bootstrap confidence intervals.

    The result depends only on the multiset of scores, not on their order.

    Args:
        scores: Item scores from :func:`score_item` (or their :class:`ItemSummary`).
        bootstrap_samples: Resamples for the 95 % percentile intervals; 0 disables them.
        seed: Seed of the resampling generator (the same seed gives the same intervals).

    Returns:
        A :class:`ScoreReport`.

    Raises:
        ValueError: ``bootstrap_samples`` is negative.

    Example:
        >>> tools = [{"name": "f", "parameters": {"type": "object",
        ...     "properties": {"x": {"type": "integer"}}, "required": ["x"]}}]
        >>> reference = [{"name": "f", "arguments": {"x": 1}}]
        >>> scores = [score_item('{"name": "f", "arguments": {"x": 1}}', reference, tools),
        ...           score_item('{"name": "f", "arguments": {"x": 2}}', reference, tools)]
        >>> report = summarise(scores)
        >>> report.metrics["ast_accuracy"], report.metrics["exec_rate"]
        (0.5, 1.0)
        >>> report.ci["exec_rate"]
        (1.0, 1.0)
    """
    import numpy as np

    if bootstrap_samples < 0:
        raise ValueError("bootstrap_samples must be >= 0")
    rates = _canonical(_rate_matrix(scores))
    no_call = _canonical(_rate_matrix([s for s in scores if s.expects_no_call]))
    any_call = _canonical(_rate_matrix([s for s in scores if s.expects_any_call]))
    metrics = _metrics(rates, no_call, any_call)
    ci: dict[str, tuple[float, float]] = {}
    if bootstrap_samples and len(rates):
        rng = np.random.default_rng(seed)
        ci.update(zip(ITEM_RATES, _bootstrap(rates, bootstrap_samples, rng), strict=True))
        # These rows' ast_accuracy column is their irrelevance or relevance accuracy.
        if len(no_call):
            valid_column = no_call[:, [_AST_COLUMN]]
            (ci["irrelevance_accuracy"],) = _bootstrap(valid_column, bootstrap_samples, rng)
        if len(any_call):
            valid_column = any_call[:, [_AST_COLUMN]]
            (ci["relevance_accuracy"],) = _bootstrap(valid_column, bootstrap_samples, rng)
    groups: dict[str, list[ScoredItem]] = {}
    for score in scores:
        groups.setdefault(_category_of(score), []).append(score)
    by_category: dict[str, dict[str, float | None]] = {}
    for category in sorted(groups, key=_category_order):
        members = groups[category]
        values = _metrics(
            _canonical(_rate_matrix(members)),
            _canonical(_rate_matrix([s for s in members if s.expects_no_call])),
            _canonical(_rate_matrix([s for s in members if s.expects_any_call])),
        )
        by_category[category] = {"count": len(members), **values}
    return ScoreReport(count=len(scores), metrics=metrics, ci=ci, by_category=by_category)


def error_breakdown(scores: Sequence[ScoredItem]) -> dict[str, int]:
    """Count items per ``error_type`` label, most frequent first (ties by label).

    Args:
        scores: Item scores (or their :class:`ItemSummary`).

    Returns:
        ``{label: count}`` over items that are not valid (valid items carry no label).

    Example:
        >>> error_breakdown([score_item("hello", [{"name": "f", "arguments": {}}], [])])
        {'parse:no_call_found': 1}
    """
    counts = Counter(s.error_type for s in scores if s.error_type is not None)
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def _category_of(score: ScoredItem) -> str:
    return score.category if score.category is not None else UNCATEGORISED


def _category_order(category: Any) -> tuple[str, str]:
    # Callers of the core may use non-string categories (ints, mixed with strings): order
    # them by text, then by type, rather than raise comparing an int with a str.
    return str(category), type(category).__name__


def _rate_matrix(scores: Sequence[ScoredItem]) -> FloatMatrix:
    """One row per item, one column per :data:`ITEM_RATES` entry."""
    import numpy as np

    rows = [
        (
            s.parsed,
            s.name_match,
            s.argument_precision,
            s.argument_recall,
            s.argument_f1,
            s.schema_hit,
            s.exec_ok,
            s.valid,
        )
        for s in scores
    ]
    return np.array(rows, dtype=np.float64).reshape(len(rows), len(ITEM_RATES))


def _canonical(matrix: FloatMatrix) -> FloatMatrix:
    import numpy as np

    # Sorting rows makes every later step (float sums, bootstrap draws) independent of the
    # order in which items arrived.
    if len(matrix) < 2:
        return matrix
    ordered: FloatMatrix = matrix[np.lexsort(matrix.T[::-1])]
    return ordered


def _metrics(
    rates: FloatMatrix, no_call: FloatMatrix, any_call: FloatMatrix
) -> dict[str, float | None]:
    if len(rates):
        means: list[float | None] = [float(v) for v in rates.mean(axis=0)]
    else:
        means = [None] * len(ITEM_RATES)
    metrics: dict[str, float | None] = dict(zip(ITEM_RATES, means, strict=True))
    metrics["irrelevance_accuracy"] = (
        float(no_call[:, _AST_COLUMN].mean()) if len(no_call) else None
    )
    metrics["relevance_accuracy"] = (
        float(any_call[:, _AST_COLUMN].mean()) if len(any_call) else None
    )
    return metrics


def _bootstrap(
    matrix: FloatMatrix, samples: int, rng: np.random.Generator
) -> list[tuple[float, float]]:
    """95 % percentile interval of each column's mean (columns in order, one generator)."""
    return [_column_interval(column, samples, rng) for column in matrix.T]


# Items resampled per chunk when resampling item by item: bounds the index matrix's memory.
_RESAMPLED_ITEMS_PER_CHUNK = 2_000_000


def _column_interval(
    column: FloatMatrix, samples: int, rng: np.random.Generator
) -> tuple[float, float]:
    """Percentile bootstrap interval of a column's mean.

    Drawing ``n`` items with replacement draws each of the ``k`` distinct values a
    Multinomial(``n``, frequency) number of times, so sampling those counts gives exactly the
    bootstrap distribution of the mean in O(samples × k) rather than O(samples × n). Rates are
    0/1 and argument scores take few distinct values; a column with many distinct values is
    resampled item by item instead.
    """
    import numpy as np

    values, counts = np.unique(column, return_counts=True)
    if len(values) == 1:
        # Every resample has the same mean; report it without float noise.
        return float(values[0]), float(values[0])
    n = len(column)
    if 4 * len(values) <= n:
        means = rng.multinomial(n, counts / n, size=samples) @ values / n
    else:
        means = _resampled_means(np.repeat(values, counts), samples, rng)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(max(low, 0.0)), float(min(high, 1.0))


def _resampled_means(column: FloatMatrix, samples: int, rng: np.random.Generator) -> FloatMatrix:
    import numpy as np

    n = len(column)
    chunk = max(1, _RESAMPLED_ITEMS_PER_CHUNK // n)
    means = np.empty(samples, dtype=np.float64)
    for start in range(0, samples, chunk):
        size = min(chunk, samples - start)
        means[start : start + size] = column[rng.integers(0, n, size=(size, n))].mean(axis=1)
    return means
