"""``/score`` and ``/reward``: protocol models in, core functions, protocol models out.

The core is pure and CPU-bound. Every batch is scored in a worker thread
(``anyio.to_thread``), so a large batch does not stall the event loop: ``/health``, other
requests and streaming generation keep being served while it runs.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any

import anyio
import anyio.to_thread

from service.config import Settings
from service.core.audit import AUDIT_PROFILES, audit_rewards
from service.core.errors import ToolGradeError
from service.core.metrics import score_item, summarise
from service.core.rewards import REWARD_COMPONENTS, compute_rewards, resolve_profile
from service.errors import BatchTooLargeError
from service.protocol.audit import AuditRequest, AuditResponse
from service.protocol.reward import RewardComponents, RewardRequest, RewardResponse
from service.protocol.score import ScoreRequest, ScoreResponse
from service.serving.telemetry import Telemetry

# OpenRLHF's query is the prompt and the response decoded together; with a chat template the
# response follows the last assistant header.
ASSISTANT_HEADER = "<|im_start|>assistant"
# End-of-turn tokens a decoded query may end with; they are not part of the answer.
END_OF_TURN_TOKENS = ("<|im_end|>", "<|endoftext|>", "<|eot_id|>", "</s>")
# Scoring threads running at once. The GIL serialises pure-Python scoring anyway; a few threads
# keep large batches from queueing behind one another without piling up memory.
MAX_SCORING_THREADS = 4
# Batches this small (in items and in characters) are scored on the event loop: a one-sample
# reward takes tens of µs, less than the hop to a worker thread and back, and blocks the loop
# no longer than a hop would. A long text is sent to a thread whatever the batch size.
INLINE_BATCH_ITEMS = 4
INLINE_BATCH_CHARACTERS = 16_384


class ScoringService:
    """Scores ``/score`` and ``/reward`` batches off the event loop (tiny ones on it)."""

    def __init__(self, settings: Settings, telemetry: Telemetry) -> None:
        self.settings = settings
        self.telemetry = telemetry
        self._limiter = anyio.CapacityLimiter(MAX_SCORING_THREADS)

    async def score(self, request: ScoreRequest) -> ScoreResponse:
        """Score every item and summarise them (see :func:`service.core.metrics.summarise`)."""
        self._check_batch(len(request.items), "items")
        if len(request.items) <= INLINE_BATCH_ITEMS and _small(
            value
            for item in request.items
            for value in (item.prediction, item.reference, item.tools)
        ):
            response = score_batch(request)
        else:
            response = await anyio.to_thread.run_sync(
                functools.partial(score_batch, request), limiter=self._limiter
            )
        self.telemetry.items_scored.inc(response.count)
        return response

    async def reward(self, request: RewardRequest) -> RewardResponse:
        """Reward every completion (see :func:`service.core.rewards.compute_rewards`)."""
        self._check_batch(len(request.labels), "labels")
        if len(request.labels) <= INLINE_BATCH_ITEMS and _small(
            (*(request.completions or ()), *(request.query or ()), *request.labels, request.tools)
        ):
            response = reward_batch(request)
        else:
            response = await anyio.to_thread.run_sync(
                functools.partial(reward_batch, request), limiter=self._limiter
            )
        # Counted under the profile's current name ("seed" requests count as "weighted").
        profile = resolve_profile(request.profile).value
        self.telemetry.rewards_computed.labels(profile=profile).inc(len(response.rewards))
        return response

    async def audit(self, request: AuditRequest) -> AuditResponse:
        """Audit reward profiles on the items (see :func:`service.core.audit.audit_rewards`)."""
        self._check_batch(len(request.items), "items")
        return await anyio.to_thread.run_sync(
            functools.partial(audit_batch, request), limiter=self._limiter
        )

    def _check_batch(self, size: int, param: str) -> None:
        if size > self.settings.max_batch_items:
            raise BatchTooLargeError(
                f"{size} {param} in one request; at most {self.settings.max_batch_items} "
                "(TOOLGRADE_MAX_BATCH_ITEMS): split the batch",
                label="request:batch_too_large",
                param=param,
            )


def _small(values: Iterable[Any]) -> bool:
    """Whether the values add up to at most :data:`INLINE_BATCH_CHARACTERS` characters."""
    total = 0
    for value in values:
        total += len(value) if isinstance(value, str) else len(str(value))
        if total > INLINE_BATCH_CHARACTERS:
            return False
    return True


def score_batch(request: ScoreRequest) -> ScoreResponse:
    """Score a ``/score`` request synchronously (runs in a worker thread)."""
    scores = [
        score_item(
            item.prediction,
            item.reference,
            item.tools,
            item_id=item.id,
            category=item.category,
            string_match=request.string_match,
        )
        for item in request.items
    ]
    report = summarise(scores, bootstrap_samples=request.bootstrap_samples, seed=request.seed)
    response = ScoreResponse(
        count=report.count,
        metrics=report.metrics,
        ci=report.ci,
        by_category=report.by_category,
    )
    if request.include_items:
        response.items = scores
    return response


def audit_batch(request: AuditRequest) -> AuditResponse:
    """Audit a ``/audit`` request synchronously (runs in a worker thread)."""
    report = audit_rewards(
        [item.as_row() for item in request.items],
        profiles=AUDIT_PROFILES if request.profile is None else (request.profile,),
        weights=request.weights,
        string_match=request.string_match,
    )
    return AuditResponse.model_validate(report.to_dict())


def reward_batch(request: RewardRequest) -> RewardResponse:
    """Reward a ``/reward`` request synchronously (runs in a worker thread)."""
    completions = resolve_completions(request)
    breakdowns = compute_rewards(
        completions,
        request.labels,
        tools=request.tools,
        weights=request.weights,
        profile=request.profile,
        string_match=request.string_match,
    )
    rewards = [b.reward for b in breakdowns]
    return RewardResponse(
        rewards=rewards,
        scores=list(rewards),
        extra_logs=RewardComponents(
            **{name: [getattr(b, name) for b in breakdowns] for name in REWARD_COMPONENTS}
        ),
    )


def resolve_completions(request: RewardRequest) -> Sequence[Any]:
    """The completions to reward: given, or derived from OpenRLHF's ``query`` (and ``prompts``).

    Raises:
        ToolGradeError: Lengths differ from ``labels``, or neither completions nor query given,
            or a query whose response cannot be located.
    """
    count = len(request.labels)
    if count == 0 and not request.completions and not request.query:
        return []
    if request.completions is not None:
        _check_length("completions", len(request.completions), count)
        return request.completions
    if request.query is None:
        raise ToolGradeError(
            "send completions, or query (with prompts) as OpenRLHF does",
            label="reward:missing_completions",
            param="completions",
        )
    _check_length("query", len(request.query), count)
    prompts = request.prompts
    if prompts is not None:
        _check_length("prompts", len(prompts), count)
    return [
        completion_from_query(query, prompts[index] if prompts is not None else None, index)
        for index, query in enumerate(request.query)
    ]


def completion_from_query(query: str, prompt: Any, index: int = 0) -> str:
    """The response part of an OpenRLHF query (prompt and response decoded together).

    The prompt is cut off when the query starts with it; otherwise the response is the text
    after the last ``<|im_start|>assistant`` header. Trailing end-of-turn tokens are dropped.

    Raises:
        ToolGradeError: Neither rule locates the response (label ``reward:no_response_in_query``):
            guessing would score the prompt's own JSON.

    Example:
        >>> completion_from_query("<|im_start|>user\\nhi<|im_end|>\\n<|im_start|>assistant\\n"
        ...     "Hello<|im_end|>", None)
        'Hello'
        >>> completion_from_query("Q: 2+2? A: 4", "Q: 2+2? A:")
        ' 4'
    """
    if isinstance(prompt, str) and prompt and query.startswith(prompt):
        response = query[len(prompt) :]
    elif ASSISTANT_HEADER in query:
        response = query.rsplit(ASSISTANT_HEADER, 1)[1].removeprefix("\n")
    else:
        raise ToolGradeError(
            f"query[{index}] neither starts with its prompt nor contains {ASSISTANT_HEADER!r}: "
            "cannot tell the response from the prompt; send completions instead",
            label="reward:no_response_in_query",
            param=f"query.{index}",
        )
    return _strip_end_of_turn(response)


def _strip_end_of_turn(text: str) -> str:
    while True:
        trimmed = text.rstrip()
        token = next((t for t in END_OF_TURN_TOKENS if trimmed.endswith(t)), None)
        if token is None:
            return text
        text = trimmed.removesuffix(token)


def _check_length(param: str, length: int, expected: int) -> None:
    if length != expected:
        raise ToolGradeError(
            f"got {length} {param} but {expected} labels: send one per label",
            label="reward:length_mismatch",
            param=param,
        )
