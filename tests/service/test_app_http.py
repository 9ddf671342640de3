"""The real server under uvicorn, called with the real client, raw httpx and OpenRLHF's shape.

Every number is checked against the hand-computed cases in :mod:`tests.service.http_cases`.
"""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest

from clients import AsyncToolGradeClient, ToolGradeClient
from service.core.rewards import REWARD_COMPONENTS
from tests.fixtures.servers import LiveServer
from tests.service.http_cases import CASES, REFERENCE
from tests.shared import WEATHER_TOOL, hermes

COMPONENTS = REWARD_COMPONENTS


@pytest.fixture(scope="module")
def client(scoring_server: LiveServer) -> ToolGradeClient:
    with ToolGradeClient(scoring_server.base_url, api_key="") as client:
        yield client


def test_reward_with_the_client_matches_hand_computed_components(client: ToolGradeClient) -> None:
    response = client.reward(
        [case.completion for case in CASES], [REFERENCE] * len(CASES), tools=[WEATHER_TOOL]
    )
    assert response.rewards == pytest.approx([case.weighted_reward for case in CASES], abs=1e-12)
    assert response.scores == response.rewards
    for component in COMPONENTS:
        got = getattr(response.extra_logs, component)
        assert got == pytest.approx([getattr(case, component) for case in CASES], abs=1e-12)
    # Spot-check the arithmetic behind the table: 0.25 * (1 + 0 + 0 + 2/3) = 5/12.
    missing_city = [case.name for case in CASES].index("missing_city")
    assert response.rewards[missing_city] == pytest.approx(5 / 12)


def test_reward_with_raw_httpx_and_xlam_string_labels(scoring_server: LiveServer) -> None:
    # xLAM rows carry tools and answers as JSON strings; the label bundles both.
    label = {"answers": json.dumps(REFERENCE), "tools": json.dumps([WEATHER_TOOL])}
    body = {
        "completions": [CASES[0].completion, CASES[1].completion, "no idea"],
        "labels": [label, label, label],
    }
    response = httpx.post(f"{scoring_server.base_url}/reward", json=body, timeout=30)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    payload = response.json()
    assert payload == {
        "rewards": [1.0, 0.875, 0.0],
        "scores": [1.0, 0.875, 0.0],
        "extra_logs": {
            "json_parse": [1.0, 1.0, 0.0],
            "schema_hit": [1.0, 1.0, 0.0],
            "exec": [1.0, 1.0, 0.0],
            "semantic": [1.0, 0.5, 0.0],
        },
    }


def _qwen_prompt(question: str) -> str:
    return (
        "<|im_start|>system\nYou may call get_weather.<|im_end|>\n"
        f"<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n"
    )


def test_reward_takes_openrlhf_query_minus_prompt(scoring_server: LiveServer) -> None:
    """OpenRLHF posts only query (prompt + response decoded together), prompts and labels."""
    prompt = _qwen_prompt("Weather in Oslo, Celsius?")
    responses = [CASES[0].completion, CASES[2].completion, "Sunny, I think."]
    body = {
        "query": [prompt + text + "<|im_end|>" for text in responses],
        "prompts": [prompt] * 3,
        "labels": [REFERENCE] * 3,
        "tools": [WEATHER_TOOL],
    }
    response = httpx.post(f"{scoring_server.base_url}/reward", json=body, timeout=30)
    assert response.status_code == 200
    payload = response.json()
    assert payload["rewards"] == pytest.approx([1.0, 5 / 12, 0.0])
    assert payload["scores"] == payload["rewards"]
    assert payload["extra_logs"]["schema_hit"] == [1.0, 0.0, 0.0]


def test_an_empty_reward_batch_answers_empty_lists(scoring_server: LiveServer) -> None:
    """OpenRLHF sends an empty shard to each extra URL of its list when the batch is small."""
    body = {"query": [], "prompts": [], "labels": []}
    response = httpx.post(f"{scoring_server.base_url}/reward", json=body, timeout=30)
    assert response.status_code == 200
    assert response.json() == {
        "rewards": [],
        "scores": [],
        "extra_logs": {component: [] for component in COMPONENTS},
    }


def test_reward_without_prompts_reads_after_the_last_assistant_header(
    scoring_server: LiveServer,
) -> None:
    # The prompt's own example call (in the system turn) must not be scored.
    example = hermes({"name": "get_weather", "arguments": {"city": "Oslo", "unit": "c"}})
    prompt = _qwen_prompt("Weather?").replace("You may call", f"Example: {example}. Call")
    body = {
        "query": [prompt + "I will not call anything.", prompt + CASES[1].completion],
        "labels": [REFERENCE, REFERENCE],
        "tools": [WEATHER_TOOL],
    }
    payload = httpx.post(f"{scoring_server.base_url}/reward", json=body, timeout=30).json()
    assert payload["rewards"] == [0.0, 0.875]


def test_reward_profiles_and_weights(client: ToolGradeClient) -> None:
    completions = [CASES[0].completion, CASES[1].completion]
    labels = [REFERENCE, REFERENCE]
    strict = client.reward(completions, labels, tools=[WEATHER_TOOL], profile="strict")
    assert strict.rewards == [1.0, 0.0]
    # ToolRL: S = name Jaccard 1 + parameter-name Jaccard 1 + 1 matching value = 3 of
    # S_max = 1 + (1 + 2) = 4, so (1 + 6 * 3/4) / 7 = 5.5 / 7.
    toolrl = client.reward(completions, labels, tools=[WEATHER_TOOL], profile="toolrl")
    assert toolrl.rewards == pytest.approx([1.0, 5.5 / 7])
    # Only semantic counts: the reward is the F1.
    semantic_only = client.reward(
        completions, labels, tools=[WEATHER_TOOL], weights={"semantic": 2}
    )
    assert semantic_only.rewards == [1.0, 0.5]
    # Components are reported the same way whatever the profile.
    assert strict.extra_logs == toolrl.extra_logs == semantic_only.extra_logs


def test_reward_no_call_reference(client: ToolGradeClient) -> None:
    response = client.reward(
        ["There is no tool for that, sorry.", CASES[0].completion], [[], []], tools=[WEATHER_TOOL]
    )
    assert response.rewards == [1.0, 0.0]
    assert response.extra_logs.json_parse == [1.0, 0.0]


def test_score_with_items_matches_hand_computed_metrics(client: ToolGradeClient) -> None:
    items = [
        {"id": "exact", "prediction": CASES[0].completion, "reference": REFERENCE,
         "tools": [WEATHER_TOOL], "category": "simple"},
        {"id": "wrong", "prediction": CASES[1].completion, "reference": REFERENCE,
         "tools": [WEATHER_TOOL], "category": "simple"},
        {"id": 3, "prediction": "It is sunny.", "reference": REFERENCE, "tools": [WEATHER_TOOL],
         "category": "simple"},
        {"id": None, "prediction": "I cannot look that up.", "reference": [],
         "tools": [WEATHER_TOOL], "category": "irrelevance"},
    ]  # fmt: skip
    report = client.score(items, include_items=True, bootstrap_samples=200)
    assert report.count == 4
    # parsed: exact, wrong, the abstention; prose against a call reference is not.
    assert report.metrics["parse_rate"] == 0.75
    # valid: exact and the abstention.
    assert report.metrics["ast_accuracy"] == 0.5
    # argument F1 per item: 1, 1/2, 0, 1 (a correct abstention scores 1).
    assert report.metrics["argument_f1"] == pytest.approx(2.5 / 4)
    assert report.metrics["exec_rate"] == 0.75
    assert report.metrics["irrelevance_accuracy"] == 1.0
    assert report.by_category["simple"]["count"] == 3
    assert report.by_category["simple"]["ast_accuracy"] == pytest.approx(1 / 3)
    assert report.by_category["irrelevance"]["irrelevance_accuracy"] == 1.0
    low, high = report.ci["ast_accuracy"]
    assert 0.0 <= low <= 0.5 <= high <= 1.0
    assert report.items is not None
    assert [item.id for item in report.items] == ["exact", "wrong", 3, None]
    assert [item.valid for item in report.items] == [True, False, False, True]
    assert report.items[2].error_type == "parse:no_call_found"
    assert report.items[1].error_type is not None
    assert report.items[1].error_type.startswith("match:")
    assert report.items[0].calls[0].arguments == {"city": "Oslo", "unit": "c"}


def test_relevance_items_are_scored_and_refused_as_reward_labels(
    scoring_server: LiveServer, client: ToolGradeClient
) -> None:
    any_call = {"any_call": True}
    items = [
        {"prediction": CASES[1].completion, "reference": any_call, "tools": [WEATHER_TOOL]},
        {"prediction": "Which city?", "reference": json.dumps(any_call), "tools": [WEATHER_TOOL]},
    ]
    report = client.score(items, include_items=True, bootstrap_samples=0)
    assert report.metrics["relevance_accuracy"] == 0.5
    assert report.metrics["irrelevance_accuracy"] is None
    assert report.items is not None
    assert [(item.valid, item.expects_any_call) for item in report.items] == [
        (True, True),
        (False, True),
    ]
    refused = httpx.post(
        f"{scoring_server.base_url}/reward",
        json={"completions": [CASES[1].completion], "labels": [any_call], "tools": [WEATHER_TOOL]},
        timeout=30,
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "reward:any_call_reference_unsupported"
    malformed = httpx.post(
        f"{scoring_server.base_url}/score",
        json={"items": [{"prediction": "x", "reference": {"any_call": "yes"}, "tools": []}]},
        timeout=30,
    )
    assert malformed.status_code == 400
    assert malformed.json()["error"]["code"] == "reference:invalid_any_call"


def test_score_omits_items_unless_asked(scoring_server: LiveServer) -> None:
    body = {"items": [{"prediction": "hi", "reference": [], "tools": []}]}
    payload = httpx.post(f"{scoring_server.base_url}/score", json=body, timeout=30).json()
    assert set(payload) == {"count", "metrics", "ci", "by_category"}
    # Undefined metrics are null, not missing (no call items: nothing to be accurate on).
    assert payload["metrics"]["irrelevance_accuracy"] == 1.0
    assert payload["count"] == 1


async def test_async_client_rewards_and_scores(scoring_server: LiveServer) -> None:
    async with AsyncToolGradeClient(scoring_server.base_url, api_key="") as client:
        response = await client.reward(
            [case.completion for case in CASES], [REFERENCE] * len(CASES), tools=[WEATHER_TOOL]
        )
        report = await client.score(
            [{"prediction": CASES[0].completion, "reference": REFERENCE, "tools": [WEATHER_TOOL]}]
        )
        health = await client.health()
        ready = await client.ready()
    assert response.rewards == pytest.approx([case.weighted_reward for case in CASES])
    assert report.metrics["ast_accuracy"] == 1.0
    assert health.status == "ok"
    assert (ready.status, ready.engine) == ("scoring-only", None)


def test_operational_endpoints(client: ToolGradeClient) -> None:
    assert client.health().status == "ok"
    assert client.ready().status == "scoring-only"
    models = client.models()
    assert models.object == "list"
    assert models.data == []


def _counter(metrics_text: str, name: str) -> float:
    total = 0.0
    for line in metrics_text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_metrics_count_items_and_rewards(client: ToolGradeClient) -> None:
    before = client.metrics()
    client.reward(["x"] * 7, [[]] * 7, profile="strict")
    client.score([{"prediction": "x", "reference": [], "tools": []}] * 3)
    after = client.metrics()
    rewarded = 'toolgrade_rewards_computed_total{profile="strict"}'
    assert _counter(after, rewarded) - _counter(before, rewarded) == 7
    scored = "toolgrade_items_scored_total"
    assert _counter(after, scored) - _counter(before, scored) == 3
    # HTTP metrics, by route template.
    assert 'http_requests_total{handler="/reward",method="POST",status="2xx"}' in after


def test_request_id_is_echoed_and_logged_as_json(scoring_server: LiveServer) -> None:
    response = httpx.get(
        f"{scoring_server.base_url}/v1/models", headers={"X-Request-ID": "trace-42"}, timeout=10
    )
    assert response.headers["x-request-id"] == "trace-42"
    generated = httpx.get(f"{scoring_server.base_url}/health", timeout=10).headers["x-request-id"]
    assert len(generated) == 32 and generated != "trace-42"
    # Unprintable or oversized ids are replaced, not echoed.
    odd = httpx.get(
        f"{scoring_server.base_url}/health", headers={"X-Request-ID": "a b"}, timeout=10
    )
    assert odd.headers["x-request-id"] != "a b"
    deadline = time.monotonic() + 5
    while True:
        lines = [
            json.loads(line)
            for line in scoring_server.log_text().splitlines()
            if line.startswith("{")
        ]
        access = [line for line in lines if line.get("request_id") == "trace-42"]
        if access or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert access, "no log line carries the request id"
    assert access[-1]["logger"] == "toolgrade.access"
    assert (access[-1]["path"], access[-1]["status"]) == ("/v1/models", 200)
    assert access[-1]["duration_ms"] >= 0


def test_large_batch_does_not_block_the_event_loop(scoring_server: LiveServer) -> None:
    """A big /reward batch is scored in a worker thread: /health answers meanwhile.

    4,096 completions of four parallel calls each take about 2 s to score here; scored on
    the event loop, the /health request sent 0.3 s in would wait for all of it.
    """
    count = 4096
    cities = ["Oslo", "Bergen", "Rome", "Paris"]
    reference = [{"name": "get_weather", "arguments": {"city": c, "unit": "c"}} for c in cities]
    completion = hermes(
        *[{"name": "get_weather", "arguments": {"city": c, "unit": "f"}} for c in cities[::-1]]
    )
    body = {
        "completions": [completion] * count,
        "labels": [reference] * count,
        "tools": [WEATHER_TOOL],
        "profile": "toolrl",
    }
    finished: dict[str, float] = {}

    def post_batch() -> None:
        httpx.post(f"{scoring_server.base_url}/reward", json=body, timeout=120).raise_for_status()
        finished["reward"] = time.monotonic()

    worker = threading.Thread(target=post_batch)
    worker.start()
    time.sleep(0.3)  # the batch is being decoded and scored by now
    health = httpx.get(f"{scoring_server.base_url}/health", timeout=30)
    finished["health"] = time.monotonic()
    worker.join(timeout=120)
    assert health.status_code == 200
    assert "reward" in finished, "the batch failed"
    assert finished["health"] < finished["reward"], "/health waited for the batch"


def test_integers_beyond_64_bits_survive_exactly(scoring_server: LiveServer) -> None:
    """The body guard decodes with orjson, which rounds such integers to floats; the service
    must fall back to exact decoding rather than change a client's numbers."""
    huge = 123456789012345678901234567890
    reference = [{"name": "get_weather", "arguments": {"city": "Oslo", "days": huge}}]
    prediction = {"name": "get_weather", "arguments": {"city": "Oslo", "days": huge + 1}}
    body = {
        "items": [{"id": huge, "prediction": prediction, "reference": reference, "tools": []}],
        "include_items": True,
    }
    payload = httpx.post(f"{scoring_server.base_url}/score", json=body, timeout=30).json()
    item = payload["items"][0]
    assert item["id"] == huge
    assert item["calls"][0]["arguments"]["days"] == huge + 1
    assert item["valid"] is False  # rounded to floats, the two values would compare equal
