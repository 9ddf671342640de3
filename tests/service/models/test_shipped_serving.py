"""``toolgrade serve`` with no model configured serves the shipped tool caller: the official
``openai`` SDK gets real calls under every ``tool_choice``, and ``toolgrade eval run`` on the
manifest's held-out rows reproduces the manifest's metrics. Real vLLM engine, real HTTP on
loopback, the real command line."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from service.core.metrics import score_item
from service.core.schema import normalise_tools
from service.models.shipped import SHIPPED_MODEL_NAME, read_manifest
from tests.fixtures.models import ENGINE_STARTUP_TIMEOUT_S
from training.synth import TOOL_LIBRARY

pytestmark = [pytest.mark.slow, pytest.mark.requires_vllm]

QUESTION = "What's the weather like in Paris?"
# One item of the subset either way: vLLM's CPU kernels may break a near-tie differently when
# requests are batched differently.
SUBSET_TOLERANCE = 0.051


def _openai_tool(name: str) -> dict[str, Any]:
    xlam = next(tool for tool in TOOL_LIBRARY if tool.name == name).schema()
    spec = normalise_tools([xlam])[name]
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": spec.description,
            "parameters": dict(spec.json_schema),
        },
    }


TOOLS = [_openai_tool("get_weather"), _openai_tool("get_stock_price")]


@pytest.fixture(scope="module")
def default_server() -> Iterator[Any]:
    """``toolgrade serve`` as ``make serve`` starts it: no model named, the real engine."""
    from tests.fixtures.servers import start_server

    env: dict[str, str | None] = {
        "TOOLGRADE_MODEL": None,
        "TOOLGRADE_ENGINE": "vllm",
        "TOOLGRADE_KV_CACHE_GIB": "1",
        "VLLM_CPU_KVCACHE_SPACE": "1",
    }
    server = start_server(env, timeout_s=ENGINE_STARTUP_TIMEOUT_S, wait_ready=True)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def client(default_server: Any) -> Any:
    from openai import OpenAI

    return OpenAI(base_url=f"{default_server.base_url}/v1", api_key="unused", max_retries=0)


def _ask(client: Any, tool_choice: Any, **extra: Any) -> Any:
    return client.chat.completions.create(
        model=SHIPPED_MODEL_NAME,
        messages=[{"role": "user", "content": QUESTION}],
        tools=TOOLS,
        tool_choice=tool_choice,
        temperature=0,
        max_tokens=64,
        **extra,
    )


def _assert_paris_weather_arguments(arguments: str) -> None:
    """The arguments are exactly the question's: a valid, executable, correct call."""
    verdict = score_item(
        [{"name": "get_weather", "arguments": json.loads(arguments)}],
        [{"name": "get_weather", "arguments": {"city": "Paris"}}],
        TOOLS,
    )
    assert verdict.valid and verdict.exec_ok, arguments


def test_the_default_served_model_is_the_shipped_one(client: Any) -> None:
    assert [model.id for model in client.models.list().data] == [SHIPPED_MODEL_NAME]


@pytest.mark.parametrize(
    "tool_choice",
    ["auto", "required", {"type": "function", "function": {"name": "get_weather"}}],
    ids=["auto", "required", "named"],
)
def test_the_sdk_gets_a_call(client: Any, tool_choice: Any) -> None:
    choice = _ask(client, tool_choice).choices[0]
    # OpenAI and vLLM finish a call the request named with "stop".
    named = isinstance(tool_choice, dict)
    assert choice.finish_reason == ("stop" if named else "tool_calls"), choice
    [call] = choice.message.tool_calls
    assert call.function.name == "get_weather"
    _assert_paris_weather_arguments(call.function.arguments)


def test_tool_choice_none_answers_without_a_call(client: Any) -> None:
    choice = _ask(client, "none").choices[0]
    assert not choice.message.tool_calls
    assert choice.finish_reason in {"stop", "length"}


def test_streaming_delivers_the_same_call(client: Any) -> None:
    stream = _ask(client, "auto", stream=True)
    names, arguments, finish = [], "", None
    for chunk in stream:
        if not chunk.choices:
            continue
        choice = chunk.choices[0]
        for delta in choice.delta.tool_calls or []:
            if delta.function and delta.function.name:
                names.append(delta.function.name)
            if delta.function and delta.function.arguments:
                arguments += delta.function.arguments
        finish = choice.finish_reason or finish
    assert names == ["get_weather"]
    _assert_paris_weather_arguments(arguments)
    assert finish == "tool_calls"


def test_eval_run_reproduces_the_manifest_metrics(default_server: Any, tmp_path: Path) -> None:
    metrics = read_manifest()["metrics"]
    rows = tmp_path / "held-out.jsonl"

    def toolgrade(*args: str) -> None:
        subprocess.run(
            [sys.executable, "-m", "service", *args], check=True, capture_output=True, timeout=600
        )

    count, seed = str(metrics["subset_rows"]), str(metrics["eval_seed"])
    toolgrade("synth", str(rows), "--count", count, "--seed", seed)
    out = tmp_path / "eval"
    toolgrade(
        "eval", "run", str(rows), "--base-url", f"{default_server.base_url}/v1", "--out", str(out),
        "--no-progress", "--bootstrap-samples", "0", "--max-tokens", "256",
    )  # fmt: skip
    measured = json.loads((out / "report.json").read_text())["summary"]["metrics"]
    for name, expected in metrics["subset"].items():
        if expected is None:
            assert measured[name] is None, name
        else:
            assert measured[name] == pytest.approx(expected, abs=SUBSET_TOLERANCE), name
