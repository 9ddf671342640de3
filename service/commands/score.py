"""``toolgrade score``: score a JSONL file of ``/score`` items offline.

Each input line is one item ``{"id"?, "prediction", "reference", "tools", "category"?}``, the
same shape ``POST /score`` takes. Results go to ``--output`` (one JSON line per scored item, in
input order, with its input ``line`` number), the summary to stdout as tables and to
``--report`` as the JSON ``ScoreReport.to_dict()`` produces. A malformed line (bad JSON,
missing fields, an invalid reference or tool schema) is reported on stderr with its line number
and skipped; the command fails (exit code 1) only when no line could be scored.

Lines are read and written with orjson (the standard library takes over only for what orjson
refuses: integers past 64 bits on the way in and out, and the reason a line is not JSON). Items
whose ``tools`` are the same text share one normalisation.
"""

from __future__ import annotations

import json
import os
import sys
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer

if TYPE_CHECKING:
    from multiprocessing.pool import AsyncResult

    from service.core.metrics import ItemScore, ScoreReport
    from service.core.types import ToolSpec

REQUIRED_FIELDS = ("prediction", "reference", "tools")
# Below this many lines scoring takes well under a second: no progress bar.
PROGRESS_MIN_LINES = 1_000
# At most this many error labels in the summary table.
TOP_ERRORS = 10
# The progress bar is advanced every this many lines: redrawing it per line cost more than
# scoring a line.
PROGRESS_STEP = 256
# Distinct tools texts whose normalisation is kept (least recently used dropped first).
SHARED_TOOLS_LIMIT = 1024
# Below this many lines one process scores in well under a few seconds: no worker pool.
PARALLEL_MIN_LINES = 20_000
# Lines handed to a worker at a time: large enough that passing them costs little next to
# scoring them (~0.2 ms a line), small enough to keep every worker busy to the end.
CHUNK_LINES = 500


class StringMatch(StrEnum):
    """How exact references compare strings (BFCL possible answers always standardise)."""

    EXACT = "exact"
    BFCL = "bfcl"


StringMatchOption = Annotated[
    StringMatch,
    typer.Option(
        "--string-match",
        help="How exact references compare strings: as written (exact) or with BFCL's "
        "standardisation (bfcl). BFCL possible answers always use BFCL's.",
    ),
]


@dataclass(frozen=True, slots=True)
class SkippedLine:
    """An input line that could not be scored, and why."""

    line: int
    reason: str


def score_command(
    input_path: Annotated[
        Path,
        typer.Option(
            "--input",
            "-i",
            help="JSONL file of /score items ('-' reads stdin).",
            dir_okay=False,
        ),
    ],
    output_path: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write one JSON result per scored item here."),
    ] = None,
    report_path: Annotated[
        Path | None,
        typer.Option("--report", "-r", help="Write the summary metrics here as JSON."),
    ] = None,
    bootstrap_samples: Annotated[
        int, typer.Option(min=0, help="Bootstrap resamples for the 95% intervals (0: none).")
    ] = 1000,
    seed: Annotated[int, typer.Option(help="Seed for the bootstrap resampling.")] = 0,
    string_match: StringMatchOption = StringMatch.EXACT,
    workers: Annotated[
        int,
        typer.Option(
            min=0,
            help="Scoring processes (0: one per available CPU for inputs of "
            f"{PARALLEL_MIN_LINES:,} lines or more, else 1). Results keep input order.",
        ),
    ] = 0,
) -> None:
    """Score predictions in a JSONL file and summarise them."""
    # Imported here so `toolgrade --help` does not pay for numpy and the scoring core.
    from service.core.metrics import summarise

    lines = _read_lines(input_path)
    for path in (output_path, report_path):
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
    scores: list[ItemScore] = []
    skipped: list[SkippedLine] = []
    processes = _worker_count(workers, lines.total)
    with _result_writer(output_path) as write_result:
        for line_number, outcome in _score_lines(lines, string_match.value, processes):
            if isinstance(outcome, SkippedLine):
                skipped.append(outcome)
                typer.echo(f"line {line_number}: skipped: {outcome.reason}", err=True)
                continue
            scores.append(outcome)
            write_result({"line": line_number, **outcome.to_dict()})
    if not scores:
        typer.echo(f"error: no valid items in {input_path} ({len(skipped)} skipped)", err=True)
        raise typer.Exit(code=1)
    report = summarise(scores, bootstrap_samples=bootstrap_samples, seed=seed)
    if report_path is not None:
        report_path.write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
    _print_summary(report, scores, skipped)


@dataclass(frozen=True, slots=True)
class _Lines:
    total: int
    raw: Iterator[bytes]


def _read_lines(path: Path) -> _Lines:
    if str(path) == "-":
        data = sys.stdin.buffer.read().splitlines()
        return _Lines(total=len(data), raw=iter(data))
    if not path.is_file():
        typer.echo(f"error: input file {path} does not exist", err=True)
        raise typer.Exit(code=2)
    with path.open("rb") as handle:
        total = sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))

    def stream() -> Iterator[bytes]:
        with path.open("rb") as handle:
            yield from handle

    return _Lines(total=total, raw=stream())


def _worker_count(requested: int, total_lines: int) -> int:
    """Processes to score with: ``requested``, or for 0 one per usable CPU on a large input."""
    if requested:
        return requested
    if total_lines < PARALLEL_MIN_LINES:
        return 1
    usable = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    return max(1, len(usable) if usable else os.cpu_count() or 1)


def _score_lines(
    lines: _Lines, string_match: str = "exact", processes: int = 1
) -> Iterator[tuple[int, ItemScore | SkippedLine]]:
    from rich.console import Console
    from rich.progress import Progress

    numbered = (
        (line_number, raw)
        for line_number, raw in enumerate(lines.raw, start=1)
        if raw.strip()  # blank lines separate nothing in JSONL; they are not items
    )
    # The pool is started before the progress bar's refresh thread: fork a process, not a thread.
    with (
        _scoring_pool(processes, string_match) as score_chunks,
        Progress(
            console=Console(stderr=True),
            transient=True,
            disable=lines.total < PROGRESS_MIN_LINES,
        ) as progress,
    ):
        task = progress.add_task("scoring", total=lines.total)
        done = 0
        for chunk in score_chunks(_chunks(numbered, CHUNK_LINES if processes > 1 else 1)):
            yield from chunk
            if chunk and chunk[-1][0] - done >= PROGRESS_STEP:
                done = chunk[-1][0]
                progress.update(task, completed=done)


_Outcomes = list[tuple[int, "ItemScore | SkippedLine"]]
_Chunk = list[tuple[int, bytes]]


def _chunks(numbered: Iterator[tuple[int, bytes]], size: int) -> Iterator[_Chunk]:
    chunk: _Chunk = []
    for entry in numbered:
        chunk.append(entry)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@contextmanager
def _scoring_pool(
    processes: int, string_match: str
) -> Iterator[Callable[[Iterator[_Chunk]], Iterator[_Outcomes]]]:
    """A function scoring chunks of lines in input order: in this process, or in a pool.

    Consecutive lines go to one worker (a chunk), so items sharing tools mostly share one
    worker's normalisation. Each worker keeps its own caches.
    """
    if processes <= 1:
        _init_worker(string_match)  # this process is the only worker
        yield lambda chunks: map(_score_chunk, chunks)
        return
    import multiprocessing

    # fork: workers inherit the imported core instead of importing it again (Linux); other
    # platforms spawn.
    method = "fork" if sys.platform == "linux" else "spawn"
    context = multiprocessing.get_context(method)
    with context.Pool(processes, initializer=_init_worker, initargs=(string_match,)) as pool:

        def in_order(chunks: Iterator[_Chunk]) -> Iterator[_Outcomes]:
            # A few chunks in flight per worker (Pool.imap would read the whole input ahead).
            pending: deque[AsyncResult[_Outcomes]] = deque()
            for chunk in chunks:
                pending.append(pool.apply_async(_score_chunk, (chunk,)))
                if len(pending) >= 2 * processes:
                    yield pending.popleft().get()
            while pending:
                yield pending.popleft().get()

        yield in_order


_worker_state: dict[str, Any] = {}


def _init_worker(string_match: str) -> None:
    _worker_state["string_match"] = string_match
    _worker_state["shared_tools"] = _SharedTools()


def _score_chunk(chunk: _Chunk) -> _Outcomes:
    shared_tools = _worker_state["shared_tools"]
    string_match = _worker_state["string_match"]
    return [(number, _score_line(number, raw, shared_tools, string_match)) for number, raw in chunk]


class _SharedTools:
    """Normalised tools by their JSON text, for the most recently seen distinct texts."""

    __slots__ = ("_by_text",)

    def __init__(self) -> None:
        self._by_text: OrderedDict[bytes, dict[str, ToolSpec]] = OrderedDict()

    def normalised(self, tools: Any) -> Any:
        """``tools`` normalised (shared with every earlier item of the same text)."""
        from service.core.schema import normalise_tools

        try:
            text = orjson.dumps(tools)
        except (orjson.JSONEncodeError, TypeError):
            return tools  # not plain JSON: normalise_tools reports it
        known = self._by_text.get(text)
        if known is not None:
            self._by_text.move_to_end(text)
            return known
        specs = normalise_tools(tools)
        self._by_text[text] = specs
        if len(self._by_text) > SHARED_TOOLS_LIMIT:
            self._by_text.popitem(last=False)
        return specs


def _score_line(
    line_number: int,
    raw: bytes,
    shared_tools: _SharedTools | None = None,
    string_match: str = "exact",
) -> ItemScore | SkippedLine:
    from service.core.errors import ToolGradeError
    from service.core.metrics import score_item
    from service.core.parsing.json_text import may_hold_a_long_integer

    try:
        if may_hold_a_long_integer(raw):
            raise orjson.JSONDecodeError("orjson would read a long integer as a float", "", 0)
        item = orjson.loads(raw)
    except orjson.JSONDecodeError:
        decoded = _decode_with_stdlib(line_number, raw)
        if isinstance(decoded, SkippedLine):
            return decoded
        item = decoded
    problem = _item_problem(item)
    if problem is not None:
        return SkippedLine(line_number, problem)
    try:
        tools = item["tools"]
        if shared_tools is not None:
            tools = shared_tools.normalised(tools)
        return score_item(
            item["prediction"],
            item["reference"],
            tools,
            item_id=item.get("id"),
            category=item.get("category"),
            string_match=string_match,
        )
    except ToolGradeError as error:
        return SkippedLine(line_number, f"{error.label}: {error.message}")


def _decode_with_stdlib(line_number: int, raw: bytes) -> Any:
    """The line decoded by the standard library, which reads integers of any size and names
    the reason a line is not JSON."""
    try:
        return json.loads(raw)
    except UnicodeDecodeError:
        return SkippedLine(line_number, "not valid UTF-8")
    except json.JSONDecodeError as error:
        reason = error.msg.removesuffix(" at")  # the stdlib says "Invalid control character at"
        return SkippedLine(line_number, f"invalid JSON at column {error.colno}: {reason}")
    except ValueError as error:  # e.g. an integer too long to convert
        return SkippedLine(line_number, f"invalid JSON: {error}")


def _item_problem(item: Any) -> str | None:
    if not isinstance(item, dict):
        return f"expected a JSON object, got {_json_type(item)}"
    missing = [name for name in REQUIRED_FIELDS if name not in item]
    if missing:
        return "missing field" + ("s " if len(missing) > 1 else " ") + ", ".join(missing)
    item_id = item.get("id")
    if item_id is not None and (isinstance(item_id, bool) or not isinstance(item_id, str | int)):
        return f"id must be a string or an integer, got {_json_type(item_id)}"
    category = item.get("category")
    if category is not None and not isinstance(category, str):
        return f"category must be a string, got {_json_type(category)}"
    return None


def _json_type(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


@contextmanager
def _result_writer(path: Path | None) -> Iterator[Callable[[dict[str, Any]], None]]:
    """Yield a function writing one result line to ``path`` (or discarding it)."""
    if path is None:
        yield lambda result: None
        return
    with path.open("wb") as handle:

        def write(result: dict[str, Any]) -> None:
            try:
                line = orjson.dumps(result, option=orjson.OPT_APPEND_NEWLINE)
            except orjson.JSONEncodeError:  # an integer past 64 bits: the stdlib writes it
                line = (json.dumps(result, ensure_ascii=False) + "\n").encode()
            handle.write(line)

        yield write


def _print_summary(
    report: ScoreReport, scores: list[ItemScore], skipped: list[SkippedLine]
) -> None:
    from rich.console import Console
    from rich.table import Table

    from service.core.metric_table import metric_rows, rich_table
    from service.core.metrics import error_breakdown

    console = Console()
    title = f"ToolGrade — {report.count} items scored"
    if skipped:
        title += f", {len(skipped)} line{'s' if len(skipped) > 1 else ''} skipped"
    summary = rich_table(title, metric_rows(report.metrics, report.ci, digits=4))
    console.print(summary)

    if len(report.by_category) > 1:
        categories = Table(title="By category")
        categories.add_column("category", overflow="fold")
        categories.add_column("count", justify="right")
        shown = {
            "parse_rate": "parse",
            "argument_f1": "arg F1",
            "exec_rate": "exec",
            "ast_accuracy": "AST",
            "irrelevance_accuracy": "irrel.",
            "relevance_accuracy": "relev.",
        }
        for header in shown.values():
            categories.add_column(header, justify="right", no_wrap=True)
        for category, values in report.by_category.items():
            categories.add_row(
                category,
                str(values["count"]),
                *("—" if values[name] is None else f"{values[name]:.4f}" for name in shown),
            )
        console.print(categories)

    errors = error_breakdown(scores)
    if errors:
        table = Table(title="Error types")
        table.add_column("error_type")
        table.add_column("items", justify="right")
        for label, count in list(errors.items())[:TOP_ERRORS]:
            table.add_row(label, str(count))
        if len(errors) > TOP_ERRORS:
            table.add_row(f"… {len(errors) - TOP_ERRORS} more labels", "")
        console.print(table)
