"""TRL reward functions: ToolGrade's reward in-process or through ``POST /reward``.

TRL calls a reward function as ``f(prompts=..., completions=..., completion_ids=..., **kw)``
where ``kw`` holds every dataset column (one entry per completion) plus ``trainer_state``,
``log_extra`` and ``log_metric``, which are not JSON and are never sent. One call scores the
whole batch (one ``/reward`` request, or one in-process
:func:`~service.core.rewards.compute_rewards` call) and returns one reward per completion. The
four components go to TRL twice: each batch mean through ``log_metric`` (TRL averages it per
logging step) and every completion's value through ``log_extra`` (a column of TRL's
completions table).

A row whose label is ``None`` is not scored: its reward is ``None``, which TRL leaves out of
the loss (multi-task training, where another reward function scores those rows). A label that
means "no call is expected" is ``[]``.

A reward that cannot be obtained is an error, never a silent 0: after the client's retries
(connection failures, timeouts, 5xx) :class:`RewardServiceError` is raised, and so it is when
the server (or the core) rejects the batch (bad labels are a data bug) or answers the wrong
number of rewards. TRL then stops the step with that message instead of training on made-up
rewards.

Every reward function here pickles (TRL's async GRPO trainer sends reward functions to a
scoring process): the HTTP client is created on first use and never pickled.
:func:`make_trl_reward_function` builds all three kinds.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from clients.errors import ToolGradeAPIError
from clients.http import (
    DEFAULT_BASE_URL,
    AsyncToolGradeClient,
    RetryPolicy,
    ToolGradeClient,
)
from service.core.errors import ToolGradeError
from service.core.rewards import (
    REWARD_COMPONENTS,
    attach_tools,
    compute_rewards,
    normalise_weights,
    resolve_profile,
)
from service.protocol.reward import RewardResponse

# TRL's keyword arguments that are runtime objects, not dataset columns.
TRL_RUNTIME_KWARGS = ("trainer_state", "log_extra", "log_metric", "environments")
# Components go to TRL's log as toolgrade/json_parse, ...
DEFAULT_METRIC_PREFIX = "toolgrade"
# A GRPO step may reward a large batch on a busy CPU service: be patient per attempt.
DEFAULT_REWARD_TIMEOUT_S = 180.0
DEFAULT_PROFILE = "weighted"
# Attributes that belong to one process (an open HTTP client, its event loop): never pickled.
_RUNTIME_ATTRIBUTES = ("_client", "_client_loop")


class RewardServiceError(RuntimeError):
    """No reward could be obtained from ToolGrade; training must not go on without it."""


def default_reward_name(profile: str) -> str:
    """The name TRL logs a reward under (``rewards/<name>/mean``).

    Args:
        profile: The reward profile.

    Returns:
        ``toolgrade_<profile>_reward``.

    Example:
        >>> default_reward_name("strict")
        'toolgrade_strict_reward'
    """
    return f"toolgrade_{profile}_reward"


@dataclass(frozen=True, slots=True)
class _Batch:
    """The rows of one TRL call that carry a label, ready to score."""

    completions: list[Any]
    labels: list[Any]
    positions: list[int]  # where each scored row sits in TRL's batch
    size: int  # TRL's batch size (scored and unscored rows)


class _RewardFunctionBase:
    # Configuration, request building, response checks and logging shared by the in-process,
    # blocking-HTTP and async-HTTP reward functions; each subclass keeps only its scoring path.

    def __init__(
        self,
        base_url: str | None = DEFAULT_BASE_URL,
        *,
        api_key: str | None = None,
        profile: str = DEFAULT_PROFILE,
        weights: Mapping[str, float] | None = None,
        tools: Any = None,
        label_column: str = "label",
        tools_column: str = "tools",
        timeout: float = DEFAULT_REWARD_TIMEOUT_S,
        max_retries: int | None = None,
        retry: RetryPolicy | None = None,
        name: str | None = None,
        metric_prefix: str = DEFAULT_METRIC_PREFIX,
    ) -> None:
        # A bad profile or weighting fails here, not in the middle of training.
        profile = resolve_profile(profile).value  # "seed" is logged under its new name
        normalise_weights(weights)
        self.base_url = base_url.rstrip("/") if base_url is not None else None
        self.profile = profile
        self.weights = dict(weights) if weights is not None else None
        self.tools = tools
        self.label_column = label_column
        self.tools_column = tools_column
        self._client_options: dict[str, Any] = {
            "api_key": api_key,
            "timeout": timeout,
            "max_retries": max_retries,
            "retry": retry,
        }
        # TRL logs a reward function under its __name__.
        self.__name__ = name or default_reward_name(profile)
        self.metric_prefix = metric_prefix
        self._client: Any = None
        self._client_loop: asyncio.AbstractEventLoop | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        for attribute in _RUNTIME_ATTRIBUTES:
            state[attribute] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    @property
    def _source(self) -> str:
        return f"{self.base_url}/reward" if self.base_url is not None else "the in-process reward"

    def _batch(self, completions: Sequence[Any] | None, columns: Mapping[str, Any]) -> _Batch:
        if completions is None:
            raise RewardServiceError(f"{self.__name__}: TRL passed no completions")
        if self.label_column not in columns:
            raise RewardServiceError(
                f"{self.__name__}: the dataset has no {self.label_column!r} column (columns: "
                f"{sorted(c for c in columns if c not in TRL_RUNTIME_KWARGS)}); put each row's "
                f"reference (or {{'answers', 'tools'}}) there"
            )
        labels = list(columns[self.label_column])
        if len(labels) != len(completions):
            raise RewardServiceError(
                f"{self.__name__}: {len(completions)} completions but {len(labels)} labels"
            )
        row_tools = _per_row(columns.get(self.tools_column), len(labels))
        if row_tools is not None:
            labels = [
                label if label is None else attach_tools(label, tools)
                for label, tools in zip(labels, row_tools, strict=True)
            ]
        positions = [index for index, label in enumerate(labels) if label is not None]
        return _Batch(
            completions=[completions[index] for index in positions],
            labels=[labels[index] for index in positions],
            positions=positions,
            size=len(labels),
        )

    def _request(self, batch: _Batch) -> dict[str, Any]:
        return {
            "completions": batch.completions,
            "labels": batch.labels,
            "tools": self.tools,
            "weights": self.weights,
            "profile": self.profile,
        }

    def _finish(
        self,
        batch: _Batch,
        rewards: Sequence[float],
        components: Mapping[str, Sequence[float]],
        columns: Mapping[str, Any],
    ) -> list[float | None]:
        expected = len(batch.positions)
        if len(rewards) != expected or not all(math.isfinite(r) for r in rewards):
            raise RewardServiceError(
                f"{self.__name__}: {self._source} answered {len(rewards)} rewards for "
                f"{expected} completions (or a non-finite one)"
            )
        log_metric = columns.get("log_metric")
        if callable(log_metric) and rewards:
            for component in REWARD_COMPONENTS:
                values = components[component]
                log_metric(f"{self.metric_prefix}/{component}", sum(values) / len(values))
        log_extra = columns.get("log_extra")
        if callable(log_extra):
            for component in REWARD_COMPONENTS:
                log_extra(
                    f"{self.metric_prefix}/{component}",
                    self._spread(batch, components[component]),
                )
        return self._spread(batch, rewards)

    @staticmethod
    def _spread(batch: _Batch, values: Sequence[float]) -> list[float | None]:
        # One entry per TRL row: the scored rows' values, None for rows without a label.
        spread: list[float | None] = [None] * batch.size
        for position, value in zip(batch.positions, values, strict=True):
            spread[position] = value
        return spread

    def _failure(self, exc: ToolGradeAPIError) -> RewardServiceError:
        return RewardServiceError(
            f"{self.__name__}: no reward from {self._source} after {exc.attempts} "
            f"attempt(s): {exc.message}. Refusing to return placeholder rewards."
        )

    def _response_values(
        self, response: RewardResponse
    ) -> tuple[list[float], dict[str, list[float]]]:
        return list(response.rewards), response.extra_logs.model_dump()


class _SyncRewardFunction(_RewardFunctionBase):
    # TRL's blocking calling convention; subclasses score a batch of labelled rows.

    def __call__(
        self,
        prompts: Sequence[Any] | None = None,
        completions: Sequence[Any] | None = None,
        completion_ids: Sequence[Any] | None = None,
        **kwargs: Any,
    ) -> list[float | None]:
        batch = self._batch(completions, kwargs)
        if not batch.positions:
            return self._finish(batch, [], {c: [] for c in REWARD_COMPONENTS}, kwargs)
        return self._finish(batch, *self._score(batch), kwargs)

    def _score(self, batch: _Batch) -> tuple[list[float], dict[str, list[float]]]:
        raise NotImplementedError


class LocalRewardFunction(_SyncRewardFunction):
    """TRL reward function scoring in-process with the core (the numbers ``/reward`` returns).

    Args:
        profile: ``weighted`` (or its former name ``seed``), ``strict`` or ``toolrl``.
        weights: Component weights for ``weighted``.
        tools: Tools shared by every row (rows may carry their own in the label or in the
            ``tools_column``).
        label_column: The dataset column holding each row's label.
        tools_column: A dataset column with per-row tools (used when present).
        name: The name TRL logs (default ``toolgrade_<profile>_reward``).
        metric_prefix: Components are logged as ``<prefix>/<component>``.

    Example:
        >>> tools = [{"name": "f", "parameters": {"x": {"type": "int"}}}]
        >>> reward = LocalRewardFunction(profile="strict", tools=tools)
        >>> reward(completions=['{"name": "f", "arguments": {"x": 1}}', "no call", "x"],
        ...        label=[[{"name": "f", "arguments": {"x": 1}}], [], None])
        [1.0, 1.0, None]
    """

    def __init__(self, **options: Any) -> None:
        super().__init__(None, **options)

    def _score(self, batch: _Batch) -> tuple[list[float], dict[str, list[float]]]:
        try:
            breakdowns = compute_rewards(
                batch.completions,
                batch.labels,
                tools=self.tools,
                weights=self.weights,
                profile=self.profile,
            )
        except ToolGradeError as exc:  # a malformed label is a data bug: stop, don't score 0
            raise RewardServiceError(
                f"{self.__name__}: the in-process reward rejected the batch: {exc.message}"
            ) from exc
        components = {c: [getattr(b, c) for b in breakdowns] for c in REWARD_COMPONENTS}
        return [b.reward for b in breakdowns], components


class ToolGradeRewardFunction(_RewardFunctionBase):
    """Async TRL reward function backed by ``POST /reward``.

    Args:
        base_url: The ToolGrade service (scoring-only is enough).
        api_key: Bearer key; defaults to ``TOOLGRADE_API_KEY``.
        profile: ``weighted`` (or its former name ``seed``), ``strict`` or ``toolrl``.
        weights: Component weights for ``weighted``.
        tools: Tools shared by every row (rows may carry their own in the label or in the
            ``tools_column``).
        label_column: The dataset column holding each row's label.
        tools_column: A dataset column with per-row tools (used when present).
        timeout: Seconds per attempt.
        max_retries: Retries after the first attempt (default 5, ~16 s of backoff).
        retry: A full :class:`~clients.http.RetryPolicy`.
        name: The name TRL logs (default ``toolgrade_<profile>_reward``).
        metric_prefix: Components are logged as ``<prefix>/<component>``.

    Example:
        >>> reward = ToolGradeRewardFunction("http://reward:8000", profile="strict")
        >>> reward.__name__
        'toolgrade_strict_reward'
    """

    async def __call__(
        self,
        prompts: Sequence[Any] | None = None,
        completions: Sequence[Any] | None = None,
        completion_ids: Sequence[Any] | None = None,
        **kwargs: Any,
    ) -> list[float | None]:
        batch = self._batch(completions, kwargs)
        if not batch.positions:
            return self._finish(batch, [], {c: [] for c in REWARD_COMPONENTS}, kwargs)
        try:
            response = await self._client_for_this_loop().reward(**self._request(batch))
        except ToolGradeAPIError as exc:
            raise self._failure(exc) from exc
        return self._finish(batch, *self._response_values(response), kwargs)

    def _client_for_this_loop(self) -> AsyncToolGradeClient:
        # An httpx.AsyncClient belongs to the event loop it first ran on; TRL uses one daemon
        # loop, but a caller using asyncio.run() per call gets a fresh loop each time.
        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop:
            assert self.base_url is not None
            self._client = AsyncToolGradeClient(self.base_url, **self._client_options)
            self._client_loop = loop
        client: AsyncToolGradeClient = self._client
        return client

    async def aclose(self) -> None:
        """Close the HTTP client."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None


class SyncToolGradeRewardFunction(_SyncRewardFunction):
    """The same reward as :class:`ToolGradeRewardFunction`, as a plain (blocking) function.

    Example:
        >>> import pickle
        >>> reward = SyncToolGradeRewardFunction("http://reward:8000", profile="toolrl")
        >>> pickle.loads(pickle.dumps(reward)).__name__
        'toolgrade_toolrl_reward'
    """

    def _score(self, batch: _Batch) -> tuple[list[float], dict[str, list[float]]]:
        try:
            response = self._opened_client().reward(**self._request(batch))
        except ToolGradeAPIError as exc:
            raise self._failure(exc) from exc
        return self._response_values(response)

    def _opened_client(self) -> ToolGradeClient:
        if self._client is None:
            assert self.base_url is not None
            self._client = ToolGradeClient(self.base_url, **self._client_options)
        client: ToolGradeClient = self._client
        return client

    def close(self) -> None:
        """Close the HTTP client (a later call opens a new one)."""
        if self._client is not None:
            self._client.close()
            self._client = None


TRLRewardFunction = LocalRewardFunction | ToolGradeRewardFunction | SyncToolGradeRewardFunction


def make_trl_reward_function(
    base_url: str | None = DEFAULT_BASE_URL,
    *,
    asynchronous: bool = False,
    **options: Any,
) -> TRLRewardFunction:
    """A TRL reward function: in-process, or calling ``base_url``'s ``/reward``.

    Args:
        base_url: The ToolGrade service, or ``None`` to score in-process with the core (no
            service, same numbers).
        asynchronous: Return the ``async`` :class:`ToolGradeRewardFunction` (HTTP only).
        **options: ``profile``, ``weights``, ``tools``, ``label_column``, ``tools_column``,
            ``name``, ``metric_prefix``; for HTTP also ``api_key``, ``timeout``,
            ``max_retries``, ``retry``.

    Returns:
        A picklable reward function TRL calls with its usual keyword arguments.

    Raises:
        ToolGradeError: An unknown profile or invalid weights (checked here, not mid-training).

    Example:
        >>> make_trl_reward_function("http://reward:8000", profile="toolrl").__name__
        'toolgrade_toolrl_reward'
        >>> reward = make_trl_reward_function(None, weights={"json_parse": 1, "semantic": 3})
        >>> reward(completions=['{"name": "f", "arguments": {"x": 2}}'],
        ...        label=[[{"name": "f", "arguments": {"x": 1}}]])
        [0.25]
    """
    if base_url is None:
        if asynchronous:
            raise ValueError("the in-process reward is synchronous: pass a base_url for async")
        http_only = {"api_key", "timeout", "max_retries", "retry"} & set(options)
        if http_only:
            raise TypeError(f"options {sorted(http_only)} only apply to an HTTP reward")
        return LocalRewardFunction(**options)
    if asynchronous:
        return ToolGradeRewardFunction(base_url, **options)
    return SyncToolGradeRewardFunction(base_url, **options)


def _per_row(column: Any, count: int) -> list[Any] | None:
    # A tools dataset column has one entry per completion: a schema list or a JSON string.
    if (
        isinstance(column, list | tuple)
        and len(column) == count
        and all(entry is None or isinstance(entry, str | list | tuple) for entry in column)
    ):
        return list(column)
    return None
