"""``GET /v1/models`` in OpenAI's shape."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class ModelCard(BaseModel):
    """One served model: the base model first, then LoRA adapters."""

    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "toolgrade"


class ModelList(BaseModel):
    """``{"object": "list", "data": [...]}`` (empty in scoring-only mode)."""

    object: Literal["list"] = "list"
    data: list[ModelCard]
