"""One evaluation run end to end: load → generate (with a progress bar) → score → write."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import openai
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from clients.evaluation.datasets import DatasetFormat, EvalItem, detect_format, load_dataset
from clients.evaluation.report import RunInfo, write_run
from clients.evaluation.runner import (
    GenerationSettings,
    ItemOutcome,
    generate_outcomes,
    score_outcomes,
)
from service.core.errors import ToolGradeError
from service.core.metrics import ScoreReport


class EndpointError(ToolGradeError):
    """The endpoint cannot be used at all (no model served, unreachable for discovery)."""


@dataclass(frozen=True, slots=True)
class EvalConfig:
    """Everything ``toolgrade eval run`` needs. ``model=None`` takes the endpoint's first."""

    dataset: Path
    out_dir: Path
    base_url: str = "http://127.0.0.1:8000/v1"
    model: str | None = None
    api_key: str | None = None
    answers: Path | None = None
    dataset_format: DatasetFormat = DatasetFormat.AUTO
    limit: int | None = None
    categories: Sequence[str] = ()
    concurrency: int = 8
    retries: int = 3
    backoff_s: float = 0.5
    timeout_s: float = 120.0
    temperature: float = 0.0
    max_tokens: int = 512
    tool_choice: str = "auto"
    extra_body: dict[str, Any] = field(default_factory=dict)
    bootstrap_samples: int = 1000
    seed: int = 0
    show_progress: bool = True


@dataclass(frozen=True, slots=True)
class EvalRun:
    """What a finished run produced."""

    report: ScoreReport
    outcomes: list[ItemOutcome]
    paths: dict[str, Path]
    info: RunInfo


async def run_evaluation(config: EvalConfig, *, console: Console | None = None) -> EvalRun:
    """Run ``config.dataset`` through the endpoint, score it and write the report files.

    Raises:
        DatasetError: the dataset cannot be read.
        EndpointError: no model was named and the endpoint lists none.
    """
    console = console or Console(stderr=True)
    items = load_dataset(
        config.dataset,
        answers=config.answers,
        dataset_format=config.dataset_format,
        limit=config.limit,
        categories=list(config.categories) or None,
    )
    # The SDK's own retries are off: generate_outcomes retries and counts attempts itself.
    client = openai.AsyncOpenAI(
        base_url=config.base_url,
        api_key=config.api_key or "not-needed",
        timeout=config.timeout_s,
        max_retries=0,
    )
    async with client:
        model = config.model or await discover_model(client, config.base_url)
        settings = GenerationSettings(
            model=model,
            temperature=config.temperature,
            max_tokens=config.max_tokens,
            tool_choice=config.tool_choice,
            extra_body=config.extra_body or None,
        )
        started_at = datetime.now(UTC).isoformat(timespec="seconds")
        clock = time.perf_counter()
        outcomes = await _generate_with_progress(items, client, settings, config, console)
        duration = time.perf_counter() - clock

    scored, report = score_outcomes(
        outcomes, bootstrap_samples=config.bootstrap_samples, seed=config.seed
    )
    info = RunInfo(
        dataset=str(config.dataset),
        dataset_format=_format_name(config),
        endpoint=config.base_url,
        model=model,
        started_at=started_at,
        duration_s=round(duration, 3),
        concurrency=config.concurrency,
        retries=config.retries,
        generation={key: value for key, value in asdict(settings).items() if key != "model"},
    )
    paths = write_run(config.out_dir, info, scored, report)
    return EvalRun(report=report, outcomes=outcomes, paths=paths, info=info)


async def discover_model(client: openai.AsyncOpenAI, base_url: str) -> str:
    """The first model the endpoint lists (our service lists its base model first)."""
    try:
        page = await client.models.list()
    except openai.OpenAIError as exc:
        raise EndpointError(
            f"cannot list models at {base_url}: {exc}; pass --model", label="endpoint:no_models"
        ) from exc
    if not page.data:
        raise EndpointError(
            f"{base_url} serves no model (a scoring-only ToolGrade?); pass --model or point "
            "--base-url at a server with a model",
            label="endpoint:no_models",
        )
    return page.data[0].id


async def _generate_with_progress(
    items: Sequence[EvalItem],
    client: openai.AsyncOpenAI,
    settings: GenerationSettings,
    config: EvalConfig,
    console: Console,
) -> list[ItemOutcome]:
    progress = Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("failed: {task.fields[failed]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not config.show_progress,
    )
    failed = 0
    with progress:
        task = progress.add_task(f"{settings.model}", total=len(items), failed=0)

        def advance(outcome: ItemOutcome) -> None:
            nonlocal failed
            failed += outcome.request_error is not None
            progress.update(task, advance=1, failed=failed)

        return await generate_outcomes(
            items,
            client,
            settings,
            concurrency=config.concurrency,
            retries=config.retries,
            backoff_s=config.backoff_s,
            on_done=advance,
        )


def _format_name(config: EvalConfig) -> str:
    if config.dataset_format is DatasetFormat.AUTO:
        return detect_format(config.dataset).value
    return config.dataset_format.value
