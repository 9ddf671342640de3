"""The remote engine against an OpenAI-compatible completions server.

The "remote server" is a minimal ``/v1/models`` + ``/v1/completions`` app (streaming too) whose
completions come from the real transformers engine on the tiny model, reached through httpx's
ASGI transport: the wire format is exercised end to end without a network, and the answers are
real model output that ToolGrade's own serving layer then parses.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from service.config import Settings
from service.engine.base import GenerationInput, SamplingOptions
from service.engine.errors import (
    EngineConfigurationError,
    EngineUnavailableError,
    UnknownModelError,
)
from service.engine.remote_engine import RemoteEngine
from service.engine.transformers_engine import TransformersEngine
from service.protocol.chat import ChatCompletionRequest, ChatCompletionResponse
from service.serving.chat import ChatCompletionService

REMOTE_MODELS = ["qwen3-remote", "qwen3-remote-lora"]


def completions_server(engine: TransformersEngine, seen: list[dict[str, Any]]) -> FastAPI:
    """An OpenAI-compatible server (the subset vLLM and SGLang share) over ``engine``."""
    app = FastAPI()

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        data = [{"id": name, "object": "model", "max_model_len": 2048} for name in REMOTE_MODELS]
        return {"object": "list", "data": data}

    @app.post("/v1/completions", response_model=None)
    async def completions(request: Request) -> Any:
        body = await request.json()
        seen.append(body)
        if body["model"] not in REMOTE_MODELS:
            return JSONResponse({"error": {"message": "no such model"}}, status_code=404)
        engine_input = GenerationInput(
            prompt_token_ids=tuple(body["prompt"]),
            options=SamplingOptions(
                max_tokens=body["max_tokens"],
                temperature=body["temperature"],
                n=body["n"],
                seed=body.get("seed"),
                stop=tuple(body.get("stop") or ()),
                banned_token_ids=tuple(int(t) for t in body.get("logit_bias") or {}),
            ),
        )
        result = await engine.generate(engine_input)
        choices = [
            {"index": c.index, "text": c.text, "finish_reason": c.finish_reason}
            for c in result.completions
        ]
        if not body.get("stream"):
            return {"object": "text_completion", "model": body["model"], "choices": choices}

        async def events() -> AsyncIterator[str]:
            for choice in choices:
                text = choice["text"]
                for start in range(0, len(text), 4):
                    piece = {"index": choice["index"], "text": text[start : start + 4]}
                    yield f"data: {json.dumps({'choices': [{**piece, 'finish_reason': None}]})}\n\n"
                last = {
                    "index": choice["index"],
                    "text": "",
                    "finish_reason": choice["finish_reason"],
                }
                yield f"data: {json.dumps({'choices': [last]})}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    return app


@pytest.fixture(scope="module")
async def local_engine(tiny_model_dir: Path) -> Any:
    settings = Settings(model=str(tiny_model_dir), dtype="float32", max_model_len=2048)
    engine = await TransformersEngine.create(settings, str(tiny_model_dir), "tiny-qwen3")
    yield engine
    await engine.close()


@pytest.fixture
async def remote(local_engine: TransformersEngine, tiny_model_dir: Path) -> Any:
    seen: list[dict[str, Any]] = []
    transport = httpx.ASGITransport(app=completions_server(local_engine, seen))
    settings = Settings(
        engine="remote", remote_base_url="http://cluster:8000", model=str(tiny_model_dir)
    )
    engine = await RemoteEngine.create(settings, transport=transport)
    engine.seen = seen  # type: ignore[attr-defined]
    yield engine
    await engine.close()


async def test_models_and_adapters_come_from_the_remote_server(remote: RemoteEngine) -> None:
    assert remote.served_models() == REMOTE_MODELS
    assert remote.max_model_len == 2048
    assert remote.resolve_adapter("qwen3-remote") is None
    assert remote.resolve_adapter("qwen3-remote-lora") == "qwen3-remote-lora"
    with pytest.raises(UnknownModelError):
        remote.resolve_adapter("other")


async def test_remote_completions_equal_local_generation(
    remote: RemoteEngine, local_engine: TransformersEngine
) -> None:
    prompt = tuple(remote.tokenizer.encode("Hello, my name is"))
    options = SamplingOptions(max_tokens=8, temperature=0)
    forwarded = await remote.generate(GenerationInput(prompt, options, adapter="qwen3-remote-lora"))
    local = await local_engine.generate(GenerationInput(prompt, options))
    assert [c.text for c in forwarded.completions] == [c.text for c in local.completions]
    assert forwarded.completions[0].finish_reason == "length"
    sent = remote.seen[-1]  # type: ignore[attr-defined]
    assert sent["prompt"] == list(prompt) and sent["model"] == "qwen3-remote-lora"
    streamed = [delta async for delta in remote.stream(GenerationInput(prompt, options))]
    assert "".join(d.text for d in streamed) == local.completions[0].text
    assert [d.finish_reason for d in streamed][-1] == "length"


async def test_chat_through_the_remote_engine_is_parsed_by_toolgrade(remote: RemoteEngine) -> None:
    tool = {"type": "function", "function": {"name": "ping", "parameters": {"type": "object"}}}
    request = ChatCompletionRequest.model_validate(
        {
            "model": "qwen3-remote",
            "messages": [{"role": "user", "content": "ping?"}],
            "tools": [tool],
            "tool_choice": "none",
            "max_tokens": 6,
            "temperature": 0,
        }
    )
    response = await ChatCompletionService(remote).create(request)
    assert isinstance(response, ChatCompletionResponse)
    assert response.choices[0].finish_reason == "length"
    sent = remote.seen[-1]  # type: ignore[attr-defined]
    rendered = remote.tokenizer.hf_tokenizer.decode(sent["prompt"])
    assert "<tools>" in rendered and rendered.endswith("<|im_start|>assistant\n")
    assert sent["logit_bias"] == {"151657": -100}  # tool_choice none bans <tool_call>


async def test_remote_failures_map_to_503_and_bad_config_fails_loading() -> None:
    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    settings = Settings(engine="remote", remote_base_url="http://nowhere:1")
    with pytest.raises(EngineConfigurationError):
        await RemoteEngine.create(settings, transport=httpx.MockTransport(unreachable))

    def models_only(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/models":
            return httpx.Response(200, json={"data": [{"id": "m"}]})
        return httpx.Response(502, text="bad gateway")

    engine = await RemoteEngine.create(settings, transport=httpx.MockTransport(models_only))
    with pytest.raises(EngineUnavailableError) as raised:
        await engine.generate(GenerationInput((1, 2), SamplingOptions(max_tokens=2)))
    assert (raised.value.status_code, raised.value.label) == (503, "engine:remote_error")
    await engine.close()
