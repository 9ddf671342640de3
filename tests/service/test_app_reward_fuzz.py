"""Property-based fuzzing of ``/reward`` and ``/score`` with well-formed requests.

Schemathesis (``test_app_fuzz.py``) explores the schema, but most of what it generates is
rejected early (a random label is not a reference). Here requests are valid by construction —
real tool schemas in all three forms, valid references — while the *model output* is
adversarial: random text, truncated and nested tool-call markup, JSON of any shape, Python
call syntax, chat messages. The service must answer 200 with rewards and metrics in [0, 1]:
malformed completions score 0, they are never an error.
"""

from __future__ import annotations

import json
import math
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fixtures.servers import LiveServer

EXAMPLES = 80

TOOLS: list[dict[str, Any]] = [
    {  # OpenAI
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string"},
                    "unit": {"type": "string", "enum": ["c", "f"]},
                    "days": {"type": "integer"},
                },
                "required": ["city"],
            },
        },
    },
    {  # BFCL
        "name": "math.hypot",
        "parameters": {
            "type": "dict",
            "properties": {"x": {"type": "float"}, "y": {"type": "float"}},
            "required": ["x", "y"],
        },
    },
    {  # xLAM
        "name": "search",
        "parameters": {
            "query": {"type": "str"},
            "limit": {"type": "int, optional", "default": 10},
            "tags": {"type": "List[str], optional"},
        },
    },
]
NAMES = ["get_weather", "math.hypot", "search"]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=10,
)
names = st.sampled_from([*NAMES, "unknown_tool", ""])
arguments = st.dictionaries(
    st.sampled_from(["city", "unit", "days", "x", "y", "query", "limit", "tags", "other"]),
    json_values,
    max_size=4,
)
calls = st.fixed_dictionaries({"name": names, "arguments": arguments})


@st.composite
def completions(draw: st.DrawFn) -> Any:
    call_list = draw(st.lists(calls, min_size=1, max_size=3))
    hermes = "".join(f"<tool_call>\n{json.dumps(c)}\n</tool_call>" for c in call_list)
    python = ", ".join(
        f"{c['name'] or 'f'}({', '.join(f'{k}={v!r}' for k, v in c['arguments'].items())})"
        for c in call_list
    )
    text = draw(
        st.sampled_from(
            [
                hermes,
                "<think>hmm</think>\n" + hermes,
                hermes[: draw(st.integers(0, max(len(hermes) - 1, 0)))],  # cut anywhere
                "<tool_call>" + hermes,
                json.dumps(call_list),
                json.dumps(call_list[0]),
                f"Sure: ```json\n{json.dumps(call_list[0])}\n``` done",
                f"[{python}]",
                python,
                "{" * 50 + "}" * 49,
            ]
        )
        | st.text(max_size=80)
        | st.text(alphabet='<>{}[]",:/_ tool_calnme', max_size=80)
    )
    return draw(
        st.sampled_from(
            [
                text,
                [{"role": "assistant", "content": text}],
                {"role": "assistant", "content": None, "tool_calls": [
                    {"type": "function", "function": {"name": c["name"],
                     "arguments": json.dumps(c["arguments"])}} for c in call_list]},
                call_list,
            ]
        )
    )  # fmt: skip


@st.composite
def labels(draw: st.DrawFn) -> Any:
    exact = [
        {"name": "get_weather", "arguments": {"city": draw(st.text(max_size=8)), "unit": "c"}},
        {"name": "math.hypot", "arguments": {"x": draw(st.floats(-1e6, 1e6)), "y": 4}},
    ]
    possible = [{"search": {"query": [draw(st.text(max_size=8))], "limit": [10, ""]}}]
    reference = draw(st.sampled_from([exact[:1], exact, possible, [], None]))
    form = draw(st.sampled_from(["plain", "json_string", "xlam_row"]))
    if form == "json_string":
        return json.dumps(reference)
    if form == "xlam_row":
        return {"answers": json.dumps(reference), "tools": json.dumps(TOOLS)}
    return reference


weights = st.none() | st.dictionaries(
    st.sampled_from(["json_parse", "schema_hit", "exec", "semantic"]),
    st.floats(0.0, 10.0),
    min_size=1,
).filter(lambda w: sum(w.values()) > 0)


@given(
    batch=st.lists(st.tuples(completions(), labels()), min_size=1, max_size=8),
    weights=weights,
    profile=st.sampled_from(["weighted", "seed", "strict", "toolrl"]),
)
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_any_model_output_gets_rewards_in_range(
    scoring_server: LiveServer, batch: list[tuple[Any, Any]], weights: Any, profile: str
) -> None:
    body: dict[str, Any] = {
        "completions": [completion for completion, _ in batch],
        "labels": [label for _, label in batch],
        "tools": TOOLS,
        "profile": profile,
    }
    if weights is not None:
        body["weights"] = weights
    response = httpx.post(f"{scoring_server.base_url}/reward", json=body, timeout=60)
    assert response.status_code == 200, response.text
    payload = response.json()
    assert len(payload["rewards"]) == len(batch)
    assert payload["scores"] == payload["rewards"]
    for value in payload["rewards"]:
        assert isinstance(value, float) and math.isfinite(value) and 0.0 <= value <= 1.0
    for component in ("json_parse", "schema_hit", "exec", "semantic"):
        values = payload["extra_logs"][component]
        assert len(values) == len(batch)
        assert all(0.0 <= value <= 1.0 for value in values)


@given(batch=st.lists(st.tuples(completions(), labels()), min_size=1, max_size=8))
@settings(
    max_examples=EXAMPLES // 2,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_any_prediction_gets_scored(
    scoring_server: LiveServer, batch: list[tuple[Any, Any]]
) -> None:
    items = []
    for index, (prediction, label) in enumerate(batch):
        if isinstance(label, dict):  # an xLAM row: its answers are the reference
            reference, tools = label["answers"], label["tools"]
        else:
            reference, tools = label, TOOLS
        items.append({"id": index, "prediction": prediction, "reference": reference,
                      "tools": tools, "category": f"c{index % 2}"})  # fmt: skip
    body = {"items": items, "include_items": True, "bootstrap_samples": 50}
    response = httpx.post(f"{scoring_server.base_url}/score", json=body, timeout=60)
    assert response.status_code == 200, response.text
    payload = response.json()
    assert payload["count"] == len(batch)
    assert [item["id"] for item in payload["items"]] == list(range(len(batch)))
    for value in payload["metrics"].values():
        assert value is None or 0.0 <= value <= 1.0
    for low, high in payload["ci"].values():
        assert 0.0 <= low <= high <= 1.0


@pytest.mark.parametrize("completion", ["", " ", "\x00", "<tool_call>", "</tool_call>", "null"])
def test_degenerate_completions_score_zero_not_error(
    scoring_server: LiveServer, completion: str
) -> None:
    reference = [{"name": "get_weather", "arguments": {"city": "Oslo"}}]
    body = {"completions": [completion], "labels": [reference], "tools": TOOLS}
    response = httpx.post(f"{scoring_server.base_url}/reward", json=body, timeout=30)
    assert response.status_code == 200
    assert response.json()["rewards"] == [0.0]
