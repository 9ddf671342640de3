"""TRL reward functions that call ToolGrade's ``POST /reward``.

TRL calls a reward function as ``f(prompts=..., completions=..., completion_ids=..., **kw)``
where ``kw`` holds every dataset column (one entry per completion) plus ``trainer_state``,
``log_extra`` and ``log_metric``, which are not JSON and are never sent. One call posts one
batched ``/reward``; the four components are logged through ``log_metric`` (TRL averages them
per logging step); the rewards are returned.

A reward that cannot be obtained is an error, never a silent 0: after the client's retries
(connection failures, timeouts, 5xx) :class:`RewardServiceError` is raised, and so it is when
the server rejects the batch (bad labels are a data bug) or answers the wrong number of
rewards. TRL then stops the step with that message instead of training on made-up rewards.

:class:`ToolGradeRewardFunction` is ``async`` (TRL runs async reward functions concurrently on
its own event loop); :class:`SyncToolGradeRewardFunction` is the same thing for callers that
want a plain function.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from clients.errors import ToolGradeAPIError
from clients.http import (
    DEFAULT_BASE_URL,
    AsyncToolGradeClient,
    RetryPolicy,
    ToolGradeClient,
)
from service.protocol.reward import RewardResponse

# TRL's keyword arguments that are runtime objects, not dataset columns.
TRL_RUNTIME_KWARGS = ("trainer_state", "log_extra", "log_metric", "environments")
REWARD_COMPONENTS = ("json_parse", "schema_hit", "exec", "semantic")
# Components go to TRL's log as toolgrade/json_parse, ... (as training.grpo's local reward).
DEFAULT_METRIC_PREFIX = "toolgrade"
# A GRPO step may reward a large batch on a busy CPU service: be patient per attempt.
DEFAULT_REWARD_TIMEOUT_S = 180.0


class RewardServiceError(RuntimeError):
    """No reward could be obtained from ToolGrade; training must not go on without it."""


class _RewardFunctionBase:
    # The constructor, request building, response checks and metric logging the sync and
    # async reward functions share; each subclass keeps only its own I/O path.

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        api_key: str | None = None,
        profile: str = "seed",
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
        self.base_url = base_url.rstrip("/")
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
        self.__name__ = name or f"toolgrade_{profile}_reward"
        self.metric_prefix = metric_prefix
        self._open_client()

    def _open_client(self) -> None:
        """Set up the HTTP client (the async function defers it to its event loop)."""

    def _request(
        self, completions: Sequence[Any] | None, columns: dict[str, Any]
    ) -> dict[str, Any]:
        for key in TRL_RUNTIME_KWARGS:
            columns.pop(key, None)
        if completions is None:
            raise RewardServiceError(f"{self.__name__}: TRL passed no completions")
        if self.label_column not in columns:
            raise RewardServiceError(
                f"{self.__name__}: the dataset has no {self.label_column!r} column (columns: "
                f"{sorted(columns)}); put each row's reference (or {{'answers', 'tools'}}) there"
            )
        labels = list(columns[self.label_column])
        row_tools = _per_row(columns.get(self.tools_column), len(labels))
        if row_tools is not None:
            labels = [
                _with_tools(label, tools) for label, tools in zip(labels, row_tools, strict=True)
            ]
        return {
            "completions": list(completions),
            "labels": labels,
            "tools": self.tools,
            "weights": self.weights,
            "profile": self.profile,
        }

    def _rewards(self, response: RewardResponse, expected: int, log_metric: Any) -> list[float]:
        rewards = response.rewards
        if len(rewards) != expected or not all(math.isfinite(r) for r in rewards):
            raise RewardServiceError(
                f"{self.__name__}: {self.base_url}/reward answered {len(rewards)} rewards for "
                f"{expected} completions (or a non-finite one)"
            )
        if callable(log_metric) and rewards:
            components = response.extra_logs.model_dump()
            for component in REWARD_COMPONENTS:
                values = components[component]
                log_metric(f"{self.metric_prefix}/{component}", sum(values) / len(values))
        return rewards

    def _failure(self, exc: ToolGradeAPIError) -> RewardServiceError:
        return RewardServiceError(
            f"{self.__name__}: no reward from {self.base_url}/reward after {exc.attempts} "
            f"attempt(s): {exc.message}. Refusing to return placeholder rewards."
        )


class ToolGradeRewardFunction(_RewardFunctionBase):
    """Async TRL reward function backed by ``POST /reward``.

    Args:
        base_url: The ToolGrade service (scoring-only is enough).
        api_key: Bearer key; defaults to ``TOOLGRADE_API_KEY``.
        profile: ``seed``, ``strict`` or ``toolrl``.
        weights: Component weights for ``seed``.
        tools: Tools shared by every row (rows may carry their own in the label or in the
            ``tools_column``).
        label_column: The dataset column holding each row's label.
        tools_column: A dataset column with per-row tools (used when present).
        timeout: Seconds per attempt.
        max_retries: Retries after the first attempt (default 5, ~16 s of backoff).
        retry: A full :class:`~clients.http.RetryPolicy`.
        name: The name TRL logs (default ``toolgrade_<profile>_reward``).
        metric_prefix: Components are logged as ``<prefix>/<component>`` batch means.

    Example:
        >>> reward = ToolGradeRewardFunction("http://reward:8000", profile="strict")
        >>> reward.__name__
        'toolgrade_strict_reward'
    """

    def _open_client(self) -> None:
        # Opened on first use, on the caller's event loop (see _client_for_this_loop).
        self._client: AsyncToolGradeClient | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None

    async def __call__(
        self,
        prompts: Sequence[Any] | None = None,
        completions: Sequence[Any] | None = None,
        completion_ids: Sequence[Any] | None = None,
        **kwargs: Any,
    ) -> list[float]:
        log_metric = kwargs.get("log_metric")
        request = self._request(completions, dict(kwargs))
        try:
            response = await self._client_for_this_loop().reward(**request)
        except ToolGradeAPIError as exc:
            raise self._failure(exc) from exc
        return self._rewards(response, len(request["completions"]), log_metric)

    def _client_for_this_loop(self) -> AsyncToolGradeClient:
        # An httpx.AsyncClient belongs to the event loop it first ran on; TRL uses one daemon
        # loop, but a caller using asyncio.run() per call gets a fresh loop each time.
        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop:
            self._client = AsyncToolGradeClient(self.base_url, **self._client_options)
            self._client_loop = loop
        return self._client

    async def aclose(self) -> None:
        """Close the HTTP client."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None


class SyncToolGradeRewardFunction(_RewardFunctionBase):
    """The same reward as :class:`ToolGradeRewardFunction`, as a plain (blocking) function."""

    def _open_client(self) -> None:
        self._client = ToolGradeClient(self.base_url, **self._client_options)

    def __call__(
        self,
        prompts: Sequence[Any] | None = None,
        completions: Sequence[Any] | None = None,
        completion_ids: Sequence[Any] | None = None,
        **kwargs: Any,
    ) -> list[float]:
        log_metric = kwargs.get("log_metric")
        request = self._request(completions, dict(kwargs))
        try:
            response = self._client.reward(**request)
        except ToolGradeAPIError as exc:
            raise self._failure(exc) from exc
        return self._rewards(response, len(request["completions"]), log_metric)

    def close(self) -> None:
        """Close the HTTP client."""
        self._client.close()


def make_trl_reward_function(
    base_url: str = DEFAULT_BASE_URL,
    *,
    asynchronous: bool = False,
    **options: Any,
) -> ToolGradeRewardFunction | SyncToolGradeRewardFunction:
    """A TRL reward function for ``base_url``: blocking by default, ``async`` on request.

    Args:
        base_url: The ToolGrade service.
        asynchronous: Return the ``async`` :class:`ToolGradeRewardFunction`.
        **options: ``api_key``, ``profile``, ``weights``, ``tools``, ``label_column``,
            ``tools_column``, ``timeout``, ``max_retries``, ``retry``, ``name``,
            ``metric_prefix``.

    Example:
        >>> make_trl_reward_function("http://reward:8000", profile="toolrl").__name__
        'toolgrade_toolrl_reward'
    """
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


def _with_tools(label: Any, tools: Any) -> Any:
    """Attach a row's tools to its label unless the label already carries tools.

    Example:
        >>> _with_tools([{"name": "f", "arguments": {}}], [{"name": "f"}])
        {'reference': [{'name': 'f', 'arguments': {}}], 'tools': [{'name': 'f'}]}
        >>> _with_tools({"answers": "[]", "tools": "[]"}, [{"name": "f"}])
        {'answers': '[]', 'tools': '[]'}
    """
    if tools is None:
        return label
    decoded = label
    if isinstance(label, str):
        try:
            decoded = json.loads(label)
        except ValueError:
            return {"reference": label, "tools": tools}
    if isinstance(decoded, Mapping) and ("reference" in decoded or "answers" in decoded):
        if decoded.get("tools") is None:
            return {**decoded, "tools": tools}
        return label
    return {"reference": label, "tools": tools}
