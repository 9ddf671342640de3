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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NamedTuple

import orjson
import typer

if TYPE_CHECKING:
    from service.core.lru import LruCache
    from service.core.metrics import ItemScore, ItemSummary, ScoreReport
    from service.core.types import ToolSpec

REQUIRED_FIELDS = ("prediction", "reference", "tools")
# Below this many lines scoring takes well under a second: no progress bar.
PROGRESS_MIN_LINES = 1_000
# At most this many error labels in the summary table.
TOP_ERRORS = 10
# Distinct tools texts whose normalisation is kept (least recently used dropped first).
SHARED_TOOLS_LIMIT = 1024
# Below this many lines one process scores in well under a few seconds: no worker pool.
PARALLEL_MIN_LINES = 20_000
# Bytes of whole lines a worker scores at a time: large enough that a segment's round trip
# costs little next to scoring it (hundreds of lines), small enough to keep every worker busy
# to the end and to advance the progress bar often.
SEGMENT_BYTES = 1 << 20


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

    source = _read_source(input_path)
    for path in (output_path, report_path):
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
    scores: list[ItemSummary] = []
    skipped: list[SkippedLine] = []
    processes = _worker_count(workers, source.total_lines)
    options = _WorkerOptions(string_match.value, with_results=output_path is not None)
    with _result_sink(output_path) as write_results:
        for part in _score_segments(source, options, processes):
            for line in part.skipped:
                skipped.append(line)
                typer.echo(f"line {line.line}: skipped: {line.reason}", err=True)
            scores.extend(part.summaries)
            write_results(part.results)
    if not scores:
        typer.echo(f"error: no valid items in {input_path} ({len(skipped)} skipped)", err=True)
        raise typer.Exit(code=1)
    report = summarise(scores, bootstrap_samples=bootstrap_samples, seed=seed)
    if report_path is not None:
        report_path.write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
    _print_summary(report, scores, skipped)


@dataclass(frozen=True, slots=True)
class _Segment:
    """A run of whole input lines: bytes ``start:end`` of the input file, or the lines'
    bytes themselves (stdin); ``first_line`` is the number of its first line."""

    first_line: int
    path: str | None
    start: int
    end: int
    data: bytes | None = None

    def read(self) -> bytes:
        if self.data is not None:
            return self.data
        assert self.path is not None
        with open(self.path, "rb") as handle:
            handle.seek(self.start)
            return handle.read(self.end - self.start)


@dataclass(frozen=True, slots=True)
class _Source:
    total_lines: int
    segments: list[_Segment]


@dataclass(frozen=True, slots=True)
class _WorkerOptions:
    string_match: str
    with_results: bool  # serialise each result line (only when there is an output file)


class _ScoredSegment(NamedTuple):
    """What a worker sends back for a segment: little to pickle, nothing to convert.

    ``summaries`` holds each scored item's summary (its score without the calls: all the
    corpus summary reads), ``results`` the segment's result lines, already JSON.
    """

    last_line: int
    summaries: list[ItemSummary]
    results: bytes
    skipped: list[SkippedLine]


def _read_source(path: Path) -> _Source:
    """The input cut into segments of whole lines, about :data:`SEGMENT_BYTES` each.

    A file is read once here to count its lines and find the cuts; each worker then reads its
    own segments from the file, so no line is sent between processes.
    """
    if str(path) == "-":
        data = sys.stdin.buffer.read()
        return _Source(data.count(b"\n"), list(_memory_segments(data)))
    if not path.is_file():
        typer.echo(f"error: input file {path} does not exist", err=True)
        raise typer.Exit(code=2)
    segments: list[_Segment] = []
    start = end = newlines = 0
    first_line = 1
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(SEGMENT_BYTES), b""):
            end += len(block)
            newlines += block.count(b"\n")
            cut = block.rfind(b"\n") + 1
            if cut and end - start >= SEGMENT_BYTES:  # cut after the block's last newline
                boundary = end - len(block) + cut
                segments.append(_Segment(first_line, str(path), start, boundary))
                start, first_line = boundary, newlines + 1
    if end > start:
        segments.append(_Segment(first_line, str(path), start, end))
    return _Source(newlines, segments)


def _memory_segments(data: bytes) -> Iterator[_Segment]:
    start, first_line = 0, 1
    while start < len(data):
        cut = data.find(b"\n", start + SEGMENT_BYTES)
        end = len(data) if cut < 0 else cut + 1
        yield _Segment(first_line, None, 0, end - start, data[start:end])
        first_line += data.count(b"\n", start, end)
        start = end


def _worker_count(requested: int, total_lines: int) -> int:
    """Processes to score with: ``requested``, or for 0 one per usable CPU on a large input."""
    if requested:
        return requested
    if total_lines < PARALLEL_MIN_LINES:
        return 1
    usable = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    return max(1, len(usable) if usable else os.cpu_count() or 1)


def _score_segments(
    source: _Source, options: _WorkerOptions, processes: int = 1
) -> Iterator[_ScoredSegment]:
    """Each segment scored, in input order, with a progress bar on large inputs."""
    from rich.console import Console
    from rich.progress import Progress

    # The pool is started before the progress bar's refresh thread: fork a process, not a thread.
    with (
        _scoring_pool(processes, options) as score_all,
        Progress(
            console=Console(stderr=True),
            transient=True,
            disable=source.total_lines < PROGRESS_MIN_LINES,
        ) as progress,
    ):
        task = progress.add_task("scoring", total=source.total_lines)
        for part in score_all(source.segments):
            yield part
            progress.update(task, completed=part.last_line)


@contextmanager
def _scoring_pool(
    processes: int, options: _WorkerOptions
) -> Iterator[Callable[[list[_Segment]], Iterator[_ScoredSegment]]]:
    """A function scoring segments in input order: in this process, or in a pool.

    Consecutive lines go to one worker (a segment), so items sharing tools mostly share one
    worker's normalisation. Each worker keeps its own caches.
    """
    if processes <= 1:
        _init_worker(options)  # this process is the only worker
        yield lambda segments: map(_score_segment, segments)
        return
    import multiprocessing

    # fork: workers inherit the imported core instead of importing it again (Linux); other
    # platforms spawn.
    method = "fork" if sys.platform == "linux" else "spawn"
    context = multiprocessing.get_context(method)
    with context.Pool(processes, initializer=_init_worker, initargs=(options,)) as pool:
        # imap keeps input order and sends segments (a few dozen bytes each) ahead; results
        # wait in the parent only until the segments before them are done.
        yield lambda segments: pool.imap(_score_segment, segments)


_worker_state: dict[str, Any] = {}


def _init_worker(options: _WorkerOptions) -> None:
    _worker_state["options"] = options
    _worker_state["shared_tools"] = _SharedTools()


def _score_segment(segment: _Segment) -> _ScoredSegment:
    from service.core.metrics import ItemSummary
    from service.core.parsing.json_text import may_hold_a_long_integer

    options: _WorkerOptions = _worker_state["options"]
    shared_tools: _SharedTools = _worker_state["shared_tools"]
    summaries: list[ItemSummary] = []
    results: list[bytes] = []
    skipped: list[SkippedLine] = []
    data = segment.read()
    # One scan of the whole segment: most inputs hold no 19-digit run anywhere, and then no
    # line needs a scan of its own.
    long_integers = may_hold_a_long_integer(data)
    # A segment ends after a newline (but the input's last line may not): the empty piece
    # after it is no line, and counting it would number past the segment's last line.
    lines = data.removesuffix(b"\n").split(b"\n")
    line_number = segment.first_line - 1
    for line_number, raw in enumerate(lines, start=segment.first_line):
        if not raw.strip():
            continue  # blank lines separate nothing in JSONL; they are not items
        outcome = _score_line(
            line_number, raw, shared_tools, options.string_match, long_integers=long_integers
        )
        if isinstance(outcome, SkippedLine):
            skipped.append(outcome)
            continue
        summaries.append(ItemSummary.of(outcome))
        if options.with_results:
            results.append(_result_line(line_number, outcome))
    return _ScoredSegment(line_number, summaries, b"".join(results), skipped)


def _result_line(line_number: int, score: ItemScore) -> bytes:
    """``{"line": N, **score.to_dict()}`` as one JSON line.

    orjson writes the score's dataclass directly (fields in order, calls as objects): half
    the cost of building the dict first. Where it refuses (an integer past 64 bits, an
    argument mapping that is not a dict), the dict is built and the standard library may
    write it.
    """
    try:
        return (
            b'{"line":%d,' % line_number + orjson.dumps(score, option=orjson.OPT_APPEND_NEWLINE)[1:]
        )
    except orjson.JSONEncodeError:
        pass
    result = {"line": line_number, **score.to_dict()}
    try:
        return orjson.dumps(result, option=orjson.OPT_APPEND_NEWLINE)
    except orjson.JSONEncodeError:  # an integer past 64 bits: the stdlib writes it
        return (json.dumps(result, ensure_ascii=False) + "\n").encode()


class _SharedTools:
    """Normalised tools by their JSON text, for the most recently seen distinct texts."""

    __slots__ = ("_by_text",)

    def __init__(self) -> None:
        from service.core.lru import LruCache

        self._by_text: LruCache[dict[str, ToolSpec]] = LruCache(SHARED_TOOLS_LIMIT)

    def normalised(self, tools: Any) -> Any:
        """``tools`` normalised (shared with every earlier item of the same text)."""
        from service.core.schema import normalise_tools

        try:
            text = orjson.dumps(tools)
        except (orjson.JSONEncodeError, TypeError):
            return tools  # not plain JSON: normalise_tools reports it
        known = self._by_text.get(text)
        if known is None:
            known = normalise_tools(tools)
            self._by_text.put(text, known)
        return known


def _score_line(
    line_number: int,
    raw: bytes,
    shared_tools: _SharedTools | None = None,
    string_match: str = "exact",
    *,
    long_integers: bool = True,
) -> ItemScore | SkippedLine:
    """One line scored, or why it was skipped; ``long_integers=False``: the line is known to
    hold no run of 19 digits (no integer orjson would turn into a float)."""
    from service.core.errors import ToolGradeError
    from service.core.metrics import score_item
    from service.core.parsing.json_text import may_hold_a_long_integer

    try:
        if long_integers and may_hold_a_long_integer(raw):
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
def _result_sink(path: Path | None) -> Iterator[Callable[[bytes], object]]:
    """Yield a function appending result lines to ``path`` (or discarding them)."""
    if path is None:
        yield lambda results: None
        return
    with path.open("wb") as handle:
        yield handle.write


def _print_summary(
    report: ScoreReport, scores: list[ItemSummary], skipped: list[SkippedLine]
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
