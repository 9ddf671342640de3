"""Result types serialise themselves from their fields: nothing hand-kept to fall out of step."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from service.core.metrics import ItemScore, score_item
from service.core.types import ToolCall, to_json_data

TOOLS = [{"name": "f", "parameters": {"xs": {"type": "list"}, "s": {"type": "str"}}}]
CALL = {"name": "f", "arguments": {"xs": [1, 2], "s": "x"}}


def _score() -> ItemScore:
    return score_item(json.dumps(CALL), [CALL], TOOLS, item_id="row-1", category="simple")


def test_an_item_score_serialises_every_field_and_its_calls() -> None:
    score = _score()
    data = score.to_dict()
    assert list(data) == [field.name for field in dataclasses.fields(ItemScore)]
    assert data["calls"] == [CALL]
    assert (data["id"], data["category"], data["valid"]) == ("row-1", "simple", True)
    assert json.loads(json.dumps(data)) == data  # plain JSON data, nothing left to convert


@dataclass(frozen=True, slots=True)
class _One:
    value: Any


@dataclass(frozen=True)
class _Nested:
    items: tuple[_One, ...]
    table: dict[str, int]


def test_nested_and_single_field_dataclasses_serialise_too() -> None:
    nested = _Nested(items=(_One(1), _One(ToolCall("g", {}))), table={"a": 1})
    assert to_json_data(nested) == {
        "items": [{"value": 1}, {"value": {"name": "g", "arguments": {}}}],
        "table": {"a": 1},
    }
    assert to_json_data([_One(None), "text", 2.5]) == [{"value": None}, "text", 2.5]


def test_the_http_verdict_is_the_same_data_as_to_dict() -> None:
    from service.protocol.score import ScoreResponse

    score = _score()
    response = ScoreResponse(count=1, metrics={}, ci={}, by_category={}, items=[score])
    assert response.model_dump(mode="json")["items"] == [score.to_dict()]
