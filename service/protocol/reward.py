"""``POST /reward``: one schema for TRL and OpenRLHF.

TRL (through :mod:`clients.trl`) sends ``completions`` and ``labels``; OpenRLHF's remote reward
sends ``query`` (prompt and response decoded together), ``prompts`` and ``labels`` and reads
``rewards``, ``scores`` and ``extra_logs``. When ``completions`` is absent the completion is
``query`` minus its prompt, else the text after the last ``<|im_start|>assistant``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from service.protocol.score import STRING_MATCH_DESCRIPTION, StringMatchMode

Message = dict[str, Any]
Completion = str | list[Message] | Message
# "seed" is the weighted profile's former name, still accepted.
RewardProfileName = Literal["weighted", "seed", "strict", "toolrl"]


class RewardRequest(BaseModel):
    """Completions (or OpenRLHF queries) and one label each."""

    # Extra keys are ignored: RL frameworks add fields over time, and a reward server that
    # rejects them would stop a training run for no reason.
    model_config = ConfigDict(extra="ignore")

    completions: list[Completion] | None = Field(
        default=None,
        description="One per label: text, chat messages, or an assistant message. "
        "Absent: derived from query (and prompts).",
    )
    prompts: list[Any] | None = Field(
        default=None, description="Prompts; with query, the prefix removed from each query."
    )
    query: list[str] | None = Field(
        default=None, description="OpenRLHF: prompt + response decoded together."
    )
    # No minimum length: OpenRLHF shards a batch over a list of reward URLs and a shard can be
    # empty; an empty batch answers empty lists.
    labels: list[Any] = Field(
        description='A reference, or {"reference"|"answers": ..., "tools": ...} per completion; '
        "an empty list answers empty lists.",
    )
    tools: Any = Field(default=None, description="Tools for labels that carry none.")
    weights: dict[str, float] | None = Field(
        default=None,
        description="Component weights for the weighted profile (non-negative, normalised to 1).",
    )
    profile: RewardProfileName = Field(
        default="weighted",
        description='How components become the reward; "seed" is the former name of "weighted".',
    )
    string_match: StringMatchMode = Field(default="exact", description=STRING_MATCH_DESCRIPTION)


class RewardComponents(BaseModel):
    """The four reward components, one list entry per completion (each in [0, 1])."""

    json_parse: list[float]
    schema_hit: list[float]
    exec: list[float]
    semantic: list[float]


class RewardResponse(BaseModel):
    """One reward per completion (``scores`` repeats ``rewards`` for OpenRLHF); never null."""

    rewards: list[float]
    scores: list[float]
    extra_logs: RewardComponents
