"""HTTP clients for ToolGrade and the TRL reward function.

* :class:`ToolGradeClient` / :class:`AsyncToolGradeClient`: typed methods for every endpoint,
  timeouts, retries with backoff on connection errors and 5xx, typed errors.
* :class:`ToolGradeRewardFunction` (async) / :class:`SyncToolGradeRewardFunction`: TRL reward
  functions posting one batched ``/reward`` per call; :class:`LocalRewardFunction` scores
  in-process; :func:`make_trl_reward_function` builds any of them.
"""

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
