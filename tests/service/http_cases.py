"""Hand-computed ``/reward`` cases shared by the service and client tests.

One tool, ``get_weather(city: string, unit: "c"|"f" = optional)``, and the reference call
``get_weather(city="Oslo", unit="c")``. Each case lists the four components worked out by hand
from the component rules (``semantic`` is the F1 over (param, value) pairs) and the weighted
reward ``0.25 · Σ components``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.shared import hermes

REFERENCE: list[dict[str, Any]] = [
    {"name": "get_weather", "arguments": {"city": "Oslo", "unit": "c"}}
]


@dataclass(frozen=True)
class RewardCase:
    name: str
    completion: Any
    json_parse: float
    schema_hit: float
    exec: float
    semantic: float

    @property
    def weighted_reward(self) -> float:
        return 0.25 * (self.json_parse + self.schema_hit + self.exec + self.semantic)


CASES: tuple[RewardCase, ...] = (
    # Everything right.
    RewardCase(
        "exact",
        hermes({"name": "get_weather", "arguments": {"city": "Oslo", "unit": "c"}}),
        1.0,
        1.0,
        1.0,
        1.0,
    ),
    # Valid call, one of two values wrong: P = R = 1/2, F1 = 1/2 -> 0.875.
    RewardCase(
        "wrong_unit",
        hermes({"name": "get_weather", "arguments": {"city": "Oslo", "unit": "f"}}),
        1.0,
        1.0,
        1.0,
        0.5,
    ),
    # Missing the required city: no schema hit, no exec; P = 1, R = 1/2, F1 = 2/3 -> 5/12.
    RewardCase(
        "missing_city",
        hermes({"name": "get_weather", "arguments": {"unit": "c"}}),
        1.0,
        0.0,
        0.0,
        2 / 3,
    ),
    # "kelvin" breaks the enum: schema hit, no exec; P = R = 1/2 -> 0.625.
    RewardCase(
        "bad_enum",
        '{"name": "get_weather", "arguments": {"city": "Oslo", "unit": "kelvin"}}',
        1.0,
        1.0,
        0.0,
        0.5,
    ),
    # A hedge: the right call and a wrong-valued copy. Shares over max(2 predicted, 1 expected)
    # calls: schema 1/2, exec 1/2; 2 of 4 predicted pairs correct, both expected found:
    # P = 1/2, R = 1, F1 = 2/3 -> 2/3 (below the wrong value alone, 0.75).
    RewardCase(
        "extra_call",
        hermes(
            {"name": "get_weather", "arguments": {"city": "Oslo", "unit": "c"}},
            {"name": "get_weather", "arguments": {"city": "Bergen", "unit": "c"}},
        ),
        1.0,
        0.5,
        0.5,
        2 / 3,
    ),
    # Prose without a call, and a broken block: 0 everywhere.
    RewardCase("prose", "It is probably sunny in Oslo.", 0.0, 0.0, 0.0, 0.0),
    RewardCase(
        "broken_json", '<tool_call>{"name": "get_weather", </tool_call>', 0.0, 0.0, 0.0, 0.0
    ),
    # TRL's conversational form.
    RewardCase(
        "chat_messages",
        [
            {
                "role": "assistant",
                "content": hermes(
                    {"name": "get_weather", "arguments": {"city": "Oslo", "unit": "c"}}
                ),
            }
        ],
        1.0,
        1.0,
        1.0,
        1.0,
    ),
)
