"""The reward audit: what a profile pays for wrong answers on a dataset, before anyone trains.

For every item (a reference and its tools) :func:`audit_rewards` builds the correct completion
and a catalogue of wrong ones — each wrong value, each dropped call, an extra call to every
declared tool, a duplicate and a hedge of each call, an undeclared tool, a missing required
parameter, an unknown parameter, a wrong type, the answer as JSON in prose, truncated markup,
no call, and a wrong answer padded with calls to other tools — rewards them under each profile
and checks the reward axioms on them:

1. the correct completion (also reordered, and with other acceptable BFCL values) earns 1.0;
2. an extra call to a function the reference does not call never raises the reward (added to
   the correct completion, and to a wrong-valued one);
3. a dropped call never raises it (and at default weights lowers it);
4. a duplicate, a hedge or another call to a referenced tool never raises it (and at default
   weights lowers it);
5. reversing the predicted calls, or the reference's calls, changes nothing;
6. (default weights) a call that cannot execute earns no more than the same call made
   executable with a wrong value;
7. every reward and component is finite and in [0, 1], and nothing raises.

The report gives, per profile and mutation, the count, mean and maximum reward; the **hack
ceiling** (the highest reward of any completion that is not correct, with its example); and
every axiom violation, with an example. Pure: no I/O; ``on_item`` lets a caller show progress.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from service.core.errors import ToolGradeError
from service.core.matching import match_calls, match_value
from service.core.metrics import check_call_schema
from service.core.parsing import parse_calls
from service.core.rewards import (
    DEFAULT_WEIGHTS,
    RewardBreakdown,
    RewardProfile,
    normalise_weights,
    resolve_label,
    resolve_profile,
    score_completion,
)
from service.core.types import ParseResult, Reference, ReferenceCall, ToolSpec, to_json_data

__all__ = [
    "AUDIT_PROFILES",
    "MUTATIONS",
    "AuditReport",
    "MutationStats",
    "ProfileAudit",
    "Violation",
    "audit_rewards",
]

#: The profiles audited when none is named.
AUDIT_PROFILES: Final = tuple(profile.value for profile in RewardProfile)
#: Every completion kind the audit builds, in report order (``correct*`` are right answers).
MUTATIONS: Final = (
    "correct",
    "correct_reordered",
    "correct_alternative",
    "json_in_prose",
    "wrong_value",
    "all_values_wrong",
    "dropped_call",
    "extra_call",
    "duplicate",
    "hedge",
    "undeclared_tool",
    "missing_required",
    "unknown_param",
    "wrong_type",
    "padded_wrong_value",
    "truncated_markup",
    "no_call",
)
#: Violation examples kept per axiom (every violation is counted).
EXAMPLES_PER_AXIOM: Final = 5
_TOLERANCE: Final = 1e-9
_NO_CALL_TEXT: Final = "I can't help with that."
_UNKNOWN_PARAM: Final = "unexpected_param"

Call = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken axiom: which, where, the reward and the bound it crossed."""

    axiom: int
    item: Any
    mutation: str
    reward: float
    bound: float
    detail: str
    completion: Any

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the violation.

        Returns:
            The fields as a dict.

        Example:
            >>> Violation(1, 0, "correct", 0.75, 1.0, "earns less than 1", []).to_dict()["axiom"]
            1
        """
        data: dict[str, Any] = to_json_data(self)
        return data


@dataclass(frozen=True, slots=True)
class MutationStats:
    """Rewards of one mutation over the audited items."""

    mutation: str
    count: int
    mean: float
    max: float


@dataclass(slots=True)
class ProfileAudit:
    """The audit of one profile: per-mutation rewards, hack ceiling, axiom violations."""

    profile: str
    weights: dict[str, float]
    mutations: list[MutationStats] = field(default_factory=list)
    hack_ceiling: float = 0.0
    hack_example: dict[str, Any] | None = None
    violation_counts: dict[int, int] = field(default_factory=dict)
    violations: list[Violation] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the profile's audit.

        Returns:
            ``{"profile", "weights", "mutations", "hack_ceiling", "hack_example",
            "violation_counts", "violations"}``.

        Example:
            >>> ProfileAudit("strict", {}).to_dict()["hack_ceiling"]
            0.0
        """
        return {
            "profile": self.profile,
            "weights": dict(self.weights),
            "mutations": [to_json_data(stats) for stats in self.mutations],
            "hack_ceiling": self.hack_ceiling,
            "hack_example": self.hack_example,
            "violation_counts": {str(axiom): n for axiom, n in self.violation_counts.items()},
            "violations": [violation.to_dict() for violation in self.violations],
        }


@dataclass(frozen=True, slots=True)
class AuditReport:
    """The audit of every requested profile over a dataset."""

    items: int
    skipped: list[dict[str, Any]]
    profiles: list[ProfileAudit]

    @property
    def violation_total(self) -> int:
        """Axiom violations over every profile."""
        return sum(sum(p.violation_counts.values()) for p in self.profiles)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the report.

        Returns:
            ``{"items", "skipped", "violations", "profiles"}``.

        Example:
            >>> AuditReport(0, [], []).to_dict()
            {'items': 0, 'skipped': [], 'violations': 0, 'profiles': []}
        """
        return {
            "items": self.items,
            "skipped": list(self.skipped),
            "violations": self.violation_total,
            "profiles": [profile.to_dict() for profile in self.profiles],
        }


def audit_rewards(
    items: Iterable[Mapping[str, Any]],
    *,
    profiles: Sequence[str] = AUDIT_PROFILES,
    weights: Mapping[str, float] | None = None,
    string_match: str = "exact",
    on_item: Callable[[], None] | None = None,
) -> AuditReport:
    """Audit reward profiles on a dataset: mutation rewards, hack ceilings, axiom violations.

    Args:
        items: ``/score`` items (``reference`` and ``tools``), GRPO prompt rows (``label`` and
            optionally ``tools``), or xLAM rows (``answers`` and ``tools``); ``id`` is kept.
        profiles: Profile names to audit (default: all of them).
        weights: Component weights for ``weighted`` (see
            :func:`service.core.rewards.normalise_weights`). The strict halves of axioms 3 and
            4, and axiom 6, are checked only at the default weights.
        string_match: How exact references compare strings (``"exact"`` or ``"bfcl"``).
        on_item: Called once per item, after it is audited (for a progress bar).

    Returns:
        The :class:`AuditReport`. An item whose reference or tools are malformed is skipped
        and listed with its error label, not raised.

    Raises:
        ToolGradeError: An unknown profile, invalid weights or string_match.

    Example:
        >>> tools = [{"name": "get_weather", "parameters": {"type": "object",
        ...     "properties": {"city": {"type": "string"}}, "required": ["city"]}}]
        >>> item = {"reference": [{"name": "get_weather", "arguments": {"city": "Paris"}}],
        ...         "tools": tools}
        >>> report = audit_rewards([item])
        >>> [(p.profile, round(p.hack_ceiling, 4)) for p in report.profiles]
        [('weighted', 0.75), ('strict', 0.0), ('toolrl', 0.7143)]
        >>> report.violation_total
        0
    """
    chosen = [resolve_profile(profile) for profile in profiles]
    normalised = normalise_weights(weights)
    at_default = normalised == dict(DEFAULT_WEIGHTS)
    audits = {profile: _ProfileAccumulator(profile, normalised) for profile in chosen}
    skipped: list[dict[str, Any]] = []
    count = 0
    for index, item in enumerate(items):
        item_id = item.get("id", index) if isinstance(item, Mapping) else index
        try:
            reference, tools = _resolve_item(item, string_match)
        except ToolGradeError as error:
            skipped.append({"item": item_id, "label": error.label, "message": error.message})
            if on_item is not None:
                on_item()
            continue
        count += 1
        completions = _catalogue(reference, tools)
        parsed = [parse_calls(completion.content) for completion in completions]
        correct = [_is_correct(parse, reference, tools) for parse in parsed]
        reversed_reference = Reference(
            calls=tuple(reversed(reference.calls)),
            exact=reference.exact,
            standardise_strings=reference.standardise_strings,
        )
        for audit in audits.values():
            audit.add_item(
                item_id,
                completions,
                parsed,
                correct,
                reference,
                reversed_reference,
                tools,
                at_default=at_default,
            )
        if on_item is not None:
            on_item()
    return AuditReport(
        items=count,
        skipped=skipped,
        profiles=[audit.finish() for audit in audits.values()],
    )


def _resolve_item(item: Any, string_match: str) -> tuple[Reference, dict[str, ToolSpec]]:
    if not isinstance(item, Mapping):
        raise ToolGradeError(
            f"an audit item is an object, not {type(item).__name__}",
            label="audit:invalid_item",
            param="items",
        )
    tools = item.get("tools")
    if "label" in item:
        return resolve_label(item["label"], tools, string_match)
    for key in ("reference", "answers"):
        if key in item:
            return resolve_label({key: item[key], "tools": tools}, None, string_match)
    raise ToolGradeError(
        "an audit item needs a reference (or label, or answers)",
        label="audit:missing_reference",
        param="items",
    )


# --------------------------------------------------------------------------------------------
# The catalogue of completions
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Completion:
    """One completion of the catalogue and what the axioms compare it with.

    ``call_index`` names the reference call a per-call mutation changed (``executable``: the
    changed call still executes); ``base`` the index of the completion it was derived from by
    adding a call (axiom 2's padded wrong value).
    """

    mutation: str
    content: Any
    call_index: int | None = None
    base: int | None = None
    referenced_tool: bool = False
    executable: bool = False


def _catalogue(reference: Reference, tools: Mapping[str, ToolSpec]) -> list[_Completion]:
    if reference.expects_no_call:
        entries = [_Completion("correct", _NO_CALL_TEXT)]
        entries += [_Completion("extra_call", [_minimal_call(spec)]) for spec in tools.values()]
        entries.append(_Completion("json_in_prose", "Sure: " + json.dumps({"name": "x"})))
        return entries
    correct = [_answer(call, reference, first=True) for call in reference.calls]
    entries = [_Completion("correct", correct)]
    if len(correct) > 1:
        entries.append(_Completion("correct_reordered", correct[::-1]))
    alternative = [_answer(call, reference, first=False) for call in reference.calls]
    if alternative != correct:
        entries.append(_Completion("correct_alternative", alternative))
    entries.append(
        _Completion("json_in_prose", "Here you go: " + json.dumps(correct) + " Anything else?")
    )
    wrong_by_call: dict[int, list[Call]] = {}
    all_wrong = []
    for index, call in enumerate(correct):
        spec = tools.get(call["name"])
        wrong_by_call[index] = _wrong_valued(call, reference.calls[index], spec, reference)
        for wrong in wrong_by_call[index]:
            entries.append(
                _Completion(
                    "wrong_value",
                    _replaced(correct, index, wrong),
                    index,
                    executable=_executes(wrong, tools),
                )
            )
        all_wrong.append(_all_values_wrong(call, wrong_by_call[index]))
        if len(correct) > 1:
            entries.append(_Completion("dropped_call", _without(correct, index), index))
        entries.append(_Completion("duplicate", [*correct, call], index))
        if wrong_by_call[index]:
            entries.append(_Completion("hedge", [*correct, wrong_by_call[index][0]], index))
        renamed = {"name": _undeclared_name(call["name"], tools), "arguments": call["arguments"]}
        entries.append(_Completion("undeclared_tool", _replaced(correct, index, renamed), index))
        for broken_kind, broken in _broken_variants(call, spec):
            entries.append(_Completion(broken_kind, _replaced(correct, index, broken), index))
    if any(call["arguments"] for call in all_wrong):
        entries.append(_Completion("all_values_wrong", all_wrong))
    referenced = {call.name for call in reference.calls}
    for spec in tools.values():
        entries.append(
            _Completion(
                "extra_call",
                [*correct, _minimal_call(spec)],
                referenced_tool=spec.name in referenced,
            )
        )
    strangers = [_minimal_call(spec) for spec in tools.values() if spec.name not in referenced]
    stranger = strangers[0] if strangers else {"name": _undeclared_name("tool", tools)}
    for base_index, entry in enumerate(list(entries)):
        if entry.mutation == "wrong_value":
            padded = [*entry.content, {"arguments": {}, **stranger}]
            entries.append(_Completion("padded_wrong_value", padded, base=base_index))
            break
    entries.append(_Completion("truncated_markup", _truncated_hermes(correct)))
    entries.append(_Completion("no_call", _NO_CALL_TEXT))
    return entries


def _answer(expected: ReferenceCall, reference: Reference, *, first: bool) -> Call:
    """The reference call as a predicted call (BFCL: the first or last acceptable values)."""
    arguments = {}
    for name, acceptable in expected.params.items():
        options = [value for value in acceptable if value != ""] if not reference.exact else []
        if reference.exact:
            arguments[name] = acceptable[0]
        elif options and (first or "" not in acceptable):
            arguments[name] = options[0] if first else options[-1]
    return {"name": expected.name, "arguments": arguments}


def _replaced(calls: list[Call], index: int, call: Call) -> list[Call]:
    return [call if i == index else other for i, other in enumerate(calls)]


def _without(calls: list[Call], index: int) -> list[Call]:
    return [other for i, other in enumerate(calls) if i != index]


def _undeclared_name(name: str, tools: Mapping[str, ToolSpec]) -> str:
    candidate = name + "_v2"
    while candidate in tools:
        candidate += "_v2"
    return candidate


def _wrong_valued(
    call: Call, expected: ReferenceCall, spec: ToolSpec | None, reference: Reference
) -> list[Call]:
    """The call with one argument changed to a value the reference rejects, one per argument.

    The value is wrong for every reference call of the same function (not another call's
    right value), and an executable one (of the parameter's type, within its schema) is
    preferred.
    """
    variants = []
    parameters = spec.parameters if spec is not None else {}
    tools = {spec.name: spec} if spec is not None else {}
    namesakes = [other for other in reference.calls if other.name == expected.name]
    for name, value in call["arguments"].items():
        schema = parameters.get(name)
        rejected = [
            {"name": call["name"], "arguments": {**call["arguments"], name: wrong}}
            for wrong in _wrong_candidates(value, schema)
            if not any(
                match_value(
                    wrong,
                    other.params.get(name, ()),
                    schema,
                    exact=reference.exact,
                    standardise_strings=reference.standardise_strings,
                )
                for other in namesakes
            )
        ]
        if rejected:
            executable = [variant for variant in rejected if _executes(variant, tools)]
            variants.append((executable or rejected)[0])
    return variants


def _all_values_wrong(call: Call, one_wrong_each: list[Call]) -> Call:
    """Every argument that has a wrong value, wrong at once (the format-only answer)."""
    arguments = dict(call["arguments"])
    for variant in one_wrong_each:
        for name, value in variant["arguments"].items():
            original = call["arguments"].get(name)
            if value != original or type(value) is not type(original):
                arguments[name] = value
    return {"name": call["name"], "arguments": arguments}


def _executes(call: Call, tools: Mapping[str, ToolSpec]) -> bool:
    return check_call_schema(_as_call(call), tools).exec_error is None


def _wrong_candidates(value: Any, schema: Mapping[str, Any] | None) -> list[Any]:
    enum = schema.get("enum") if schema else None
    if isinstance(enum, list) and enum:
        return [option for option in enum if option != value]
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int):
        return [value + 1, value + 7]
    if isinstance(value, float):
        return [value + 1.5, -value - 2.5]
    if isinstance(value, str):
        return ["zz" + value + "zz", "completely different"]
    if isinstance(value, list):
        if not value:
            return [["zz"]]
        # Same length first (schemas often fix it), then one element shorter or longer.
        changed_first = [[wrong, *value[1:]] for wrong in _wrong_candidates(value[0], None)]
        return [value[::-1], *changed_first, value[:-1], [*value, value[0]]]
    if isinstance(value, Mapping):
        return [{**value, "zz_key": "zz"}]
    return []


def _broken_variants(call: Call, spec: ToolSpec | None) -> list[tuple[str, Call]]:
    """The call made unable to execute, one way per entry (only ways that really break it)."""
    name, arguments = call["name"], call["arguments"]
    variants: list[tuple[str, Call]] = []
    if spec is not None:
        for required in sorted(spec.required & arguments.keys()):
            rest = {key: value for key, value in arguments.items() if key != required}
            variants.append(("missing_required", {"name": name, "arguments": rest}))
    unknown = _UNKNOWN_PARAM
    while unknown in arguments:
        unknown += "_"
    variants.append(("unknown_param", {"name": name, "arguments": {**arguments, unknown: "x"}}))
    for key, value in arguments.items():
        variants.append(
            ("wrong_type", {"name": name, "arguments": {**arguments, key: _mistyped(value)}})
        )
    if spec is None:
        return variants
    tools = {spec.name: spec}
    return [
        (kind, variant)
        for kind, variant in variants
        if check_call_schema(_as_call(variant), tools).exec_error is not None
    ]


def _mistyped(value: Any) -> Any:
    if isinstance(value, bool):
        return "yes"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return 12345
    if isinstance(value, list):
        return {"not": "a list"}
    if isinstance(value, Mapping):
        return ["not", "an", "object"]
    return 1


def _as_call(call: Call) -> Any:
    from service.core.types import ToolCall

    return ToolCall(call["name"], call["arguments"])


def _minimal_call(spec: ToolSpec) -> Call:
    """A call to the tool with its required parameters set to simple values of their type."""
    return {
        "name": spec.name,
        "arguments": {
            name: _simple_value(spec.parameters.get(name)) for name in sorted(spec.required)
        },
    }


def _simple_value(schema: Mapping[str, Any] | None) -> Any:
    if not schema:
        return "x"
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = kind[0] if kind else None
    return {"integer": 1, "number": 1.5, "boolean": True, "array": [], "object": {}}.get(
        kind if isinstance(kind, str) else "", "x"
    )


def _truncated_hermes(calls: list[Call]) -> str:
    blocks = [f"<tool_call>\n{json.dumps(call)}\n</tool_call>" for call in calls]
    last = json.dumps(calls[-1])
    return "".join(blocks[:-1]) + "<tool_call>\n" + last[: max(1, len(last) // 2)]


def _is_correct(parse: ParseResult, reference: Reference, tools: Mapping[str, ToolSpec]) -> bool:
    """Right answer: parsed, fully valid against the reference, every call executable."""
    if not parse.ok:
        return False
    if reference.expects_no_call:
        return not parse.calls
    if not parse.calls or not match_calls(parse.calls, reference, tools).valid:
        return False
    return all(check_call_schema(call, tools).exec_error is None for call in parse.calls)


# --------------------------------------------------------------------------------------------
# Rewards and axioms
# --------------------------------------------------------------------------------------------


class _ProfileAccumulator:
    """Collects one profile's rewards and violations over the items."""

    def __init__(self, profile: RewardProfile, weights: dict[str, float]) -> None:
        self.profile = profile
        self.weights = weights
        self.sums: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        self.maxima: dict[str, float] = {}
        self.ceiling = 0.0
        self.ceiling_example: dict[str, Any] | None = None
        self.violation_counts: dict[int, int] = {}
        self.examples: list[Violation] = []

    def _score(
        self, parse: ParseResult, reference: Reference, tools: Mapping[str, ToolSpec]
    ) -> RewardBreakdown | str:
        try:
            return score_completion(parse, reference, tools, self.weights, self.profile)
        except Exception as error:  # axiom 7: anything raised is a violation, reported
            return f"{type(error).__name__}: {error}"

    def violate(
        self,
        axiom: int,
        item: Any,
        completion: _Completion,
        reward: float,
        bound: float,
        detail: str,
    ) -> None:
        self.violation_counts[axiom] = self.violation_counts.get(axiom, 0) + 1
        if sum(1 for v in self.examples if v.axiom == axiom) < EXAMPLES_PER_AXIOM:
            self.examples.append(
                Violation(
                    axiom, item, completion.mutation, reward, bound, detail, completion.content
                )
            )

    def add_item(
        self,
        item: Any,
        completions: list[_Completion],
        parsed: list[ParseResult],
        correct: list[bool],
        reference: Reference,
        reversed_reference: Reference,
        tools: Mapping[str, ToolSpec],
        *,
        at_default: bool,
    ) -> None:
        rewards: list[float] = []
        for completion, parse in zip(completions, parsed, strict=True):
            outcome = self._score(parse, reference, tools)
            if isinstance(outcome, str):
                self.violate(7, item, completion, math.nan, 1.0, outcome)
                rewards.append(0.0)
                continue
            values = outcome.to_dict()
            if not all(math.isfinite(v) and 0.0 <= v <= 1.0 for v in values.values()):
                self.violate(7, item, completion, outcome.reward, 1.0, f"out of [0, 1]: {values}")
            rewards.append(outcome.reward)
        for completion, reward, right in zip(completions, rewards, correct, strict=True):
            mutation = completion.mutation
            self.sums[mutation] = self.sums.get(mutation, 0.0) + reward
            self.counts[mutation] = self.counts.get(mutation, 0) + 1
            self.maxima[mutation] = max(self.maxima.get(mutation, 0.0), reward)
            if not right and reward > self.ceiling:
                self.ceiling = reward
                self.ceiling_example = {
                    "item": item,
                    "mutation": mutation,
                    "reward": reward,
                    "completion": completion.content,
                }
        self._check_axioms(
            item, completions, parsed, rewards, reference, reversed_reference, tools, at_default
        )

    def _check_axioms(
        self,
        item: Any,
        completions: list[_Completion],
        parsed: list[ParseResult],
        rewards: list[float],
        reference: Reference,
        reversed_reference: Reference,
        tools: Mapping[str, ToolSpec],
        at_default: bool,
    ) -> None:
        best = rewards[0]  # the correct completion
        wrong_by_call: dict[int, list[float]] = {}
        for completion, reward in zip(completions, rewards, strict=True):
            if (
                completion.mutation == "wrong_value"
                and completion.call_index is not None
                and completion.executable
            ):
                wrong_by_call.setdefault(completion.call_index, []).append(reward)
        for completion, parse, reward in zip(completions, parsed, rewards, strict=True):
            mutation = completion.mutation
            if mutation in ("correct", "correct_reordered", "correct_alternative"):
                if abs(reward - 1.0) > _TOLERANCE:
                    self.violate(
                        1, item, completion, reward, 1.0, "the right answer earns less than 1"
                    )
                self._check_order(item, completion, parse, reward, reversed_reference, tools)
            elif mutation == "extra_call" and not completion.referenced_tool:
                self._at_most(2, item, completion, reward, best, strictly=False)
            elif mutation == "padded_wrong_value" and completion.base is not None:
                self._at_most(2, item, completion, reward, rewards[completion.base], strictly=False)
            elif mutation in ("dropped_call", "no_call") and not reference.expects_no_call:
                self._at_most(3, item, completion, reward, best, strictly=at_default)
            elif mutation in ("duplicate", "hedge", "extra_call"):
                self._at_most(4, item, completion, reward, best, strictly=at_default)
            elif (
                mutation in ("missing_required", "unknown_param", "wrong_type")
                and at_default
                and completion.call_index in wrong_by_call
            ):
                bound = min(wrong_by_call[completion.call_index])
                if reward > bound + _TOLERANCE:
                    self.violate(6, item, completion, reward, bound, "broken beats executable")
            if (
                mutation in ("wrong_value", "hedge", "duplicate", "extra_call")
                and isinstance(completion.content, list)
                and len(completion.content) > 1
            ):
                self._check_order(item, completion, parse, reward, reversed_reference, tools)

    def _at_most(
        self,
        axiom: int,
        item: Any,
        completion: _Completion,
        reward: float,
        bound: float,
        *,
        strictly: bool,
    ) -> None:
        if reward > bound + _TOLERANCE or (strictly and reward >= bound - _TOLERANCE):
            relation = "not below" if strictly else "above"
            self.violate(axiom, item, completion, reward, bound, f"{relation} the right answer")

    def _check_order(
        self,
        item: Any,
        completion: _Completion,
        parse: ParseResult,
        reward: float,
        reversed_reference: Reference,
        tools: Mapping[str, ToolSpec],
    ) -> None:
        reversed_calls = ParseResult(calls=tuple(reversed(parse.calls)), error=parse.error)
        for label, outcome in (
            ("predicted calls reversed", self._score(reversed_calls, reversed_reference, tools)),
            ("reference reversed", self._score(parse, reversed_reference, tools)),
        ):
            other = outcome.reward if isinstance(outcome, RewardBreakdown) else math.nan
            if not abs(other - reward) <= _TOLERANCE:
                self.violate(5, item, completion, other, reward, f"{label} changes the reward")

    def finish(self) -> ProfileAudit:
        order = {name: position for position, name in enumerate(MUTATIONS)}
        stats = [
            MutationStats(
                mutation=name,
                count=self.counts[name],
                mean=self.sums[name] / self.counts[name],
                max=self.maxima[name],
            )
            for name in sorted(self.counts, key=lambda name: order.get(name, len(order)))
        ]
        return ProfileAudit(
            profile=self.profile.value,
            weights=self.weights if self.profile is RewardProfile.WEIGHTED else {},
            mutations=stats,
            hack_ceiling=self.ceiling,
            hack_example=self.ceiling_example,
            violation_counts=dict(sorted(self.violation_counts.items())),
            violations=self.examples,
        )
