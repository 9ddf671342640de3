"""``POST /audit``: the reward audit over posted items (the report ``toolgrade audit`` writes)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from service.protocol.reward import RewardProfileName
from service.protocol.score import STRING_MATCH_DESCRIPTION, ItemId, StringMatchMode


class AuditItem(BaseModel):
    """One dataset row: a reference (or a GRPO label, or xLAM answers) and its tools."""

    model_config = ConfigDict(extra="ignore")

    id: ItemId = Field(default=None, description="Echoed in violation examples.")
    reference: Any = Field(default=None, description="Exact calls or BFCL possible answers.")
    label: Any = Field(
        default=None, description='A GRPO label: a reference or {"reference"|"answers", "tools"}.'
    )
    answers: Any = Field(default=None, description="xLAM answers (a list or its JSON string).")
    tools: Any = Field(default=None, description="Tool schemas (OpenAI, BFCL or xLAM).")

    def as_row(self) -> dict[str, Any]:
        """The item as the core's audit reads it (only the fields that were sent)."""
        return self.model_dump(exclude_unset=True)


class AuditRequest(BaseModel):
    """Items to audit and the profile(s) and weights to audit them under."""

    model_config = ConfigDict(extra="forbid")

    items: list[AuditItem] = Field(min_length=1)
    profile: RewardProfileName | None = Field(
        default=None, description="Audit one profile; absent: weighted, strict and toolrl."
    )
    weights: dict[str, float] | None = Field(
        default=None, description="Component weights for the weighted profile."
    )
    string_match: StringMatchMode = Field(default="exact", description=STRING_MATCH_DESCRIPTION)


class MutationOut(BaseModel):
    """Rewards of one kind of completion over the items."""

    mutation: str
    count: int
    mean: float
    max: float


class ViolationOut(BaseModel):
    """One broken reward axiom, with its example."""

    axiom: int
    item: Any
    mutation: str
    reward: float
    bound: float
    detail: str
    completion: Any


class ProfileAuditOut(BaseModel):
    """One profile's audit: per-mutation rewards, hack ceiling and axiom violations."""

    profile: str
    weights: dict[str, float]
    mutations: list[MutationOut]
    hack_ceiling: float = Field(description="Highest reward of any completion that is not right.")
    hack_example: dict[str, Any] | None
    violation_counts: dict[str, int]
    violations: list[ViolationOut] = Field(description="Examples, a few per axiom.")


class AuditResponse(BaseModel):
    """The audit report (the same JSON ``toolgrade audit`` writes to audit.json)."""

    items: int
    skipped: list[dict[str, Any]]
    violations: int
    profiles: list[ProfileAuditOut]
