"""Send evaluation items to an OpenAI-compatible endpoint and score what comes back.

Requests go through the official ``openai`` SDK (``AsyncOpenAI``), at most ``concurrency`` at a
time, each retried with exponential backoff on the failures worth retrying (connection errors,
timeouts, 408/409/429 and 5xx answers). The SDK's own retries are switched off so the count
recorded per item is the real one. An item whose request still fails is kept: it is scored as
an empty prediction (the model gave no answer) and its error is reported, never dropped.
Scoring uses the core's ``score_item`` and ``summarise``, the same functions behind ``/score``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import openai
from tenacity import (
    AsyncRetrying,
    RetryError,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from clients.evaluation.datasets import EvalItem
from clients.evaluation.endpoint import build_chat_request, prediction_from_message
from service.core.metrics import ItemScore, ScoreReport, score_item, summarise

# Status codes a retry can fix: timeouts, conflicts, rate limits and server-side failures.
_RETRYABLE_STATUS = frozenset({408, 409, 429})


@dataclass(frozen=True, slots=True)
class GenerationSettings:
    """What every request of a run asks for. Greedy decoding by default, as BFCL does."""

    model: str
    temperature: float = 0.0
    max_tokens: int = 512
    tool_choice: str = "auto"
    extra_body: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class ItemOutcome:
    """What the endpoint answered for one item (``prediction`` is ``None`` when it failed)."""

    item: EvalItem
    prediction: dict[str, Any] | None
    finish_reason: str | None
    attempts: int
    latency_s: float
    request_error: str | None = None
    usage: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ScoredOutcome:
    """An outcome together with its core score."""

    outcome: ItemOutcome
    score: ItemScore


def is_retryable(error: BaseException) -> bool:
    """Whether a failed request is worth sending again."""
    if isinstance(error, openai.APIConnectionError):  # includes APITimeoutError
        return True
    if isinstance(error, openai.APIStatusError):
        return error.status_code in _RETRYABLE_STATUS or error.status_code >= 500
    return False


async def generate_outcomes(
    items: Sequence[EvalItem],
    client: openai.AsyncOpenAI,
    settings: GenerationSettings,
    *,
    concurrency: int = 8,
    retries: int = 3,
    backoff_s: float = 0.5,
    on_done: Callable[[ItemOutcome], None] | None = None,
) -> list[ItemOutcome]:
    """Ask the endpoint about every item, ``concurrency`` requests in flight at most.

    Args:
        items: what to send.
        client: an ``AsyncOpenAI`` client; create it with ``max_retries=0`` (retries are
            counted here).
        settings: model name and sampling parameters.
        concurrency: the bound on simultaneous requests (at least 1).
        retries: extra attempts after a retryable failure.
        backoff_s: first backoff delay; it doubles per attempt, with jitter, up to 30 s.
        on_done: called with each outcome as it completes (the progress bar).

    Returns:
        One outcome per item, in the order of ``items``.
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    slots = asyncio.Semaphore(concurrency)

    async def run_one(item: EvalItem) -> ItemOutcome:
        async with slots:
            outcome = await _request_item(item, client, settings, retries, backoff_s)
        if on_done is not None:
            on_done(outcome)
        return outcome

    return list(await asyncio.gather(*(run_one(item) for item in items)))


def score_outcomes(
    outcomes: Sequence[ItemOutcome], *, bootstrap_samples: int = 1000, seed: int = 0
) -> tuple[list[ScoredOutcome], ScoreReport]:
    """Score each outcome with the core and summarise the run (same numbers as ``/score``)."""
    scored = [
        ScoredOutcome(
            outcome=outcome,
            score=score_item(
                outcome.prediction,
                outcome.item.reference,
                list(outcome.item.tools),
                item_id=outcome.item.id,
                category=outcome.item.category,
            ),
        )
        for outcome in outcomes
    ]
    report = summarise(
        [entry.score for entry in scored], bootstrap_samples=bootstrap_samples, seed=seed
    )
    return scored, report


async def _request_item(
    item: EvalItem,
    client: openai.AsyncOpenAI,
    settings: GenerationSettings,
    retries: int,
    backoff_s: float,
) -> ItemOutcome:
    request = build_chat_request(item.messages, item.tools)
    arguments: dict[str, Any] = {
        "model": settings.model,
        "messages": request.messages,
        "temperature": settings.temperature,
        "max_tokens": settings.max_tokens,
    }
    if request.tools:
        arguments["tools"] = request.tools
        arguments["tool_choice"] = settings.tool_choice
    if settings.extra_body:
        arguments["extra_body"] = settings.extra_body

    attempts = 0
    started = time.perf_counter()
    try:
        async for attempt in AsyncRetrying(
            retry=retry_if_exception(is_retryable),
            stop=stop_after_attempt(retries + 1),
            wait=wait_exponential_jitter(initial=backoff_s, max=30.0, jitter=backoff_s),
            reraise=False,
        ):
            with attempt:
                attempts += 1
                completion = await client.chat.completions.create(**arguments)
    except (openai.OpenAIError, RetryError) as exc:
        cause = exc.last_attempt.exception() if isinstance(exc, RetryError) else exc
        return _failed_outcome(item, attempts, started, _describe_error(cause))
    usage = completion.usage
    if not completion.choices:
        return _failed_outcome(
            item, attempts, started, "empty_response: the completion has no choices"
        )
    choice = completion.choices[0]
    return ItemOutcome(
        item=item,
        prediction=prediction_from_message(
            choice.message.model_dump(exclude_none=True), request.dataset_name_of
        ),
        finish_reason=choice.finish_reason,
        attempts=attempts,
        latency_s=time.perf_counter() - started,
        usage=(
            {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens}
            if usage is not None
            else {}
        ),
    )


def _failed_outcome(item: EvalItem, attempts: int, started: float, error: str) -> ItemOutcome:
    """The outcome of an item the endpoint gave no usable answer for."""
    return ItemOutcome(
        item=item,
        prediction=None,
        finish_reason=None,
        attempts=attempts,
        latency_s=time.perf_counter() - started,
        request_error=error,
    )


def _describe_error(error: BaseException | None) -> str:
    """A one-line description that keeps the HTTP status when there is one."""
    if isinstance(error, openai.APIStatusError):
        # The SDK's message reads "Error code: 502 - {...}"; the envelope's message is enough.
        body = error.body
        message = body.get("message") if isinstance(body, dict) else None
        return f"http_{error.status_code}: {message or error.message}"
    return f"{type(error).__name__}: {error}"
