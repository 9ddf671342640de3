"""The runner's concurrency bound, retries and answer handling, through the real ``openai`` SDK
against a scripted OpenAI-compatible server on loopback (``openai_stub``)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import openai
import pytest

from clients.evaluation.datasets import EvalItem
from clients.evaluation.runner import (
    GenerationSettings,
    ItemOutcome,
    generate_outcomes,
    score_outcomes,
)
from tests.clients.evaluation.openai_stub import OpenAIStub, Script

FACTORIAL = {
    "name": "math.factorial",
    "description": "n!",
    "parameters": {
        "type": "dict",
        "properties": {"number": {"type": "integer"}},
        "required": ["number"],
    },
}
SETTINGS = GenerationSettings(model="stub-model", max_tokens=32)


def item(prompt: str, reference: object = ()) -> EvalItem:
    return EvalItem(
        id=prompt,
        category="simple",
        messages=({"role": "user", "content": prompt},),
        tools=(FACTORIAL,),
        reference=list(reference) if reference else [],
    )


def tool_call_reply(name: str, arguments: dict[str, object]) -> dict[str, object]:
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call-1",
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(arguments)},
            }
        ],
    }


@pytest.fixture
def stub() -> Iterator[OpenAIStub]:
    with OpenAIStub() as server:
        yield server


def client_for(stub: OpenAIStub, timeout_s: float = 10.0) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url=stub.base_url, api_key="test", max_retries=0, timeout=timeout_s
    )


async def test_requests_in_flight_never_exceed_the_bound(stub: OpenAIStub) -> None:
    items = [item(f"q{k}") for k in range(12)]
    for each in items:
        stub.state.scripts[each.id] = Script(delay_s=0.15)
    async with client_for(stub) as client:
        outcomes = await generate_outcomes(items, client, SETTINGS, concurrency=3)
    assert stub.state.max_in_flight == 3
    assert [outcome.item.id for outcome in outcomes] == [each.id for each in items]
    assert all(outcome.attempts == 1 and outcome.request_error is None for outcome in outcomes)


async def test_retryable_failures_are_retried_and_counted(stub: OpenAIStub) -> None:
    stub.state.scripts["flaky"] = Script(failures=2, status=503)
    stub.state.scripts["limited"] = Script(failures=1, status=429)
    async with client_for(stub) as client:
        flaky, limited = await generate_outcomes(
            [item("flaky"), item("limited")], client, SETTINGS, retries=3, backoff_s=0.01
        )
    assert (flaky.attempts, flaky.request_error) == (3, None)
    assert (limited.attempts, limited.request_error) == (2, None)
    assert flaky.prediction == {"role": "assistant", "content": "ok"}
    assert flaky.usage == {"prompt_tokens": 10, "completion_tokens": 5}
    assert stub.state.attempts == {"flaky": 3, "limited": 2}


async def test_exhausted_retries_keep_the_item_with_its_error(stub: OpenAIStub) -> None:
    stub.state.scripts["down"] = Script(failures=10, status=502)
    async with client_for(stub) as client:
        (outcome,) = await generate_outcomes(
            [item("down")], client, SETTINGS, retries=2, backoff_s=0.01
        )
    assert outcome.attempts == 3
    assert outcome.prediction is None
    assert outcome.request_error == "http_502: scripted 502"


async def test_client_errors_are_not_retried(stub: OpenAIStub) -> None:
    stub.state.scripts["bad"] = Script(failures=10, status=400)
    async with client_for(stub) as client:
        (outcome,) = await generate_outcomes(
            [item("bad")], client, SETTINGS, retries=3, backoff_s=0.01
        )
    assert (outcome.attempts, outcome.request_error) == (1, "http_400: scripted 400")
    assert stub.state.attempts["bad"] == 1


async def test_timeouts_are_retried(stub: OpenAIStub) -> None:
    stub.state.scripts["slow"] = Script(delay_s=1.0)
    async with client_for(stub, timeout_s=0.2) as client:
        (outcome,) = await generate_outcomes(
            [item("slow")], client, SETTINGS, retries=1, backoff_s=0.01
        )
    assert outcome.attempts == 2
    assert outcome.request_error is not None
    assert outcome.request_error.startswith("APITimeoutError")


async def test_dotted_tool_names_are_aliased_and_mapped_back(stub: OpenAIStub) -> None:
    stub.state.scripts["5!"] = Script(
        reply=tool_call_reply("math_factorial", {"number": 5}), finish_reason="tool_calls"
    )
    reference = [{"math.factorial": {"number": [5]}}]
    async with client_for(stub) as client:
        outcomes = await generate_outcomes([item("5!", reference)], client, SETTINGS)
    sent = stub.state.bodies[0]
    assert [tool["function"]["name"] for tool in sent["tools"]] == ["math_factorial"]
    assert sent["tool_choice"] == "auto"
    assert sent["temperature"] == 0.0
    assert sent["max_tokens"] == 32
    (outcome,) = outcomes
    assert outcome.finish_reason == "tool_calls"
    assert outcome.prediction is not None
    assert outcome.prediction["tool_calls"][0]["function"]["name"] == "math.factorial"
    scored, report = score_outcomes(outcomes, bootstrap_samples=0)
    assert scored[0].score.valid
    assert report.metrics["ast_accuracy"] == 1.0


async def test_failed_requests_score_as_empty_answers(stub: OpenAIStub) -> None:
    stub.state.scripts["gone"] = Script(failures=5, status=500)
    reference = [{"math.factorial": {"number": [5]}}]
    async with client_for(stub) as client:
        outcomes = await generate_outcomes([item("gone", reference)], client, SETTINGS, retries=0)
    scored, report = score_outcomes(outcomes, bootstrap_samples=0)
    assert not scored[0].score.parsed
    assert report.metrics["parse_rate"] == 0.0


async def test_progress_callback_sees_every_outcome_once(stub: OpenAIStub) -> None:
    seen: list[ItemOutcome] = []
    items = [item(f"p{k}") for k in range(5)]
    async with client_for(stub) as client:
        await generate_outcomes(items, client, SETTINGS, concurrency=2, on_done=seen.append)
    assert sorted(outcome.item.id for outcome in seen) == [f"p{k}" for k in range(5)]


async def test_concurrency_must_be_positive(stub: OpenAIStub) -> None:
    async with client_for(stub) as client:
        with pytest.raises(ValueError, match="concurrency"):
            await generate_outcomes([item("x")], client, SETTINGS, concurrency=0)
