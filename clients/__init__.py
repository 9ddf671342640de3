"""HTTP clients for ToolGrade and the TRL reward function.

* :class:`ToolGradeClient` / :class:`AsyncToolGradeClient`: typed methods for every endpoint,
  timeouts, retries with backoff on connection errors and 5xx, typed errors.
* :class:`ToolGradeRewardFunction` (async) / :class:`SyncToolGradeRewardFunction`: TRL reward
  functions posting one batched ``/reward`` per call; :class:`LocalRewardFunction` scores
  in-process; :func:`make_trl_reward_function` builds any of them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from clients.errors import (
        APIConnectionError,
        APIStatusError,
        APITimeoutError,
        AuthenticationError,
        BadRequestError,
        InternalServerError,
        NotFoundError,
        PayloadTooLargeError,
        ServiceUnavailableError,
        ToolGradeAPIError,
    )
    from clients.http import AsyncToolGradeClient, RetryPolicy, ToolGradeClient
    from clients.trl import (
        LocalRewardFunction,
        RewardServiceError,
        SyncToolGradeRewardFunction,
        ToolGradeRewardFunction,
        make_trl_reward_function,
    )

# Each name is imported from its module on first use, so a command line that only needs
# ``clients.evaluation`` does not pay for httpx, pydantic and the scoring core at start-up.
_HOMES = {
    **dict.fromkeys(
        (
            "APIConnectionError",
            "APIStatusError",
            "APITimeoutError",
            "AuthenticationError",
            "BadRequestError",
            "InternalServerError",
            "NotFoundError",
            "PayloadTooLargeError",
            "ServiceUnavailableError",
            "ToolGradeAPIError",
        ),
        "clients.errors",
    ),
    **dict.fromkeys(("AsyncToolGradeClient", "RetryPolicy", "ToolGradeClient"), "clients.http"),
    **dict.fromkeys(
        (
            "LocalRewardFunction",
            "RewardServiceError",
            "SyncToolGradeRewardFunction",
            "ToolGradeRewardFunction",
            "make_trl_reward_function",
        ),
        "clients.trl",
    ),
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'clients' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncToolGradeClient",
    "AuthenticationError",
    "BadRequestError",
    "InternalServerError",
    "LocalRewardFunction",
    "NotFoundError",
    "PayloadTooLargeError",
    "RetryPolicy",
    "RewardServiceError",
    "ServiceUnavailableError",
    "SyncToolGradeRewardFunction",
    "ToolGradeAPIError",
    "ToolGradeClient",
    "ToolGradeRewardFunction",
    "make_trl_reward_function",
]
