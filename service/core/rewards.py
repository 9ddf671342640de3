"""Dense rule-based rewards for RL on function calling (``/reward``, TRL, OpenRLHF, verl).

Every completion gets four components in [0, 1], computed with the same rules as the metrics
(:func:`service.core.metrics.check_call_schema`, :func:`service.core.matching.argument_overlap`):

* ``json_parse`` — the completion yields a well-formed, non-empty call list (format gate);
* ``schema_hit`` — share of the reference's calls answered by a same-name predicted call that
  names a declared tool with all required parameters;
* ``exec`` — the same share for calls whose arguments validate against the tool's JSON Schema;
* ``semantic`` — argument F1 against the reference (:func:`~service.core.matching.argument_overlap`:
  calls paired by name, extra calls cost precision and dropped calls recall, at least one unit
  each even without arguments).

Shares are taken over ``max(predicted, reference)`` calls, so an extra call dilutes them and a
dropped call leaves a hole; a completion whose every call passes the check counts at least one
call (so one call against a one-call reference scores as the plain share of predicted calls
that pass would, whatever the name). Each component obeys the reward axioms on its
own, so every weighting does:

1. the reference itself (any call order, any acceptable BFCL values) earns 1.0 when its calls
   execute against the declared tools;
2. adding a call to a function the reference does not call never raises a component;
3. leaving out a reference call lowers the shares and the recall;
4. a copy, or a wrong-valued copy, beside the right call lowers the shares and the precision;
5. nothing depends on the order of the predicted or the reference calls;
6. a call that cannot execute (missing required parameter, unknown parameter, wrong type)
   earns no more than the same call made executable with a wrong value (default weights);
7. every value is finite and in [0, 1]; bad requests raise :class:`ToolGradeError` only.

A malformed completion, or one without calls where calls are expected, scores 0 on every
component. Against a **no-call reference** every component (and the reward) is 1.0 for a
completion that makes no call and 0.0 for any call or malformed call markup.

Strings compare by the reference's kind: exact references as written, BFCL possible answers
by BFCL's standardisation; ``string_match="bfcl"`` opts exact references into the latter.

The reward a profile returns:

* ``weighted`` (default; ``seed`` is accepted as its former name) — ``Σ w·component`` with
  non-negative weights normalised to sum 1 (default 0.25 each).
* ``strict`` — 1.0 only for a fully valid call list (:func:`service.core.matching.match_calls`
  says ``valid``) whose every call executes against the declared tools, else 0.0 (Tool-N1
  style). Weights are validated but unused.
* ``toolrl`` — ToolRL's decomposed reward (Qian et al., 2025) rescaled from [-3, 4] to [0, 1]:
  ``(format + 6·S/S_max) / 7``, where ``format`` is ``json_parse``, ``S`` = multiset Jaccard of
  tool names + the pair scores of the best one-to-one pairing of same-name calls, scaled by
  ``reference calls / max(predicted, reference calls)``. A pair scores the Jaccard of the
  parameter names (the reference's mandatory parameters plus the optional ones supplied) plus
  ``v`` value points times the share of those parameters whose value matches, where ``v`` is
  the number of mandatory parameters (at least 1); the value points count only when the call
  executes. ``S_max = 1 + Σ_ref (1 + v)``. ToolRL pairs calls greedily, compares values with
  ``==`` and never checks the schema; we pair optimally, compare values as the metrics do,
  hold omitted BFCL-optional parameters to nothing and pay values only for executable calls.
  Weights are validated but unused.

**Hack ceilings** — the best reward a well-formed, declared, executable call earns while getting
none of the reference's argument values right (what a policy can farm without solving the task;
measured in ``tests/service/core/test_rewards.py`` and by ``toolgrade audit``, whose
``all_values_wrong`` row on 1,000 ``toolgrade synth`` rows peaks at exactly these values; its
broader ceiling, the best reward of anything not right, is partial credit: 0.979 weighted,
0.946 toolrl, for one wrong value among many right ones):

* ``weighted``: **0.75** — ``json_parse``, ``schema_hit`` and ``exec`` are free for a valid call
  to a declared tool (with default weights; in general ``1 - w_semantic``). Extra calls never
  raise it: padding, duplicates and hedges dilute every share.
* ``strict``: **0.0**.
* ``toolrl``: **5/7 ≈ 0.714**, reached on a one-call, one-parameter reference by the right tool
  with the wrong value (name 1 + parameter names 1 of ``S_max`` 3). In general the right tools
  with the right parameter names but wrong values earn ``(1 + 6·(1+n)/(1+n+V)) / 7`` for ``n``
  reference calls with ``V ≥ n`` value points in all, which is at most 5/7.

Everything here is a pure function of its arguments, so the HTTP layer may call
:func:`compute_rewards` from worker threads: the only shared state is the core's memo caches
(tool schemas, validators, standardised strings), plain dicts whose single operations are atomic
and whose entries never change, so a race costs at most a recomputation.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from service.core.assignment import best_assignment
from service.core.errors import InvalidReferenceError, InvalidWeightsError, ToolGradeError
from service.core.matching import argument_overlap, judge_calls, match_value
from service.core.metrics import CallCheck, check_call_schema
from service.core.parsing import parse_calls
from service.core.references import apply_string_match, normalise_reference
from service.core.schema import normalise_tools
from service.core.types import ParseResult, Reference, ReferenceCall, ToolCall, ToolSpec

REWARD_COMPONENTS: tuple[str, ...] = ("json_parse", "schema_hit", "exec", "semantic")
DEFAULT_WEIGHTS: Mapping[str, float] = dict.fromkeys(REWARD_COMPONENTS, 0.25)


#: Former profile names, still accepted wherever a profile is named (documented aliases).
PROFILE_ALIASES: Mapping[str, str] = {"seed": "weighted"}


class RewardProfile(StrEnum):
    """How the components become one reward (see the module docstring).

    ``RewardProfile("seed")`` is :attr:`WEIGHTED`: the profile's former name stays accepted.
    """

    WEIGHTED = "weighted"
    STRICT = "strict"
    TOOLRL = "toolrl"

    @classmethod
    def _missing_(cls, value: object) -> RewardProfile | None:
        alias = PROFILE_ALIASES.get(value) if isinstance(value, str) else None
        return None if alias is None else cls(alias)


@dataclass(frozen=True, slots=True)
class RewardBreakdown:
    """The four components of one completion's reward and the reward itself (all in [0, 1]).

    The components are the weighted profile's diagnostics under every profile; ``reward`` is
    the profile's combination.
    """

    json_parse: float
    schema_hit: float
    exec: float
    semantic: float
    reward: float

    def to_dict(self) -> dict[str, float]:
        """A JSON-ready dict of the components and the reward.

        Returns:
            ``{"json_parse", "schema_hit", "exec", "semantic", "reward"}``.

        Example:
            >>> RewardBreakdown(1.0, 1.0, 1.0, 0.0, 0.75).to_dict()["reward"]
            0.75
        """
        return {
            "json_parse": self.json_parse,
            "schema_hit": self.schema_hit,
            "exec": self.exec,
            "semantic": self.semantic,
            "reward": self.reward,
        }


def normalise_weights(weights: Mapping[str, float] | None) -> dict[str, float]:
    """Validate component weights and scale them to sum 1.

    The given mapping is the whole weighting: a component it leaves out gets weight 0.

    Args:
        weights: ``{component: weight}`` over :data:`REWARD_COMPONENTS`, or ``None`` for the
            default (0.25 each).

    Returns:
        A weight for every component, in :data:`REWARD_COMPONENTS` order, summing to 1.

    Raises:
        InvalidWeightsError: A weight is negative, non-finite or not a number, a component is
            unknown, every weight is zero, or the weights overflow when summed
            (``weights:non_finite``).

    Example:
        >>> normalise_weights(None)
        {'json_parse': 0.25, 'schema_hit': 0.25, 'exec': 0.25, 'semantic': 0.25}
        >>> normalise_weights({"exec": 1, "semantic": 3})
        {'json_parse': 0.0, 'schema_hit': 0.0, 'exec': 0.25, 'semantic': 0.75}
    """
    if weights is None:
        return dict(DEFAULT_WEIGHTS)
    if not isinstance(weights, Mapping):
        raise InvalidWeightsError(
            "weights must be an object mapping components to numbers",
            label="weights:not_a_mapping",
            param="weights",
        )
    for name, value in weights.items():
        if name not in REWARD_COMPONENTS:
            raise InvalidWeightsError(
                f"unknown reward component {name!r}; expected one of {list(REWARD_COMPONENTS)}",
                label="weights:unknown_component",
                param=f"weights.{name}",
            )
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidWeightsError(
                f"weight {name!r} must be a number, got {type(value).__name__}",
                label="weights:not_a_number",
                param=f"weights.{name}",
            )
        if not math.isfinite(value):
            raise InvalidWeightsError(
                f"weight {name!r} must be finite",
                label="weights:non_finite",
                param=f"weights.{name}",
            )
        if value < 0:
            raise InvalidWeightsError(
                f"weight {name!r} must be non-negative",
                label="weights:negative",
                param=f"weights.{name}",
            )
    try:
        total = math.fsum(float(weights.get(name, 0.0)) for name in REWARD_COMPONENTS)
    except (OverflowError, ValueError):  # an integer too large for a float, or fsum overflow
        total = math.inf
    if total <= 0:
        raise InvalidWeightsError(
            "at least one weight must be positive", label="weights:all_zero", param="weights"
        )
    normalised = {name: float(weights.get(name, 0.0)) / total for name in REWARD_COMPONENTS}
    if not math.isfinite(total) or not all(math.isfinite(w) for w in normalised.values()):
        raise InvalidWeightsError(
            "the weights overflow when summed; scale them down (only their ratios matter)",
            label="weights:non_finite",
            param="weights",
        )
    return normalised


def resolve_profile(profile: str | RewardProfile) -> RewardProfile:
    """Turn a profile name into a :class:`RewardProfile`.

    Args:
        profile: ``"weighted"``, ``"strict"`` or ``"toolrl"`` (or the enum member);
            ``"seed"`` is accepted as the weighted profile's former name.

    Returns:
        The profile.

    Raises:
        ToolGradeError: The name is not a profile (label ``reward:unknown_profile``).

    Example:
        >>> resolve_profile("toolrl")
        <RewardProfile.TOOLRL: 'toolrl'>
        >>> resolve_profile("seed")
        <RewardProfile.WEIGHTED: 'weighted'>
    """
    try:
        return RewardProfile(profile)
    except ValueError:
        raise ToolGradeError(
            f"unknown reward profile {profile!r}; expected one of "
            f"{[p.value for p in RewardProfile]} (or a former name: {dict(PROFILE_ALIASES)})",
            label="reward:unknown_profile",
            param="profile",
        ) from None


def resolve_label(
    label: Any, default_tools: Any = None, string_match: str = "exact"
) -> tuple[Reference, dict[str, ToolSpec]]:
    """Split a reward label into its reference and the tools it is scored against.

    A label is a reference (exact calls, BFCL possible answers, ``[]``/``None`` for no call),
    or an object ``{"reference"|"answers": ..., "tools": ...}`` (xLAM rows carry ``answers``);
    either may be a JSON string. A label's own ``tools`` win over ``default_tools``.

    Args:
        label: The label.
        default_tools: Tools used when the label carries none.
        string_match: ``"exact"`` or ``"bfcl"`` (see
            :func:`service.core.references.apply_string_match`).

    Returns:
        ``(reference, tools_by_name)``.

    Raises:
        ToolGradeError: The reference or the tools are malformed, or the reference is an
            any-call reference (``reward:any_call_reference_unsupported``: relevance items are
            scored, not rewarded).

    Example:
        >>> xlam_row_label = json.dumps({"answers": json.dumps([{"name": "f", "arguments": {}}]),
        ...                              "tools": [{"name": "f", "parameters": {}}]})
        >>> reference, tools = resolve_label(xlam_row_label)
        >>> [call.name for call in reference.calls], sorted(tools)
        (['f'], ['f'])
    """
    decoded = _decode_label(label)
    parts = _label_parts(decoded)
    if parts is not None:
        reference, tools = parts
        declared = normalise_tools(default_tools if tools is None else tools)
        return _rewardable(
            apply_string_match(normalise_reference(reference), string_match)
        ), declared
    declared = normalise_tools(default_tools)
    return _rewardable(apply_string_match(normalise_reference(decoded), string_match)), declared


def _rewardable(reference: Reference) -> Reference:
    # A relevance item says only that some call should be made, so every reward component
    # beyond "a call to an offered tool" (arguments, the number of calls) would be unearned or
    # arbitrary: the axioms (a wrong value never pays more than a right one, ...) have nothing
    # to compare against. Scoring (/score) defines it; rewards refuse it.
    if reference.any_call:
        raise InvalidReferenceError(
            "an any-call reference (a relevance item) can be scored (/score, toolgrade score, "
            "toolgrade eval) but not rewarded: no expected call to reward against",
            label="reward:any_call_reference_unsupported",
            param="reference",
        )
    return reference


def attach_tools(label: Any, tools: Any) -> Any:
    """A label that carries ``tools``, unless it already carries its own.

    The label shapes are the ones :func:`resolve_label` reads; a row's tools ride along with its
    reference this way when a trainer keeps them in a separate dataset column.

    Args:
        label: A reference or a ``{"reference"|"answers", "tools"}`` object (either may be JSON
            text).
        tools: The tools to attach (``None`` leaves the label as it is).

    Returns:
        The label itself when it already names tools (or ``tools`` is ``None``), else
        ``{"reference"|"answers": ..., "tools": tools}``.

    Example:
        >>> attach_tools([{"name": "f", "arguments": {}}], [{"name": "f"}])
        {'reference': [{'name': 'f', 'arguments': {}}], 'tools': [{'name': 'f'}]}
        >>> attach_tools({"answers": "[]", "tools": "[]"}, [{"name": "f"}])
        {'answers': '[]', 'tools': '[]'}
    """
    if tools is None:
        return label
    decoded = _decode_label(label)
    parts = _label_parts(decoded)
    if parts is None:
        return {"reference": label, "tools": tools}
    if parts[1] is None:
        return {**decoded, "tools": tools}
    return label


def _decode_label(label: Any) -> Any:
    if isinstance(label, str):
        try:
            return json.loads(label)
        except ValueError:
            return label  # not JSON: normalise_reference reports it
    return label


def _label_parts(decoded: Any) -> tuple[Any, Any] | None:
    """``(reference, tools)`` of a ``{"reference"|"answers", "tools"}`` object, else ``None``."""
    if isinstance(decoded, Mapping) and ("reference" in decoded or "answers" in decoded):
        reference = decoded["reference"] if "reference" in decoded else decoded["answers"]
        return reference, decoded.get("tools")
    return None


def compute_rewards(
    completions: Sequence[Any],
    labels: Sequence[Any],
    *,
    tools: Any = None,
    weights: Mapping[str, float] | None = None,
    profile: str = "weighted",
    string_match: str = "exact",
) -> list[RewardBreakdown]:
    """Score completions against their labels.

    Args:
        completions: One per label: text, chat messages, or an assistant message dict.
        labels: References, or ``{"reference"|"answers", "tools"}`` objects (see
            :func:`resolve_label`).
        tools: Tools for labels that carry none (any supported schema form).
        weights: Component weights for the ``weighted`` profile (see
            :func:`normalise_weights`).
        profile: ``"weighted"`` (or its former name ``"seed"``), ``"strict"`` or ``"toolrl"``.
        string_match: How exact references compare strings: ``"exact"`` (as written) or
            ``"bfcl"`` (BFCL's standardisation).

    Returns:
        One :class:`RewardBreakdown` per completion. Malformed completions score 0; they never
        raise.

    Raises:
        ToolGradeError: A malformed request: lengths differ, a label or tool schema is invalid,
            bad weights, an unknown profile or string_match.

    Example:
        >>> tools = [{"name": "get_user", "parameters": {"type": "object", "properties": {
        ...     "name": {"type": "string"}, "age": {"type": "integer"}},
        ...     "required": ["name", "age"]}}]
        >>> label = [{"name": "get_user", "arguments": {"name": "Ann", "age": 30}}]
        >>> right = '<tool_call>{"name": "get_user", "arguments": {"name": "Ann", "age": 30}}'
        >>> wrong = '<tool_call>{"name": "get_user", "arguments": {"name": "Bob", "age": 7}}'
        >>> right, wrong = right + "</tool_call>", wrong + "</tool_call>"
        >>> [b.reward for b in compute_rewards([right, wrong, "oops {"], [label] * 3, tools=tools)]
        [1.0, 0.75, 0.0]
    """
    return _score_completions(
        completions,
        labels,
        [tools] * len(completions),
        normalise_weights(weights),
        profile,
        string_match,
    )


def _score_completions(
    completions: Sequence[Any],
    labels: Sequence[Any],
    tools_per_item: Sequence[Any],
    weights: Mapping[str, float],
    profile: str | RewardProfile,
    string_match: str = "exact",
) -> list[RewardBreakdown]:
    chosen = resolve_profile(profile)
    if len(completions) != len(labels):
        raise ToolGradeError(
            f"got {len(completions)} completions but {len(labels)} labels",
            label="reward:length_mismatch",
            param="labels",
        )
    # GRPO repeats each label once per generation: resolve a repeated string label once.
    resolved: dict[tuple[str, int], tuple[Reference, dict[str, ToolSpec]]] = {}
    breakdowns = []
    for completion, label, item_tools in zip(completions, labels, tools_per_item, strict=True):
        if isinstance(label, str):
            key = (label, id(item_tools))
            if key not in resolved:
                resolved[key] = resolve_label(label, item_tools, string_match)
            reference, declared = resolved[key]
        else:
            reference, declared = resolve_label(label, item_tools, string_match)
        breakdowns.append(
            score_completion(parse_calls(completion), reference, declared, weights, chosen)
        )
    return breakdowns


_ZERO = RewardBreakdown(0.0, 0.0, 0.0, 0.0, 0.0)
_ONE = RewardBreakdown(1.0, 1.0, 1.0, 1.0, 1.0)


def score_completion(
    parse: ParseResult,
    reference: Reference,
    tools: Mapping[str, ToolSpec],
    weights: Mapping[str, float] = DEFAULT_WEIGHTS,
    profile: RewardProfile = RewardProfile.WEIGHTED,
) -> RewardBreakdown:
    """Reward one parsed completion (the building block of :func:`compute_rewards`).

    Args:
        parse: The completion, parsed by :func:`service.core.parsing.parse_calls`.
        reference: The normalised reference.
        tools: Declared tools by name.
        weights: Normalised weights (see :func:`normalise_weights`).
        profile: The profile combining the components.

    Returns:
        The :class:`RewardBreakdown`.

    Raises:
        InvalidReferenceError: ``reference`` is an any-call reference
            (``reward:any_call_reference_unsupported``).

    Example:
        >>> from service.core.references import normalise_reference
        >>> score_completion(parse_calls("I cannot help with that."),
        ...     normalise_reference([]), {}).reward
        1.0
    """
    if reference.expects_no_call:
        return _ONE if parse.ok and not parse.calls else _ZERO
    _rewardable(reference)
    if not parse.ok or not parse.calls:
        return _ZERO
    calls = parse.calls
    checks = [check_call_schema(call, tools) for call in calls]
    executes = [check.exec_error is None for check in checks]
    if len(calls) == 1 and len(reference.calls) == 1:  # the common case: the seed's shares
        schema_hit = 1.0 if checks[0].schema_error is None else 0.0
        exec_share = 1.0 if executes[0] else 0.0
    else:
        schema_hit = call_share([c.schema_error is None for c in checks], calls, reference)
        exec_share = call_share(executes, calls, reference)
    if profile is RewardProfile.STRICT:
        verdict, overlap = judge_calls(calls, reference, tools)
        reward = 1.0 if verdict.valid and all(executes) else 0.0
        semantic = overlap.f1
    else:
        semantic = argument_overlap(calls, reference, tools).f1
    components = (1.0, schema_hit, exec_share, semantic)
    if profile is RewardProfile.WEIGHTED:
        # Divided by the weights' own sum: normalised weights may sum to 1 ± an ulp, and the
        # reference must earn exactly 1.0.
        reward = math.fsum(
            [
                weights["json_parse"],
                weights["schema_hit"] * schema_hit,
                weights["exec"] * exec_share,
                weights["semantic"] * semantic,
            ]
        ) / math.fsum(weights.values())
    elif profile is RewardProfile.TOOLRL:
        reward = toolrl_score(calls, reference, tools, checks)
    return RewardBreakdown(*components, reward=min(1.0, max(0.0, reward)))


def call_share(passes: Sequence[bool], calls: Sequence[ToolCall], reference: Reference) -> float:
    """The share behind ``schema_hit`` and ``exec``: answered reference calls that pass a check.

    Each reference call counts once when a predicted call of its name passes (as many per name
    as both sides have); a completion whose every call passes counts at least one. The count
    is divided by ``max(predicted, reference)`` calls, so extra calls dilute the share and
    dropped calls leave it short. For one call against a one-call reference this is the plain
    share of predicted calls that pass.

    Args:
        passes: Whether each predicted call passes the check, in call order.
        calls: The predicted calls (at least one).
        reference: A reference expecting calls.

    Returns:
        The share in [0, 1].

    Example:
        >>> from service.core.references import normalise_reference
        >>> reference = normalise_reference([{"name": "f", "arguments": {}}])
        >>> call_share([True, True], [ToolCall("f", {}), ToolCall("g", {})], reference)
        0.5
        >>> call_share([True], [ToolCall("g", {})], reference)
        1.0
    """
    expected = reference.calls
    if len(calls) == 1 and len(expected) == 1:  # the common case, without the counting
        return 1.0 if passes[0] else 0.0
    # Reference calls per name still free to be answered.
    free: dict[str, int] = {}
    for wanted in expected:
        free[wanted.name] = free.get(wanted.name, 0) + 1
    answered = 0
    every_call_passes = True
    for call, ok in zip(calls, passes, strict=True):
        if not ok:
            every_call_passes = False
        elif free.get(call.name, 0) > 0:
            free[call.name] -= 1
            answered += 1
    if every_call_passes:
        answered = max(answered, 1)
    return answered / max(len(calls), len(expected))


def toolrl_score(
    calls: Sequence[ToolCall],
    reference: Reference,
    tools: Mapping[str, ToolSpec],
    checks: Sequence[CallCheck] | None = None,
) -> float:
    """ToolRL's reward for a well-formed call list, rescaled to [0, 1].

    ``(1 + 6·S/S_max) / 7``: the format point is earned (the calls parsed); see the module
    docstring for ``S`` and ``S_max``.

    Args:
        calls: Parsed calls (at least one).
        reference: A reference expecting calls.
        tools: Declared tools by name (parameter schemas guide value matching).
        checks: Each call's :func:`service.core.metrics.check_call_schema` verdict, when
            already computed.

    Returns:
        The reward in [1/7, 1].

    Example:
        >>> from service.core.references import normalise_reference
        >>> tools = normalise_tools([{"name": "f", "parameters": {"type": "object",
        ...     "properties": {"city": {"type": "string"}}, "required": ["city"]}}])
        >>> reference = normalise_reference([{"name": "f", "arguments": {"city": "Paris"}}])
        >>> round(toolrl_score([ToolCall("f", {"city": "Rome"})], reference, tools), 4)
        0.7143
        >>> toolrl_score([ToolCall("f", {"city": "Paris"})], reference, tools)
        1.0
        >>> round(toolrl_score([ToolCall("f", {})], reference, tools), 4)
        0.4286
    """
    if checks is None:
        checks = [check_call_schema(call, tools) for call in calls]
    expected = reference.calls
    name_score = _multiset_jaccard([c.name for c in calls], [r.name for r in expected])
    value_points = [max(1, len(_mandatory_params(ref, reference))) for ref in expected]
    best_max = 1 + sum(1 + points for points in value_points)
    pair_scores = [
        [
            _toolrl_pair_score(call, ref, points, tools.get(ref.name), reference, check)
            if call.name == ref.name
            else 0.0
            for ref, points in zip(expected, value_points, strict=True)
        ]
        for call, check in zip(calls, checks, strict=True)
    ]
    # Surplus calls dilute the pairs, so a hedge earns less than committing to either call.
    coverage = len(expected) / max(len(calls), len(expected))
    total = name_score + _best_assignment_total(pair_scores) * coverage
    return (1.0 + 6.0 * total / best_max) / 7.0


def _mandatory_params(expected: ReferenceCall, reference: Reference) -> set[str]:
    """Parameters a call must supply: every one of an exact call, those without ``""`` in BFCL."""
    if reference.exact:
        return set(expected.params)
    return {name for name, acceptable in expected.params.items() if "" not in acceptable}


def _multiset_jaccard(left: Sequence[str], right: Sequence[str]) -> float:
    if not left and not right:
        return 1.0
    common = sum((Counter(left) & Counter(right)).values())
    return common / (len(left) + len(right) - common)


def _toolrl_pair_score(
    call: ToolCall,
    expected: ReferenceCall,
    value_points: int,
    spec: ToolSpec | None,
    reference: Reference,
    check: CallCheck,
) -> float:
    """Parameter-name Jaccard plus value points for one paired call (values only if it runs)."""
    given = set(call.arguments)
    # An omittable parameter counts only when supplied: leaving it out neither earns nor costs.
    wanted = _mandatory_params(expected, reference) | (given & set(expected.params))
    union = given | wanted
    names_score = len(given & wanted) / len(union) if union else 1.0
    if check.exec_error is not None:
        return names_score
    if not wanted:
        return names_score + value_points
    parameters = spec.parameters if spec is not None else {}
    matched = sum(
        1
        for name in wanted
        if name in given
        and match_value(
            call.arguments[name],
            expected.params[name],
            parameters.get(name),
            exact=reference.exact,
            standardise_strings=reference.standardise_strings,
        )
    )
    return names_score + value_points * matched / len(wanted)


def _best_assignment_total(scores: list[list[float]]) -> float:
    """Largest total score of a one-to-one pairing (rows: predicted calls, columns: expected)."""
    if not scores or not scores[0]:
        return 0.0
    if len(scores) == 1 or len(scores[0]) == 1:
        return max(max(row) for row in scores)
    return math.fsum(scores[row][column] for row, column in best_assignment(scores))
