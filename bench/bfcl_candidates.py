"""Candidate predictions built from BFCL's shipped data, and BFCL's own checker to judge them.

Used by the differential test (``tests/service/core/test_bfcl_differential.py``) and by
``python -m bench.score_throughput``, which times BFCL's checker and ToolGrade on the same set.

Each :class:`BfclCandidate` carries the item's tools and possible answer in BFCL's raw form,
the prediction both as ToolGrade receives it (``prediction``: ``[{"name", "arguments"}]``,
arguments possibly a JSON string) and as BFCL's checker receives it (``model_output``:
``[{name: {param: value}}]``), and the perturbation that produced it. Generation is
deterministic (no randomness): each perturbation edits the first place it applies to.

BFCL's checker module imports ``bfcl_eval.constants.model_config``, which imports every
provider SDK; :func:`bfcl_checker` registers a stand-in for that one module first (model
names keep their dots: ``underscore_to_dot`` is false).
"""

from __future__ import annotations

import copy
import json
import sys
import types
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from service.core.types import Reference, ReferenceCall, ToolCall

DEFAULT_CATEGORIES = (
    "simple_python",
    "multiple",
    "parallel",
    "parallel_multiple",
    "live_simple",
    "live_multiple",
    "live_parallel",
    "live_parallel_multiple",
)
STAND_IN_MODEL = "toolgrade-differential"


@dataclass(frozen=True, slots=True)
class BfclItem:
    """One BFCL test entry: its tools (function docs) and ground truth."""

    item_id: str
    category: str
    functions: list[dict[str, Any]]
    possible_answer: list[dict[str, dict[str, list[Any]]]]


@dataclass(frozen=True, slots=True)
class BfclCandidate:
    """One prediction to judge, in ToolGrade's and in BFCL's input forms."""

    item: BfclItem
    perturbation: str
    prediction: list[dict[str, Any]]
    model_output: list[dict[str, dict[str, Any]]]

    @property
    def category(self) -> str:
        return self.item.category


def bfcl_data_dir() -> Path:
    import bfcl_eval

    return Path(bfcl_eval.__file__).parent / "data"


def load_bfcl_items(categories: Iterable[str] = DEFAULT_CATEGORIES) -> list[BfclItem]:
    """Read ``BFCL_v4_<category>.json`` and its possible answers (JSON lines, ids aligned)."""
    data_dir = bfcl_data_dir()
    items: list[BfclItem] = []
    for category in categories:
        answers = {
            entry["id"]: entry["ground_truth"]
            for entry in _json_lines(data_dir / "possible_answer" / f"BFCL_v4_{category}.json")
        }
        for entry in _json_lines(data_dir / f"BFCL_v4_{category}.json"):
            items.append(
                BfclItem(
                    item_id=entry["id"],
                    category=category,
                    functions=entry["function"],
                    possible_answer=answers[entry["id"]],
                )
            )
    return items


def _json_lines(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


@cache
def bfcl_checker() -> Callable[[BfclCandidate], bool]:
    """BFCL's ``ast_checker`` as a function of a candidate (its ``valid`` verdict)."""
    stand_in = types.ModuleType("bfcl_eval.constants.model_config")
    stand_in.MODEL_CONFIG_MAPPING = {  # type: ignore[attr-defined]
        STAND_IN_MODEL: types.SimpleNamespace(underscore_to_dot=False)
    }
    sys.modules.setdefault("bfcl_eval.constants.model_config", stand_in)
    from bfcl_eval.constants.enums import Language
    from bfcl_eval.eval_checker.ast_eval.ast_checker import ast_checker

    def check(candidate: BfclCandidate) -> bool:
        result = ast_checker(
            candidate.item.functions,
            candidate.model_output,
            candidate.item.possible_answer,
            Language.PYTHON,
            candidate.item.category,
            STAND_IN_MODEL,
        )
        return bool(result["valid"])

    return check


# --------------------------------------------------------------------------------------------
# Conversions to ToolGrade's core types (what normalise_reference / parse_calls produce)
# --------------------------------------------------------------------------------------------


def reference_from_possible_answer(possible_answer: list[dict[str, dict[str, Any]]]) -> Reference:
    calls = []
    for entry in possible_answer:
        ((name, params),) = entry.items()
        calls.append(
            ReferenceCall(name=name, params={key: tuple(values) for key, values in params.items()})
        )
    return Reference(calls=tuple(calls), exact=False)


def tool_calls_from_prediction(prediction: list[dict[str, Any]]) -> list[ToolCall]:
    calls = []
    for entry in prediction:
        arguments = entry["arguments"]
        if isinstance(arguments, str):
            arguments = json.loads(arguments)
        calls.append(ToolCall(name=entry["name"], arguments=arguments))
    return calls


# --------------------------------------------------------------------------------------------
# Candidate generation
# --------------------------------------------------------------------------------------------

Call = tuple[str, dict[str, Any]]


def generate_candidates(items: Iterable[BfclItem]) -> list[BfclCandidate]:
    """Correct answers and systematic perturbations of every item (deterministic)."""
    candidates: list[BfclCandidate] = []
    for item in items:
        for perturbation, calls, as_json_string in _perturbations(item):
            candidates.append(_candidate(item, perturbation, calls, as_json_string))
    return candidates


def _candidate(
    item: BfclItem, perturbation: str, calls: list[Call], as_json_string: bool
) -> BfclCandidate:
    prediction = [
        {"name": name, "arguments": json.dumps(arguments) if as_json_string else arguments}
        for name, arguments in calls
    ]
    model_output = [{name: arguments} for name, arguments in calls]
    return BfclCandidate(item, perturbation, prediction, model_output)


def _first_answer(item: BfclItem, pick: Callable[[list[Any]], Any]) -> list[Call]:
    calls: list[Call] = []
    for entry in item.possible_answer:
        ((name, params),) = entry.items()
        arguments: dict[str, Any] = {}
        for param, values in params.items():
            present = [value for value in values if value != ""]
            if present:
                arguments[param] = copy.deepcopy(pick(present))
        calls.append((name, arguments))
    return calls


def _schema_of(item: BfclItem, name: str) -> dict[str, Any]:
    for function in item.functions:
        if function["name"] == name:
            return dict(function["parameters"])
    return {"properties": {}, "required": []}


def _acceptable(item: BfclItem, call_index: int, param: str) -> list[Any]:
    ((_name, params),) = item.possible_answer[call_index].items()
    return list(params.get(param, []))


def _perturbations(item: BfclItem) -> Iterator[tuple[str, list[Call], bool]]:
    correct = _first_answer(item, lambda values: values[0])
    yield "correct", correct, False
    alternative = _first_answer(item, lambda values: values[-1])
    if alternative != correct:
        yield "correct_alternative", alternative, False
    yield "arguments_as_json_string", correct, True

    name, arguments = correct[0]
    yield "wrong_name", [(name + "_v2", arguments), *correct[1:]], False
    if name.swapcase() != name:
        yield "name_case", [(name.swapcase(), arguments), *correct[1:]], False

    yield from _parameter_perturbations(item, correct)
    yield from _call_list_perturbations(correct)


def _with_arguments(calls: list[Call], index: int, arguments: dict[str, Any]) -> list[Call]:
    edited = list(calls)
    edited[index] = (calls[index][0], arguments)
    return edited


def _parameter_perturbations(
    item: BfclItem, correct: list[Call]
) -> Iterator[tuple[str, list[Call], bool]]:
    """Edits of single arguments, each kind applied to the first call and parameter it fits."""
    emitted: set[str] = set()
    for index, (name, arguments) in enumerate(correct):
        schema = _schema_of(item, name)
        for kind, edited in _argument_edits(item, index, schema, arguments):
            if kind not in emitted:
                emitted.add(kind)
                yield kind, _with_arguments(correct, index, edited), False


def _argument_edits(
    item: BfclItem, index: int, schema: dict[str, Any], arguments: dict[str, Any]
) -> Iterator[tuple[str, dict[str, Any]]]:
    properties: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", []))
    yield "extra_unknown_param", {**arguments, "unknown_param_zz": 1}
    for param in properties:
        if param not in arguments and param not in _answer_params(item, index):
            yield "extra_schema_param", {**arguments, param: _sample(properties[param])}
    for param, value in arguments.items():
        rest = {key: kept for key, kept in arguments.items() if key != param}
        if param in required:
            yield "missing_required", rest
        elif "" in _acceptable(item, index, param):
            yield "dropped_optional", rest
            yield "null_optional", {**arguments, param: None}
        else:
            yield "dropped_answer_param", rest
        declared = properties.get(param, {}).get("type")
        for kind, new_value in _value_edits(declared, value):
            yield kind, {**arguments, param: new_value}


def _value_edits(declared: str | None, value: Any) -> Iterator[tuple[str, Any]]:
    if declared == "integer" and type(value) is int:
        yield "integer_as_string", str(value)
        yield "float_for_integer", float(value)
        yield "bool_for_integer", True
        yield "integer_off_by_one", value + 1
    if declared == "float" and type(value) is float:
        yield "int_for_float", int(value)
    if declared == "float" and type(value) is int:
        yield "float_for_int_answer", float(value)
    if type(value) is str and value:
        if value.upper() != value:
            yield "string_case", value.upper()
        yield "string_punctuation", _punctuate(value)
        yield "string_changed", value + " extra"
    if type(value) is list and value:
        if value != value[::-1]:
            yield "list_reordered", value[::-1]
        if all(type(element) is int for element in value):
            yield "list_ints_as_floats", [float(element) for element in value]
        if all(type(element) is str for element in value):
            yield "list_string_case", [element.upper() for element in value]
    if type(value) is dict and value:
        first_key = next(iter(value))
        yield "dict_key_dropped", {key: kept for key, kept in value.items() if key != first_key}
        if type(value[first_key]) is str:
            yield "dict_value_case", {**value, first_key: value[first_key].upper()}
        yield "dict_extra_key", {**value, "zz_key": 1}


def _answer_params(item: BfclItem, index: int) -> set[str]:
    ((_name, params),) = item.possible_answer[index].items()
    return set(params)


def _sample(schema: dict[str, Any]) -> Any:
    if "default" in schema and schema["default"] not in ("", None):
        return schema["default"]
    samples = {"string": "sample", "integer": 1, "float": 1.5, "boolean": True}
    return samples.get(schema.get("type", "string"), [])


def _punctuate(value: str) -> str:
    """Spaces become underscores and a trailing full stop is added: equal after standardising."""
    return value.replace(" ", "_") + "."


def _call_list_perturbations(correct: list[Call]) -> Iterator[tuple[str, list[Call], bool]]:
    if len(correct) > 1:
        yield "calls_reversed", correct[::-1], False
        yield "calls_rotated", [*correct[1:], correct[0]], False
        yield "call_duplicated_in_place", [correct[0], correct[0], *correct[2:]], False
    yield "extra_call", [*correct, correct[0]], False
    yield "missing_call", correct[:-1], False
