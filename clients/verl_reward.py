"""verl reward functions: ToolGrade's reward as verl's ``compute_score``.

verl loads a rule reward named in its config (``reward.custom_reward_function.path`` and
``.name``; keyword arguments under ``.reward_kwargs``). This module offers three:

* :func:`compute_score` — one sample, in-process with the core (verl's ``naive``, ``dapo`` and
  ``remote`` reward managers; no service needed, the numbers ``/reward`` returns);
* :func:`compute_score_batch` — the whole batch at once (verl's ``batch`` manager);
* :func:`compute_score_remote` — ``async``, posting to a ToolGrade service's ``/reward``;
  concurrent calls on one event loop are gathered into one request (verl's reward loop runs
  many samples at once).

Each returns ``{"score": reward, "json_parse", "schema_hit", "exec", "semantic"}``: verl trains
on ``score`` and logs the four components as ``reward_extra_info``. ``ground_truth`` is a label
as ``/reward`` takes it: a reference, or ``{"answers"|"reference", "tools"}`` (``toolgrade
prepare`` writes that in its verl parquet).

``full_sequence=True`` with ``tokenizer=<name or path>`` scores a ``solution_str`` that holds
the prompt and the response decoded together (the ToolRL / Tool-N1 set-up): the prompt is cut
off by the tokenizer's chat template (:mod:`clients.prompt_stripping`), for any model family.

A malformed *completion* scores 0; a malformed *label*, or a service that cannot answer,
raises, so a data bug stops the run instead of training on zeros.
"""

from __future__ import annotations

import asyncio
import json
import weakref
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from clients.errors import ToolGradeAPIError
from clients.http import DEFAULT_BASE_URL, AsyncToolGradeClient
from clients.prompt_stripping import prompt_stripper_for
from clients.trl import DEFAULT_PROFILE, DEFAULT_REWARD_TIMEOUT_S, RewardServiceError
from service.core.rewards import REWARD_COMPONENTS, RewardBreakdown, compute_rewards

# Gather concurrent remote calls for this long (or until a batch is full) before posting.
DEFAULT_MAX_WAIT_S = 0.005
DEFAULT_MAX_BATCH = 64


def compute_score(
    data_source: str | None,
    solution_str: str,
    ground_truth: Any,
    extra_info: Mapping[str, Any] | None = None,
    *,
    profile: str = DEFAULT_PROFILE,
    weights: Mapping[str, float] | None = None,
    full_sequence: bool = False,
    tokenizer: str | None = None,
    **kwargs: Any,
) -> dict[str, float]:
    """Reward one verl sample in-process.

    Args:
        data_source: verl's ``data_source`` column (not used to score).
        solution_str: The decoded response (or, with ``full_sequence``, prompt + response).
        ground_truth: The label: a reference or ``{"answers"|"reference", "tools"}``, maybe
            as JSON text.
        extra_info: verl's ``extra_info`` (not used to score).
        profile: ``weighted``, ``strict`` or ``toolrl``.
        weights: Component weights for ``weighted``.
        full_sequence: ``solution_str`` includes the prompt; cut it off by the chat template.
        tokenizer: The tokenizer (name or path) whose chat template marks the reply; required
            with ``full_sequence``.
        **kwargs: Anything else verl passes (ignored).

    Returns:
        ``{"score", "json_parse", "schema_hit", "exec", "semantic"}``, each in [0, 1].

    Raises:
        ToolGradeError: The label is malformed (or the profile/weights are invalid).

    Example:
        >>> label = json.dumps({"answers": [{"name": "f", "arguments": {"x": 1}}],
        ...                     "tools": [{"name": "f", "parameters": {"x": {"type": "int"}}}]})
        >>> compute_score("toolgrade_xlam", '{"name": "f", "arguments": {"x": 2}}', label)
        {'score': 0.75, 'json_parse': 1.0, 'schema_hit': 1.0, 'exec': 1.0, 'semantic': 0.0}
    """
    return compute_score_batch(
        [data_source],
        [solution_str],
        [ground_truth],
        [extra_info],
        profile=profile,
        weights=weights,
        full_sequence=full_sequence,
        tokenizer=tokenizer,
    )[0]


def compute_score_batch(
    data_sources: Sequence[str | None],
    solution_strs: Sequence[str],
    ground_truths: Sequence[Any],
    extra_infos: Sequence[Mapping[str, Any] | None] | None = None,
    *,
    profile: str = DEFAULT_PROFILE,
    weights: Mapping[str, float] | None = None,
    full_sequence: bool = False,
    tokenizer: str | None = None,
    **kwargs: Any,
) -> list[dict[str, float]]:
    """Reward a whole verl batch in-process (verl's ``batch`` reward manager).

    Args:
        data_sources: One ``data_source`` per sample (not used to score).
        solution_strs: The decoded responses.
        ground_truths: One label per sample (see :func:`compute_score`).
        extra_infos: verl's ``extra_info`` per sample (not used to score).
        profile: ``weighted``, ``strict`` or ``toolrl``.
        weights: Component weights for ``weighted``.
        full_sequence: Each solution includes its prompt; cut it off by the chat template.
        tokenizer: The tokenizer whose chat template marks the reply (with ``full_sequence``).
        **kwargs: Anything else verl passes (ignored).

    Returns:
        One ``{"score", "json_parse", "schema_hit", "exec", "semantic"}`` per sample.

    Example:
        >>> label = {"reference": [{"name": "f", "arguments": {}}],
        ...          "tools": [{"name": "f", "parameters": {}}]}
        >>> [r["score"] for r in compute_score_batch(
        ...     ["a", "a"], ['{"name": "f", "arguments": {}}', "no"], [label, label])]
        [1.0, 0.0]
    """
    completions = _completions(solution_strs, full_sequence, tokenizer)
    labels = [_plain(label) for label in ground_truths]
    breakdowns = compute_rewards(completions, labels, weights=weights, profile=profile)
    return [score_dict(breakdown) for breakdown in breakdowns]


async def compute_score_remote(
    data_source: str | None,
    solution_str: str,
    ground_truth: Any,
    extra_info: Mapping[str, Any] | None = None,
    *,
    reward_url: str = DEFAULT_BASE_URL,
    api_key: str | None = None,
    profile: str = DEFAULT_PROFILE,
    weights: Mapping[str, float] | None = None,
    full_sequence: bool = False,
    tokenizer: str | None = None,
    timeout: float = DEFAULT_REWARD_TIMEOUT_S,
    max_batch: int = DEFAULT_MAX_BATCH,
    max_wait_s: float = DEFAULT_MAX_WAIT_S,
    **kwargs: Any,
) -> dict[str, float]:
    """Reward one verl sample through a ToolGrade service, batched with concurrent calls.

    Calls that arrive on one event loop within ``max_wait_s`` of each other (verl's reward
    loop scores many samples concurrently) share one ``POST /reward`` of up to ``max_batch``.

    Args:
        data_source: verl's ``data_source`` column (not used to score).
        solution_str: The decoded response (or, with ``full_sequence``, prompt + response).
        ground_truth: The label (see :func:`compute_score`).
        extra_info: verl's ``extra_info`` (not used to score).
        reward_url: The service's base URL.
        api_key: Bearer key; defaults to ``TOOLGRADE_API_KEY``.
        profile: ``weighted``, ``strict`` or ``toolrl``.
        weights: Component weights for ``weighted``.
        full_sequence: ``solution_str`` includes the prompt; cut it off by the chat template.
        tokenizer: The tokenizer whose chat template marks the reply (with ``full_sequence``).
        timeout: Seconds per attempt (the client retries connection errors and 5xx).
        max_batch: Most samples in one request.
        max_wait_s: How long the first call of a batch waits for others.
        **kwargs: Anything else verl passes (ignored).

    Returns:
        ``{"score", "json_parse", "schema_hit", "exec", "semantic"}``.

    Raises:
        RewardServiceError: No reward after the client's retries, or the batch was rejected.
    """
    completion = _completions([solution_str], full_sequence, tokenizer)[0]
    options = _RemoteOptions(
        reward_url.rstrip("/"),
        api_key,
        profile,
        json.dumps(weights, sort_keys=True) if weights is not None else None,
        timeout,
        max_batch,
        max_wait_s,
    )
    return await _batcher(options).score(completion, _plain(ground_truth))


def score_dict(breakdown: RewardBreakdown) -> dict[str, float]:
    """verl's result shape: ``score`` plus the four components.

    Example:
        >>> score_dict(RewardBreakdown(1.0, 1.0, 1.0, 0.0, 0.75))["score"]
        0.75
    """
    return {"score": breakdown.reward, **{c: getattr(breakdown, c) for c in REWARD_COMPONENTS}}


def _completions(
    solution_strs: Sequence[str], full_sequence: bool, tokenizer: str | None
) -> list[str]:
    if not full_sequence:
        return [str(text) for text in solution_strs]
    if not tokenizer:
        raise ValueError(
            "full_sequence=True needs tokenizer=<name or path> (its chat template marks where "
            "the reply starts): set reward.custom_reward_function.reward_kwargs.tokenizer"
        )
    stripper = prompt_stripper_for(tokenizer)
    return [stripper.response(str(text)) for text in solution_strs]


def _plain(value: Any) -> Any:
    # verl reads parquet into numpy object arrays; the core takes lists and dicts.
    if hasattr(value, "tolist") and not isinstance(value, str):
        return _plain(value.tolist())
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


class _RemoteOptions(NamedTuple):
    url: str
    api_key: str | None
    profile: str
    weights_json: str | None
    timeout: float
    max_batch: int
    max_wait_s: float


class _RewardBatcher:
    """Gathers concurrent calls on one event loop into ``/reward`` requests."""

    # A plain class, not a dataclass: verl may load this file by path, outside sys.modules,
    # where dataclasses cannot resolve their module.
    def __init__(self, options: _RemoteOptions, client: AsyncToolGradeClient) -> None:
        self.options = options
        self.client = client
        self.pending: list[tuple[Any, Any, asyncio.Future[dict[str, float]]]] = []
        self.timer: asyncio.TimerHandle | None = None
        self.in_flight: set[asyncio.Task[None]] = set()

    async def score(self, completion: Any, label: Any) -> dict[str, float]:
        future: asyncio.Future[dict[str, float]] = asyncio.get_running_loop().create_future()
        self.pending.append((completion, label, future))
        if len(self.pending) >= self.options.max_batch:
            self._flush()
        elif self.timer is None:
            self.timer = asyncio.get_running_loop().call_later(self.options.max_wait_s, self._flush)
        return await future

    def _flush(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        batch, self.pending = self.pending, []
        if batch:
            task = asyncio.get_running_loop().create_task(self._send(batch))
            self.in_flight.add(task)  # a task nobody references may be garbage-collected
            task.add_done_callback(self.in_flight.discard)

    async def _send(self, batch: list[tuple[Any, Any, asyncio.Future[dict[str, float]]]]) -> None:
        options = self.options
        try:
            response = await self.client.reward(
                [completion for completion, _, _ in batch],
                [label for _, label, _ in batch],
                weights=json.loads(options.weights_json) if options.weights_json else None,
                profile=options.profile,
            )
            if len(response.rewards) != len(batch):
                raise RewardServiceError(
                    f"{options.url}/reward answered {len(response.rewards)} rewards for "
                    f"{len(batch)} samples"
                )
        except ToolGradeAPIError as exc:
            failure: BaseException = RewardServiceError(
                f"no reward from {options.url}/reward after {exc.attempts} attempt(s): "
                f"{exc.message}. Refusing to return placeholder rewards."
            )
            failure.__cause__ = exc
            _fail(batch, failure)
            return
        except Exception as exc:
            _fail(batch, exc)
            return
        components = response.extra_logs.model_dump()
        for index, (_, _, future) in enumerate(batch):
            if not future.done():
                future.set_result(
                    {
                        "score": response.rewards[index],
                        **{c: components[c][index] for c in REWARD_COMPONENTS},
                    }
                )


def _fail(
    batch: list[tuple[Any, Any, asyncio.Future[dict[str, float]]]], failure: BaseException
) -> None:
    for _, _, future in batch:
        if not future.done():
            future.set_exception(failure)


# One batcher per event loop and configuration; a loop that is gone takes its batchers along.
_BATCHERS: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[_RemoteOptions, _RewardBatcher]
] = weakref.WeakKeyDictionary()


def _batcher(options: _RemoteOptions) -> _RewardBatcher:
    loop = asyncio.get_running_loop()
    batchers = _BATCHERS.setdefault(loop, {})
    if options not in batchers:
        client = AsyncToolGradeClient(options.url, api_key=options.api_key, timeout=options.timeout)
        batchers[options] = _RewardBatcher(options, client)
    return batchers[options]
