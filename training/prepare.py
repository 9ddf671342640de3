"""``toolgrade prepare``: xLAM function-calling rows -> three training formats and a report.

Input rows look like ``Salesforce/xlam-function-calling-60k``: ``{"id", "query", "tools",
"answers"}`` where ``tools`` and ``answers`` are usually JSON *strings* (decoded lists are
accepted too); an optional ``response`` gives the assistant's text for a row that expects no
call. Every row is validated with the core (``service.core.schema``) and either kept or rejected
with an ``area:reason`` label; nothing is dropped silently. Real-data quirks pass through:
``, optional`` types, defaults stored as strings, and answer values that break their declared
type (kept, and flagged with the core's ``schema:...`` label).

Outputs under ``output_dir`` (90/10 split, seed 42 by default, deterministic):

- ``llamafactory/``: ShareGPT rows ``{"conversations", "tools"}`` with a system turn, then
  ``human`` -> ``function_call`` (or ``gpt`` for a no-call row), and ``dataset_info.json``;
- ``trl/``: ``{"id", "messages", "tools", ...}`` JSONL for TRL's SFTTrainer (assistant
  ``tool_calls`` turns, arguments as JSON strings);
- ``grpo/``: ``{"id", "prompt", "label", ...}`` JSONL; ``prompt`` is rendered with the row's
  own tools through the tokenizer's chat template (TRL's GRPO ignores a per-row tools column)
  and ``label`` holds ``{"answers", "tools"}`` for ToolGrade's ``/reward``;
- ``verl/``: ``{split}.parquet`` for verl's RL trainer: ``data_source``, ``prompt`` (chat
  messages; the row's tools are written into the system turn, since verl renders every prompt
  with one trainer-wide tool list), ``ability``, ``reward_model`` (``{"style": "rule",
  "ground_truth": <the /reward label>}``) and ``extra_info``; scored by
  :mod:`clients.verl_reward`;
- ``splits/``: the kept rows in xLAM form, ``rejected.jsonl`` and ``report.json``.
"""

from __future__ import annotations

import json
import os
import random
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from service.core.errors import InvalidToolSchemaError
from service.core.schema import normalise_tool, validate_arguments
from service.core.shapes import call_shape
from service.core.types import ToolSpec
from training.config import XLAM_HUB_ID, PrepareConfig
from training.errors import TrainingJobError

REJECTION_REASONS = {
    "prepare:not_an_object": "the row is not a JSON object",
    "prepare:invalid_json": "a line, `tools`, `answers` or call arguments are not valid JSON",
    "prepare:missing_field": "`query`, `tools` or `answers` is absent",
    "prepare:empty_query": "`query` is blank or not a string",
    "prepare:invalid_tools": "`tools` is not a list of tool objects",
    "prepare:invalid_tool_schema": "a tool matches none of the supported schema forms",
    "prepare:duplicate_tool": "two tools share a name",
    "prepare:invalid_answers": "`answers` is not a list of {name, arguments} objects",
    "prepare:undeclared_tool": "an answer calls a tool the row does not declare",
    "prepare:duplicate_id": "the row's id was already used by an earlier row",
}

ProgressHook = Callable[[str, int, int | None], None]
"""``hook(stage, advance, total)``: ``total`` is set on a stage's first call."""


@dataclass(frozen=True)
class XlamRow:
    """A validated row: decoded tools and answers, the same tools normalised, and flags."""

    id: str
    query: str
    tools: tuple[dict[str, Any], ...]
    answers: tuple[dict[str, Any], ...]
    specs: tuple[ToolSpec, ...]
    response: str | None = None
    flags: tuple[str, ...] = ()

    @property
    def category(self) -> str:
        """The answer's shape in BFCL's words (see :func:`call_shape`)."""
        return call_shape(self.answers)

    def function_schemas(self) -> list[dict[str, Any]]:
        """The tools as plain function objects ``{"name", "description", "parameters"}``.

        Parameters are the core's JSON Schema translation of each tool (xLAM type strings mapped
        faithfully, descriptions and defaults kept as given), so every tool reads the same way
        to the model whatever form the data used.
        """
        functions = []
        for spec in self.specs:
            properties = spec.json_schema.get("properties", {})
            functions.append(
                {
                    "name": spec.name,
                    "description": spec.description,
                    "parameters": {
                        "type": "object",
                        "properties": properties,
                        "required": [name for name in properties if name in spec.required],
                    },
                }
            )
        return functions


@dataclass(frozen=True)
class Rejection:
    """A row that was not kept, why (``reason``) and a human-readable ``detail``."""

    index: int
    id: str | None
    reason: str
    detail: str
    row: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "id": self.id,
            "reason": self.reason,
            "detail": self.detail,
            "row": self.row,
        }


@dataclass
class PrepareReport:
    """What ``prepare`` did: counts by reason and flag, split sizes, files written."""

    source: str
    read: int = 0
    kept: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    flagged: Counter[str] = field(default_factory=Counter)
    flagged_rows: int = 0
    categories: Counter[str] = field(default_factory=Counter)
    splits: dict[str, int] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "read": self.read,
            "kept": self.kept,
            "rejected_total": sum(self.rejected.values()),
            "rejected": dict(sorted(self.rejected.items())),
            "flagged_rows": self.flagged_rows,
            "flagged": dict(sorted(self.flagged.items())),
            "categories": dict(sorted(self.categories.items())),
            "splits": self.splits,
            "files": self.files,
            "reasons": {reason: REJECTION_REASONS.get(reason, "") for reason in self.rejected},
        }


# --- Reading ---------------------------------------------------------------------------------


def read_source(config: PrepareConfig) -> Iterator[Any]:
    """Raw rows from a local JSON/JSONL/parquet file or the hub, up to ``config.max_rows``.

    A JSON-lines line that does not parse is yielded as an :class:`_UnparsableLine` so it is
    counted as ``prepare:invalid_json`` rather than lost.

    Raises:
        TrainingJobError: ``prepare:source_not_found``, ``prepare:unreadable_source``,
            ``prepare:hub_token_required``, ``prepare:hub_access_denied`` or
            ``prepare:hub_unavailable``.
    """
    rows = _read_local(Path(config.source)) if _is_local(config.source) else _read_hub(config)
    for count, row in enumerate(rows):
        if config.max_rows is not None and count >= config.max_rows:
            return
        yield row


@dataclass(frozen=True)
class _UnparsableLine:
    line_number: int
    text: str
    error: str


def _is_local(source: str) -> bool:
    path = Path(source)
    return path.exists() or path.suffix in {".json", ".jsonl", ".parquet"} or "/" not in source


def _read_local(path: Path) -> Iterator[Any]:
    if not path.is_file():
        raise TrainingJobError(
            f"{path} is not a file (give a local JSON/JSONL/parquet file or a hub dataset id "
            "such as Salesforce/xlam-function-calling-60k)",
            label="prepare:source_not_found",
        )
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path)
        except Exception as exc:
            raise TrainingJobError(
                f"{path}: unreadable parquet: {exc}", label="prepare:unreadable_source"
            ) from exc
        yield from table.to_pylist()
        return
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as exc:
            raise TrainingJobError(
                f"{path}: invalid JSON array: {exc}", label="prepare:unreadable_source"
            ) from exc
        yield from rows
        return
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except json.JSONDecodeError as exc:
            yield _UnparsableLine(number, line, str(exc))


def hub_token(config: PrepareConfig) -> str | None:
    """The Hugging Face token: ``--hf-token``/config, else ``HF_TOKEN`` or a saved login."""
    if config.hf_token is not None:
        return config.hf_token.get_secret_value()
    from huggingface_hub import get_token

    return get_token() or os.environ.get("HF_TOKEN")


def _read_hub(config: PrepareConfig) -> Iterator[Any]:
    token = hub_token(config)
    if token is None and config.source == XLAM_HUB_ID:
        raise TrainingJobError(
            f"{XLAM_HUB_ID} is gated on the Hugging Face hub, so a token is needed: accept its "
            f"licence at https://huggingface.co/datasets/{XLAM_HUB_ID}, then set HF_TOKEN (or run "
            "`hf auth login`, or pass --hf-token). Or give a local JSON/JSONL/parquet file.",
            label="prepare:hub_token_required",
        )
    import datasets

    try:
        dataset = datasets.load_dataset(config.source, split=config.hub_split, token=token)
    except Exception as exc:
        text = f"{type(exc).__name__}: {exc}"
        if any(word in text.lower() for word in ("gated", "401", "403", "unauthorized", "token")):
            raise TrainingJobError(
                f"the hub refused {config.source}: {text}. It may be gated: accept its licence "
                f"at https://huggingface.co/datasets/{config.source} with the account of your "
                "HF_TOKEN.",
                label="prepare:hub_access_denied",
            ) from exc
        raise TrainingJobError(
            f"could not load {config.source} from the hub: {text}",
            label="prepare:hub_unavailable",
        ) from exc
    yield from dataset


# --- Validation ------------------------------------------------------------------------------


def validate_row(raw: Any, index: int, reject_flags: Iterable[str] = ()) -> XlamRow | Rejection:
    """Keep or reject one raw row.

    Args:
        raw: The row as read (a dict, or an unparsable JSON line).
        index: Its position in the source (used as the id when the row has none).
        reject_flags: Flag labels that reject the row instead of only marking it.

    Returns:
        An :class:`XlamRow` (with ``flags`` such as ``schema:type_mismatch``) or a
        :class:`Rejection` whose ``reason`` is a ``prepare:...`` (or rejected flag) label.

    Example:
        >>> row = validate_row({"id": 3, "query": "Is 7 prime?",
        ...     "tools": '[{"name": "is_prime", "parameters": {"n": {"type": "int"}}}]',
        ...     "answers": '[{"name": "is_prime", "arguments": {"n": 7.5}}]'}, 0)
        >>> row.id, row.category, row.flags
        ('3', 'simple', ('schema:type_mismatch',))
        >>> validate_row({"query": "Hi", "tools": "[]", "answers": "[{]"}, 4).reason
        'prepare:invalid_json'
    """
    if isinstance(raw, _UnparsableLine):
        return Rejection(
            index, None, "prepare:invalid_json", f"line {raw.line_number}: {raw.error}", raw.text
        )
    if not isinstance(raw, Mapping):
        return Rejection(index, None, "prepare:not_an_object", f"got {type(raw).__name__}", raw)
    row_id = str(raw["id"]) if raw.get("id") is not None else str(index)

    def reject(reason: str, detail: str) -> Rejection:
        return Rejection(index, row_id, reason, detail, dict(raw))

    missing = [name for name in ("query", "tools", "answers") if name not in raw]
    if missing:
        return reject("prepare:missing_field", f"missing {', '.join(missing)}")
    query = raw["query"]
    if not isinstance(query, str) or not query.strip():
        return reject("prepare:empty_query", f"query is {query!r}")

    tools = _decode(raw["tools"])
    if isinstance(tools, _BadJson):
        return reject("prepare:invalid_json", f"tools: {tools.error}")
    if tools is None:
        tools = []
    if not isinstance(tools, list) or not all(isinstance(tool, Mapping) for tool in tools):
        return reject("prepare:invalid_tools", "tools must be a list of objects")
    specs: dict[str, ToolSpec] = {}
    for position, tool in enumerate(tools):
        try:
            spec = normalise_tool(tool)
        except InvalidToolSchemaError as exc:
            return reject(
                "prepare:invalid_tool_schema", f"tool {position}: {exc.message} [{exc.label}]"
            )
        if spec.name in specs:
            return reject("prepare:duplicate_tool", f"tool {spec.name!r} is declared twice")
        specs[spec.name] = spec

    answers = _decode_answers(raw["answers"])
    if isinstance(answers, _Problem):
        return reject(answers.reason, answers.detail)

    flags: set[str] = set()
    for call in answers:
        called = specs.get(call["name"])
        if called is None:
            return reject(
                "prepare:undeclared_tool", f"answer calls undeclared tool {call['name']!r}"
            )
        label = validate_arguments(called, call["arguments"])
        if label is not None:
            flags.add(label)
    rejected_by = sorted(flags & set(reject_flags))
    if rejected_by:
        return reject(rejected_by[0], f"flagged {', '.join(sorted(flags))}")
    response = raw.get("response")
    return XlamRow(
        id=row_id,
        query=query,
        tools=tuple(dict(tool) for tool in tools),
        answers=tuple(answers),
        specs=tuple(specs.values()),
        response=response if isinstance(response, str) and response.strip() else None,
        flags=tuple(sorted(flags)),
    )


@dataclass(frozen=True)
class _BadJson:
    error: str


@dataclass(frozen=True)
class _Problem:
    reason: str
    detail: str


def _decode(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        return _BadJson(str(exc))


def _decode_answers(value: Any) -> list[dict[str, Any]] | _Problem:
    """Answers as ``[{"name", "arguments": dict}]``, or what is wrong with them."""
    answers = _decode(value)
    if isinstance(answers, _BadJson):
        return _Problem("prepare:invalid_json", f"answers: {answers.error}")
    if answers is None:
        answers = []
    if not isinstance(answers, list):
        kind = type(answers).__name__
        return _Problem("prepare:invalid_answers", f"answers is a {kind}, not a list")
    calls = []
    for position, call in enumerate(answers):
        if not isinstance(call, Mapping) or not isinstance(call.get("name"), str):
            return _Problem("prepare:invalid_answers", f"answer {position} has no string name")
        arguments = _decode(call.get("arguments", call.get("parameters", {})))
        if isinstance(arguments, _BadJson):
            detail = f"answer {position} arguments: {arguments.error}"
            return _Problem("prepare:invalid_json", detail)
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, Mapping):
            detail = f"answer {position} arguments is not an object"
            return _Problem("prepare:invalid_answers", detail)
        calls.append({"name": call["name"], "arguments": dict(arguments)})
    return calls


# --- Output formats --------------------------------------------------------------------------


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def sharegpt_record(row: XlamRow, system_prompt: str, no_call_response: str) -> dict[str, Any]:
    """A LLaMA-Factory ShareGPT row: system, ``human`` query, then the target turn.

    The target is a ``function_call`` turn (one call object, or a list for several calls) or,
    when no call is expected, a ``gpt`` turn with the row's response.

    Example:
        >>> row = validate_row({"query": "Is 7 prime?",
        ...     "tools": [{"name": "is_prime", "parameters": {"n": {"type": "int"}}}],
        ...     "answers": [{"name": "is_prime", "arguments": {"n": 7}}]}, 0)
        >>> record = sharegpt_record(row, "Be brief.", "No tool fits.")
        >>> [turn["from"] for turn in record["conversations"]]
        ['system', 'human', 'function_call']
        >>> record["conversations"][2]["value"]
        '{"name": "is_prime", "arguments": {"n": 7}}'
    """
    if row.answers:
        calls = [{"name": call["name"], "arguments": call["arguments"]} for call in row.answers]
        target = {"from": "function_call", "value": _json(calls[0] if len(calls) == 1 else calls)}
    else:
        target = {"from": "gpt", "value": row.response or no_call_response}
    return {
        "conversations": [
            {"from": "system", "value": system_prompt},
            {"from": "human", "value": row.query},
            target,
        ],
        "tools": _json(row.function_schemas()),
    }


def llamafactory_violation(record: Mapping[str, Any]) -> str | None:
    """Why LLaMA-Factory (0.9.x) would skip a ShareGPT row, or ``None`` when it is valid.

    Its rules: roles from ``human, gpt, function_call, observation, system``; an optional
    leading ``system`` turn; then turns alternate (``human``|``observation``) and
    (``gpt``|``function_call``) with an even count; ``function_call`` values and ``tools`` are
    JSON strings.

    Example:
        >>> llamafactory_violation({"conversations": [{"from": "human", "value": "hi"}]})
        'odd number of turns after the system turn'
    """
    turns = record.get("conversations")
    if not isinstance(turns, list) or not turns:
        return "no conversations"
    if any(not isinstance(turn, Mapping) or set(turn) != {"from", "value"} for turn in turns):
        return "every turn must be exactly {from, value}"
    if turns[0]["from"] == "system":
        turns = turns[1:]
    if not turns:
        return "no turns after the system turn"
    for position, turn in enumerate(turns):
        allowed = ("human", "observation") if position % 2 == 0 else ("gpt", "function_call")
        if turn["from"] not in allowed:
            return f"turn {position} is {turn['from']!r}, expected one of {allowed}"
        if not isinstance(turn["value"], str):
            return f"turn {position} value is not a string"
        if turn["from"] == "function_call":
            try:
                calls = json.loads(turn["value"])
            except json.JSONDecodeError:
                return f"turn {position}: function_call value is not JSON"
            calls = calls if isinstance(calls, list) else [calls]
            if not all(
                isinstance(call, dict) and {"name", "arguments"} <= set(call) for call in calls
            ):
                return f"turn {position}: function_call must hold {{name, arguments}} objects"
    if len(turns) % 2:
        return "odd number of turns after the system turn"
    tools = record.get("tools")
    if tools is not None:
        if not isinstance(tools, str):
            return "tools must be a JSON string"
        try:
            json.loads(tools)
        except json.JSONDecodeError:
            return "tools is not valid JSON"
    return None


def dataset_info(name: str, files: Mapping[str, str]) -> dict[str, Any]:
    """``dataset_info.json`` entries (``<name>_<split>``) for LLaMA-Factory's ShareGPT loader."""
    return {
        f"{name}_{split}": {
            "file_name": file_name,
            "formatting": "sharegpt",
            "columns": {"messages": "conversations", "tools": "tools"},
            "tags": {
                "role_tag": "from",
                "content_tag": "value",
                "user_tag": "human",
                "assistant_tag": "gpt",
                "observation_tag": "observation",
                "function_tag": "function_call",
                "system_tag": "system",
            },
        }
        for split, file_name in files.items()
    }


def chat_messages(row: XlamRow, system_prompt: str) -> list[dict[str, Any]]:
    """The prompt turns: system, then the user's query."""
    return [{"role": "system", "content": system_prompt}, {"role": "user", "content": row.query}]


def openai_tools(row: XlamRow) -> list[dict[str, Any]]:
    """The row's tools in OpenAI form, as ``/v1/chat/completions`` clients send them."""
    return [{"type": "function", "function": function} for function in row.function_schemas()]


def trl_record(row: XlamRow, system_prompt: str, no_call_response: str) -> dict[str, Any]:
    """A TRL conversational row: ``messages`` ending in the assistant target, ``tools``.

    Tool-call arguments are JSON strings (OpenAI's convention; chat templates print them
    verbatim) so rows with different argument types share one Arrow schema.

    Example:
        >>> row = validate_row({"query": "Is 7 prime?",
        ...     "tools": [{"name": "is_prime", "parameters": {"n": {"type": "int"}}}],
        ...     "answers": [{"name": "is_prime", "arguments": {"n": 7}}]}, 0)
        >>> trl_record(row, "Be brief.", "-")["messages"][-1]["tool_calls"]
        [{'type': 'function', 'function': {'name': 'is_prime', 'arguments': '{"n": 7}'}}]
    """
    if row.answers:
        assistant: dict[str, Any] = {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "type": "function",
                    "function": {"name": call["name"], "arguments": _json(call["arguments"])},
                }
                for call in row.answers
            ],
        }
    else:
        assistant = {"role": "assistant", "content": row.response or no_call_response}
    return {
        "id": row.id,
        "messages": [*chat_messages(row, system_prompt), assistant],
        "tools": _json(openai_tools(row)),
        "category": row.category,
        "flags": list(row.flags),
    }


def reward_label(row: XlamRow) -> str:
    """The ``/reward`` label: ``{"answers", "tools"}`` with the row's tools as given."""
    return _json({"answers": list(row.answers), "tools": list(row.tools)})


def grpo_record(
    row: XlamRow, system_prompt: str, tokenizer: Any, enable_thinking: bool = False
) -> dict[str, Any]:
    """A GRPO row: the prompt rendered with the row's own tools, and its reward label."""
    prompt = tokenizer.apply_chat_template(
        chat_messages(row, system_prompt),
        tools=openai_tools(row),
        add_generation_prompt=True,
        tokenize=False,
        enable_thinking=enable_thinking,
    )
    return {
        "id": row.id,
        "prompt": prompt,
        "label": reward_label(row),
        "category": row.category,
        "flags": list(row.flags),
    }


VERL_ABILITY = "tool_calling"
VERL_TOOLS_INSTRUCTIONS = (
    "You may call one or more functions. Their JSON schemas:\n<tools>\n{tools}\n</tools>\n"
    'To call a function, answer with one <tool_call>{{"name": <function name>, '
    '"arguments": <JSON object>}}</tool_call> block per call.'
)


def verl_record(
    row: XlamRow, system_prompt: str, data_source: str, split: str, index: int
) -> dict[str, Any]:
    """A verl RL row: chat-message prompt with the tools in the system turn, rule reward label.

    Example:
        >>> row = validate_row({"query": "Is 7 prime?",
        ...     "tools": [{"name": "is_prime", "parameters": {"n": {"type": "int"}}}],
        ...     "answers": [{"name": "is_prime", "arguments": {"n": 7}}]}, 0)
        >>> record = verl_record(row, "Be brief.", "toolgrade_xlam", "train", 0)
        >>> record["reward_model"]["style"], [m["role"] for m in record["prompt"]]
        ('rule', ['system', 'user'])
    """
    tools = "\n".join(_json(tool) for tool in openai_tools(row))
    system = f"{system_prompt}\n\n{VERL_TOOLS_INSTRUCTIONS.format(tools=tools)}"
    return {
        "data_source": data_source,
        "prompt": [{"role": "system", "content": system}, {"role": "user", "content": row.query}],
        "ability": VERL_ABILITY,
        "reward_model": {"style": "rule", "ground_truth": reward_label(row)},
        "extra_info": {
            "split": split,
            "index": index,
            "id": row.id,
            "category": row.category,
            "tools": _json(openai_tools(row)),
        },
    }


def _write_verl_parquet(path: Path, records: Sequence[Mapping[str, Any]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    message = pa.struct([("role", pa.string()), ("content", pa.string())])
    schema = pa.schema(
        [
            ("data_source", pa.string()),
            ("prompt", pa.list_(message)),
            ("ability", pa.string()),
            ("reward_model", pa.struct([("style", pa.string()), ("ground_truth", pa.string())])),
            (
                "extra_info",
                pa.struct(
                    [
                        ("split", pa.string()),
                        ("index", pa.int64()),
                        ("id", pa.string()),
                        ("category", pa.string()),
                        ("tools", pa.string()),
                    ]
                ),
            ),
        ]
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(list(records), schema=schema), path)


def xlam_record(row: XlamRow) -> dict[str, Any]:
    """The kept row in xLAM form (JSON-string tools/answers, as the hub stores them)."""
    record: dict[str, Any] = {
        "id": row.id,
        "query": row.query,
        "tools": _json(list(row.tools)),
        "answers": _json(list(row.answers)),
        "category": row.category,
        "flags": list(row.flags),
    }
    if row.response is not None:
        record["response"] = row.response
    return record


# --- Split and write -------------------------------------------------------------------------


def split_rows(
    rows: Sequence[XlamRow], eval_fraction: float, seed: int
) -> dict[str, list[XlamRow]]:
    """Deterministic train/eval split: a seeded shuffle picks the eval rows, order is kept.

    Example:
        >>> rows = [XlamRow(str(i), "q", (), (), ()) for i in range(20)]
        >>> split = split_rows(rows, 0.1, 42)
        >>> len(split["train"]), len(split["eval"]), split == split_rows(rows, 0.1, 42)
        (18, 2, True)
    """
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    eval_count = round(len(rows) * eval_fraction)
    if len(rows) >= 2:
        eval_count = min(max(eval_count, 1), len(rows) - 1)
    eval_indices = set(order[:eval_count])
    return {
        "train": [row for index, row in enumerate(rows) if index not in eval_indices],
        "eval": [row for index, row in enumerate(rows) if index in eval_indices],
    }


def _write_jsonl(path: Path, records: Iterable[Mapping[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(_json(record) + "\n")


def _write_json(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def load_tokenizer(name: str | None) -> Any:
    """The tokenizer that renders GRPO prompts; ``None`` means the default model's."""
    from transformers import AutoTokenizer

    from training.runtime import default_model_path

    return AutoTokenizer.from_pretrained(name if name is not None else default_model_path())


def prepare_dataset(
    config: PrepareConfig, *, tokenizer: Any = None, progress: ProgressHook | None = None
) -> PrepareReport:
    """Run ``prepare``: read, validate, split and write every output (see the module doc).

    Args:
        config: The job configuration.
        tokenizer: Renders the GRPO prompts (default: :func:`load_tokenizer` of
            ``config.tokenizer``).
        progress: Optional hook told about each processed row (the CLI draws bars with it).

    Returns:
        The report, also written to ``<output_dir>/report.json``.
    """
    hook = progress or (lambda stage, advance, total: None)
    report = PrepareReport(source=config.source)
    kept: list[XlamRow] = []
    rejections: list[Rejection] = []
    seen_ids: set[str] = set()
    hook("validate", 0, config.max_rows)
    for index, raw in enumerate(read_source(config)):
        report.read += 1
        outcome = validate_row(raw, index, config.reject_flags)
        if isinstance(outcome, XlamRow) and outcome.id in seen_ids:
            outcome = Rejection(
                index, outcome.id, "prepare:duplicate_id", f"id {outcome.id!r} seen before", raw
            )
        if isinstance(outcome, Rejection):
            rejections.append(outcome)
            report.rejected[outcome.reason] += 1
        else:
            seen_ids.add(outcome.id)
            kept.append(outcome)
            report.categories[outcome.category] += 1
            report.flagged.update(outcome.flags)
            report.flagged_rows += bool(outcome.flags)
        hook("validate", 1, None)
    report.kept = len(kept)
    if not kept:
        raise TrainingJobError(
            f"no usable rows in {config.source}: read {report.read}, rejected "
            f"{dict(report.rejected)}",
            label="prepare:no_rows",
        )

    splits = split_rows(kept, config.eval_fraction, config.seed)
    report.splits = {name: len(rows) for name, rows in splits.items()}
    tokenizer = tokenizer if tokenizer is not None else load_tokenizer(config.tokenizer)
    out = config.output_dir
    files: dict[str, Path] = {}
    factory_files: dict[str, str] = {}
    hook("write", 0, len(kept))
    for split, rows in splits.items():
        sharegpt = [
            sharegpt_record(row, config.system_prompt, config.no_call_response) for row in rows
        ]
        for record in sharegpt:
            violation = llamafactory_violation(record)
            if violation is not None:  # a bug here, never the data's fault
                raise TrainingJobError(
                    f"built an invalid ShareGPT row: {violation}", label="prepare:internal"
                )
        factory_files[split] = f"{config.dataset_name}_{split}.json"
        files[f"llamafactory_{split}"] = out / "llamafactory" / factory_files[split]
        _write_json(files[f"llamafactory_{split}"], sharegpt)
        files[f"trl_{split}"] = out / "trl" / f"{split}.jsonl"
        _write_jsonl(
            files[f"trl_{split}"],
            (trl_record(row, config.system_prompt, config.no_call_response) for row in rows),
        )
        files[f"grpo_{split}"] = out / "grpo" / f"{split}.jsonl"
        _write_jsonl(
            files[f"grpo_{split}"],
            (
                grpo_record(row, config.system_prompt, tokenizer, config.enable_thinking)
                for row in rows
            ),
        )
        files[f"verl_{split}"] = out / "verl" / f"{split}.parquet"
        _write_verl_parquet(
            files[f"verl_{split}"],
            [
                verl_record(row, config.system_prompt, config.dataset_name, split, index)
                for index, row in enumerate(rows)
            ],
        )
        files[f"xlam_{split}"] = out / "splits" / f"{split}.jsonl"
        _write_jsonl(files[f"xlam_{split}"], (xlam_record(row) for row in rows))
        hook("write", len(rows), None)
    files["dataset_info"] = out / "llamafactory" / "dataset_info.json"
    _write_json(files["dataset_info"], dataset_info(config.dataset_name, factory_files))
    files["rejected"] = out / "rejected.jsonl"
    _write_jsonl(files["rejected"], (rejection.to_dict() for rejection in rejections))
    files["report"] = out / "report.json"
    report.files = {name: str(path) for name, path in files.items()}
    _write_json(files["report"], report.to_dict())
    return report
