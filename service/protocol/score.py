"""``POST /score``: corpus metrics over predictions and, when asked for, every item's verdict."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from service.core.metrics import ItemScore

# Strict: JSON true or 1.5 is not an id (lax mode would coerce them to 1), as the schema says.
ItemId = StrictStr | StrictInt | None
StringMatchMode = Literal["exact", "bfcl"]
STRING_MATCH_DESCRIPTION = (
    "How exact references compare strings: 'exact' (as written, after Unicode NFC) or 'bfcl' "
    "(BFCL's standardisation: case, spaces and ,./-_*^ ignored). BFCL possible answers always "
    "use BFCL's standardisation."
)


class ScoreItem(BaseModel):
    """One prediction with its ground truth and the tools it could call."""

    model_config = ConfigDict(extra="forbid")

    id: ItemId = Field(default=None, description="Echoed in the item verdict.")
    prediction: Any = Field(
        description="Model output: text (Hermes <tool_call> blocks, JSON, Python call syntax), "
        "a list of calls, OpenAI tool_calls or an assistant message."
    )
    reference: Any = Field(
        description='Exact calls [{"name", "arguments"}], BFCL possible answers '
        '[{fname: {param: [values]}}], [] / null for no call, or {"any_call": true} when any '
        "call to an offered tool is right (a JSON string of these works)."
    )
    tools: Any = Field(description="Tool schemas (OpenAI, BFCL or xLAM; list or JSON string).")
    category: str | None = Field(default=None, description="Groups items in by_category.")


class ScoreRequest(BaseModel):
    """A batch of items to score."""

    model_config = ConfigDict(extra="forbid")

    items: list[ScoreItem] = Field(min_length=1)
    include_items: bool = Field(default=False, description="Return every item's verdict too.")
    bootstrap_samples: int = Field(
        default=1000, ge=0, le=10_000, description="Resamples for the 95% intervals (0: none)."
    )
    seed: int = Field(default=0, ge=0, le=2**32 - 1, description="Seed of the bootstrap.")
    string_match: StringMatchMode = Field(default="exact", description=STRING_MATCH_DESCRIPTION)


class CallOut(BaseModel):
    """A call as the scorer parsed it."""

    name: str
    arguments: dict[str, Any]


class ScoreResponse(BaseModel):
    """Corpus metrics, their 95 % bootstrap intervals, a per-category breakdown and, when
    asked for, the per-item verdicts. A metric is null when undefined (e.g.
    ``irrelevance_accuracy`` without no-call items, ``relevance_accuracy`` without any-call
    items)."""

    count: int
    metrics: dict[str, float | None]
    ci: dict[str, tuple[float, float]]
    by_category: dict[str, dict[str, int | float | None]]
    # The core's result type itself: its fields are the wire format, serialised by pydantic.
    items: list[ItemScore] | None = Field(
        default=None,
        description="Every item's verdict (error_type is the first failing check's label); "
        "present only when include_items was true.",
    )
