"""The transformers fallback engine on the tiny model: same greedy tokens as vLLM, seeds, stops,
and tool_choice enforced by a forced prefix (it has no grammar)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from service.config import Settings
from service.engine.base import GenerationInput, SamplingOptions
from service.engine.errors import EngineConfigurationError, UnknownModelError
from service.engine.transformers_engine import TransformersEngine
from service.protocol.chat import ChatCompletionRequest, ChatCompletionResponse
from service.serving.chat import ChatCompletionService
from tests.fixtures.models import requires_vllm

PROMPT = "Hello, my name is"


@pytest.fixture(scope="module")
async def engine(tiny_model_dir: Path) -> Any:
    settings = Settings(model=str(tiny_model_dir), dtype="float32", max_model_len=2048)
    engine = await TransformersEngine.create(settings, str(tiny_model_dir), "tiny-qwen3")
    yield engine
    await engine.close()


def _input(engine: Any, prompt: str = PROMPT, **options: Any) -> GenerationInput:
    return GenerationInput(
        prompt_token_ids=tuple(engine.tokenizer.encode(prompt)),
        options=SamplingOptions(**{"max_tokens": 10, **options}),
    )


@requires_vllm
@pytest.mark.slow
async def test_greedy_tokens_equal_the_vllm_engine(engine: Any, engine_server: Any) -> None:
    result = await engine.generate(_input(engine, temperature=0))
    response = httpx.post(
        f"{engine_server.base_url}/generate",
        json={"prompt": PROMPT, "max_tokens": 10, "temperature": 0, "return_token_ids": True},
        timeout=60,
    )
    (completion,) = result.completions
    assert list(completion.token_ids) == response.json()["outputs"][0]["token_ids"]
    assert completion.finish_reason == "length"


async def test_seeds_and_n(engine: Any) -> None:
    first = await engine.generate(_input(engine, n=2, seed=5, temperature=1.0))
    again = await engine.generate(_input(engine, n=2, seed=5, temperature=1.0))
    texts = [completion.text for completion in first.completions]
    assert texts == [completion.text for completion in again.completions]
    assert texts[0] != texts[1]
    second_alone = await engine.generate(_input(engine, n=1, seed=6, temperature=1.0))
    assert second_alone.completions[0].text == texts[1]


async def test_stop_strings_cut_the_text(engine: Any) -> None:
    greedy = (await engine.generate(_input(engine, temperature=0))).completions[0].text
    stop = greedy[3:6]
    stopped = (await engine.generate(_input(engine, temperature=0, stop=(stop,)))).completions[0]
    assert stopped.text == greedy[: greedy.find(stop)]
    assert stopped.finish_reason == "stop"


async def test_named_tool_choice_is_forced_by_prefix(engine: Any) -> None:
    tool = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
    request = ChatCompletionRequest.model_validate(
        {
            "messages": [{"role": "user", "content": "Weather?"}],
            "tools": [tool],
            "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
            "max_tokens": 8,
            "temperature": 0,
        }
    )
    response = await ChatCompletionService(engine).create(request)
    assert isinstance(response, ChatCompletionResponse)
    choice = response.choices[0]
    # Random weights do not finish the arguments object: no call is invented, the forced
    # text comes back as content with the finish reason of the generation.
    assert choice.finish_reason == "length"
    assert choice.message.tool_calls is None
    assert (choice.message.content or "").startswith(
        '<tool_call>\n{"name": "get_weather", "arguments": '
    )


async def test_unknown_models_and_adapters_are_refused(engine: Any, tiny_model_dir: Path) -> None:
    assert engine.served_models() == ["tiny-qwen3"]
    assert engine.resolve_adapter(str(tiny_model_dir)) is None
    with pytest.raises(UnknownModelError):
        engine.resolve_adapter("tiny-lora")
    settings = Settings(model=str(tiny_model_dir), lora_modules={"a": "/nowhere"})
    with pytest.raises(EngineConfigurationError):
        await TransformersEngine.create(settings, str(tiny_model_dir), "tiny-qwen3")
