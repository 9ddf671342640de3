"""Evaluation datasets: xLAM rows, BFCL question/answer file pairs and prepared chat splits.

Every loader returns :class:`EvalItem` objects: the chat turns to send, the tool schemas as the
dataset wrote them (the core normalises any supported form when scoring) and the reference.
Nothing here talks to a model or scores anything.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from service.core.errors import ToolGradeError
from service.core.references import ANY_CALL_KEY
from service.core.shapes import call_shape


class DatasetError(ToolGradeError):
    """A dataset file that cannot be turned into evaluation items (labels ``dataset:...``)."""


class DatasetFormat(StrEnum):
    """The input layouts ``toolgrade eval run`` understands."""

    AUTO = "auto"
    XLAM = "xlam"
    BFCL = "bfcl"
    PREPARED = "prepared"


@dataclass(frozen=True, slots=True)
class EvalItem:
    """One evaluation case.

    ``messages`` are the chat turns sent to the model; ``tools`` the tool schemas in the form
    the dataset used (OpenAI, BFCL or xLAM); ``reference`` the ground truth in any form the core
    accepts (exact calls, BFCL possible answers, ``[]`` for "no call should be made").
    """

    id: str
    category: str | None
    messages: tuple[Mapping[str, Any], ...]
    tools: tuple[Mapping[str, Any], ...]
    reference: Any


# BFCL ids are "<category>_<n>" or, for the live sets, "<category>_<n>-<m>-<k>".
_BFCL_ID = re.compile(r"^(?P<category>.+?)_\d+(?:-\d+)*$")
# "BFCL_v4" of "BFCL_v4_format_sensitivity": the prefix of the category files beside it.
_BFCL_VERSION_PREFIX = re.compile(r"^(BFCL_v\d+)_")
# Categories shipped without possible answers because the right answer is "no call".
_NO_CALL_CATEGORIES = ("irrelevance", "live_irrelevance")
# Categories where any call is right (no possible answers either).
_ANY_CALL_CATEGORIES = ("live_relevance",)


def load_dataset(
    path: Path,
    *,
    answers: Path | None = None,
    dataset_format: DatasetFormat = DatasetFormat.AUTO,
    limit: int | None = None,
    categories: Sequence[str] | None = None,
) -> list[EvalItem]:
    """Load evaluation items from a file (or a prepared-split directory).

    Args:
        path: an xLAM JSON/JSONL file, a BFCL question file (JSON lines), a BFCL id selection
            (``BFCL_v4_format_sensitivity.json``: ``{category: [ids]}``, the items read from
            the category files beside it), or a prepared split (TRL ``messages`` + ``tools``
            JSONL, or the directory holding it).
        answers: the BFCL possible-answer file; by default ``possible_answer/<name>`` next to
            ``path`` (BFCL's own layout). Irrelevance categories need none.
        dataset_format: force a layout instead of detecting it from the first row.
        limit: keep only the first ``limit`` items (after category filtering).
        categories: keep only items whose category is listed.

    Returns:
        The items, in file order.

    Raises:
        DatasetError: unreadable file, unknown layout, missing answers, duplicate ids.
    """
    path = _dataset_file(path)
    id_selection = _bfcl_id_selection(path)
    if id_selection is not None:
        items = _selected_bfcl_items(path, id_selection)
        _check_unique_ids(items)
        if categories:
            items = [item for item in items if item.category in set(categories)]
        return items[:limit] if limit is not None else items
    rows = _read_rows(path)
    if not rows:
        raise DatasetError(f"{path} holds no rows", label="dataset:empty")
    chosen = _detect_format(rows, path) if dataset_format is DatasetFormat.AUTO else dataset_format
    if chosen is DatasetFormat.BFCL:
        items = bfcl_items(rows, _read_bfcl_answers(path, answers))
    elif chosen is DatasetFormat.XLAM:
        items = xlam_items(rows)
    else:
        items = prepared_items(rows)
    _check_unique_ids(items)
    if categories:
        wanted = set(categories)
        items = [item for item in items if item.category in wanted]
    return items[:limit] if limit is not None else items


def detect_format(path: Path) -> DatasetFormat:
    """The layout of a dataset file (or prepared-split directory), judged by its first row."""
    path = _dataset_file(path)
    return _detect_format(_read_rows(path), path)


def xlam_items(rows: Iterable[Mapping[str, Any]]) -> list[EvalItem]:
    """Items from xLAM rows ``{"id", "query", "tools", "answers"}``.

    ``tools`` and ``answers`` may be JSON strings (as in the published data) or decoded lists.
    xLAM has no categories, so each item is labelled by the shape of its answer:
    ``no_call``, ``simple`` (one call), ``parallel`` (several calls of one function) or
    ``parallel_multiple`` (calls of several functions) — BFCL's names for the same shapes.
    """
    items = []
    for index, row in enumerate(rows):
        where = f"xLAM row {index}"
        query = row.get("query")
        if not isinstance(query, str) or not query.strip():
            raise DatasetError(f"{where} has no query", label="dataset:missing_query")
        answers = _decode_json_field(row.get("answers"), where, "answers")
        tools = _decode_json_field(row.get("tools"), where, "tools")
        items.append(
            EvalItem(
                id=str(row.get("id", index)),
                category=row.get("category") or call_shape(answers),
                messages=({"role": "user", "content": query},),
                tools=tuple(tools or ()),
                reference=answers or [],
            )
        )
    return items


def bfcl_items(
    questions: Iterable[Mapping[str, Any]], answers: Mapping[str, Any] | None
) -> list[EvalItem]:
    """Items from BFCL question rows joined to their possible answers by id.

    Args:
        questions: rows ``{"id", "question": [[messages]], "function": [schemas]}``.
        answers: ``id -> ground_truth`` (BFCL possible answers); ``None`` when the file has
            none, which only the irrelevance categories (their answer is "no call") and
            ``live_relevance`` (any call to an offered tool is right) may lack.

    Raises:
        DatasetError: a multi-turn row, a row without functions, or an id with no answer.
    """
    items = []
    for row in questions:
        item_id = str(row.get("id", ""))
        category = bfcl_category(item_id)
        turns = row.get("question")
        if "function" not in row or not isinstance(turns, list) or not turns:
            raise DatasetError(
                f"BFCL row {item_id!r} has no function list or question "
                "(memory, web-search and multi-turn categories need BFCL's own executor)",
                label="dataset:unsupported_bfcl_row",
            )
        # Single-turn categories hold one turn: a list of messages.
        if isinstance(turns[0], list):
            if len(turns) != 1:
                raise DatasetError(
                    f"BFCL row {item_id!r} is multi-turn ({len(turns)} turns)",
                    label="dataset:multi_turn_unsupported",
                )
            turns = turns[0]
        if answers is not None and item_id in answers:
            reference = answers[item_id]
        elif category in _NO_CALL_CATEGORIES:
            reference = []
        elif category in _ANY_CALL_CATEGORIES:
            reference = {ANY_CALL_KEY: True}
        else:
            raise DatasetError(
                f"BFCL row {item_id!r} has no possible answer (pass the answer file)",
                label="dataset:missing_answer",
            )
        items.append(
            EvalItem(
                id=item_id,
                category=category,
                messages=tuple(turns),
                tools=tuple(row["function"]),
                reference=reference,
            )
        )
    return items


def prepared_items(rows: Iterable[Mapping[str, Any]]) -> list[EvalItem]:
    """Items from a prepared split: TRL ``{"messages", "tools"}`` rows (``toolgrade prepare``).

    The last assistant turn is the target: its ``tool_calls`` become the exact reference
    (none means the model should answer without calling); the turns before it are the prompt.
    """
    items = []
    for index, row in enumerate(rows):
        where = f"prepared row {index}"
        messages = _decode_json_field(row.get("messages"), where, "messages")
        if not isinstance(messages, list):
            raise DatasetError(f"{where} has no messages list", label="dataset:missing_messages")
        target = _last_assistant_index(messages)
        if target is None:
            raise DatasetError(f"{where} has no assistant turn", label="dataset:no_assistant_turn")
        reference = [
            _reference_call(call, where) for call in messages[target].get("tool_calls") or []
        ]
        tools = _decode_json_field(row.get("tools"), where, "tools") or []
        items.append(
            EvalItem(
                id=str(row.get("id", index)),
                category=row.get("category") or call_shape(reference),
                messages=tuple(messages[:target]),
                tools=tuple(tools),
                reference=reference,
            )
        )
    return items


def bfcl_category(item_id: str) -> str | None:
    """The BFCL category encoded in an id.

    Example:
        >>> bfcl_category("live_simple_0-0-0"), bfcl_category("parallel_multiple_12")
        ('live_simple', 'parallel_multiple')
    """
    match = _BFCL_ID.match(item_id)
    return match.group("category") if match else None


def _read_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a JSON array, a JSON object per line, or a parquet file."""
    if not path.is_file():
        raise DatasetError(f"{path} does not exist", label="dataset:not_found")
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq  # only installed with the train extra

        return list(pq.read_table(path).to_pylist())
    text = path.read_text(encoding="utf-8")
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DatasetError(
                f"{path}: invalid JSON: {exc}", label="dataset:invalid_json"
            ) from exc
    else:
        # BFCL ships JSON lines under a .json name, so every non-array file is read as lines.
        rows = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise DatasetError(
                    f"{path}:{number}: invalid JSON line: {exc}", label="dataset:invalid_json"
                ) from exc
    objects: list[dict[str, Any]] = [row for row in rows if isinstance(row, dict)]
    if len(objects) != len(rows):
        raise DatasetError(f"{path}: every row must be a JSON object", label="dataset:not_object")
    return objects


def _dataset_file(path: Path) -> Path:
    return _prepared_split_file(path) if path.is_dir() else path


def _detect_format(rows: Sequence[Mapping[str, Any]], path: Path) -> DatasetFormat:
    if not rows:
        raise DatasetError(f"{path} holds no rows", label="dataset:empty")
    row = rows[0]
    if "question" in row:
        return DatasetFormat.BFCL
    if "query" in row and "answers" in row:
        return DatasetFormat.XLAM
    if "messages" in row:
        return DatasetFormat.PREPARED
    raise DatasetError(
        f"{path}: rows look like none of xLAM (query/tools/answers), BFCL (id/question/function) "
        f"or a prepared split (messages/tools); first row keys: {sorted(row)}",
        label="dataset:unknown_format",
    )


def _bfcl_id_selection(path: Path) -> dict[str, list[str]] | None:
    """A BFCL id selection file (``{category: [ids]}``, one JSON object), or None."""
    if not path.is_file() or path.suffix != ".json":
        return None
    text = path.read_text(encoding="utf-8")
    if not text.lstrip().startswith("{"):
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return None  # JSON lines: a question file
    if not isinstance(value, dict) or "id" in value or not value:
        return None
    if not all(
        isinstance(ids, list) and all(isinstance(i, str) for i in ids) for ids in value.values()
    ):
        return None
    return {str(category): list(ids) for category, ids in value.items()}


def _selected_bfcl_items(path: Path, selection: Mapping[str, list[str]]) -> list[EvalItem]:
    """The selected items, read from ``<prefix>_<category>.json`` beside the selection file
    (BFCL's layout: ``BFCL_v4_format_sensitivity.json`` selects from ``BFCL_v4_simple_python.json``
    and the others), answers from their ``possible_answer`` files."""
    version = _BFCL_VERSION_PREFIX.match(path.stem)
    prefix = version.group(1) if version else path.stem
    items = []
    for category, ids in selection.items():
        source = path.parent / f"{prefix}_{category}.json"
        if not source.is_file():
            raise DatasetError(
                f"{path} selects {category!r} items, but {source} does not exist",
                label="dataset:not_found",
            )
        wanted = set(ids)
        chosen = [row for row in _read_rows(source) if str(row.get("id")) in wanted]
        found = {str(row["id"]) for row in chosen}
        if found != wanted:
            raise DatasetError(
                f"{source} lacks the selected ids {sorted(wanted - found)[:5]}",
                label="dataset:missing_item",
            )
        items.extend(bfcl_items(chosen, _read_bfcl_answers(source, None)))
    return items


def _read_bfcl_answers(questions: Path, answers: Path | None) -> dict[str, Any] | None:
    if answers is None:
        beside = questions.parent / "possible_answer" / questions.name
        if not beside.is_file():
            return None
        answers = beside
    return {str(row["id"]): row.get("ground_truth") for row in _read_rows(answers)}


def _prepared_split_file(directory: Path) -> Path:
    """The held-out split of a ``toolgrade prepare`` output folder: ``trl/eval.jsonl``.

    The TRL rows carry the training system prompt, so the fine-tuned model is evaluated under
    the prompt it was trained with. A folder that directly holds the split works too.
    """
    for folder in (directory / "trl", directory):
        for name in ("eval.jsonl", "test.jsonl", "validation.jsonl"):
            if (folder / name).is_file():
                return folder / name
    raise DatasetError(
        f"{directory} holds no held-out split (looked for trl/eval.jsonl, eval/test/validation)",
        label="dataset:no_split",
    )


def _decode_json_field(value: Any, where: str, field: str) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise DatasetError(
            f"{where}: {field} is not valid JSON: {exc}", label="dataset:invalid_json"
        ) from exc


def _last_assistant_index(messages: Sequence[Mapping[str, Any]]) -> int | None:
    for index in range(len(messages) - 1, -1, -1):
        if messages[index].get("role") == "assistant":
            return index
    return None


def _reference_call(call: Mapping[str, Any], where: str) -> dict[str, Any]:
    """An exact reference call from an OpenAI-style ``tool_calls`` entry."""
    function = call.get("function", call)
    arguments = _decode_json_field(function.get("arguments", {}), where, "tool call arguments")
    return {"name": function.get("name"), "arguments": arguments}


def _check_unique_ids(items: Sequence[EvalItem]) -> None:
    seen: set[str] = set()
    for item in items:
        if item.id in seen:
            raise DatasetError(f"duplicate item id {item.id!r}", label="dataset:duplicate_id")
        seen.add(item.id)
