"""The clients' typed generation methods against the real vLLM engine on the tiny model
(the shared ``engine_server``), and the engine server's readiness as the clients see it."""

from __future__ import annotations

from typing import Any

import pytest

from clients import AsyncToolGradeClient, ToolGradeClient
from service.protocol.chat import ChatCompletionResponse
from service.protocol.generate import GenerateResponse
from tests.fixtures.models import requires_vllm

pytestmark = [requires_vllm, pytest.mark.slow]


def test_generate_and_chat_return_typed_answers(engine_server: Any) -> None:
    with ToolGradeClient(engine_server.base_url, api_key="") as client:
        ready = client.ready()
        assert ready.status == "ready" and ready.engine
        names = [card.id for card in client.models().data]
        assert names[0] == ready.engine
        generated = client.generate(prompt="Hello", max_tokens=4, n=2, seed=0)
        assert isinstance(generated, GenerateResponse)
        assert [output.index for output in generated.outputs] == [0, 1]
        assert 2 <= generated.usage.completion_tokens <= 8
        chat = client.chat_completions(
            messages=[{"role": "user", "content": "Hi"}], max_tokens=4, temperature=0
        )
        assert isinstance(chat, ChatCompletionResponse)
        assert chat.choices[0].message.role == "assistant"
        assert chat.choices[0].finish_reason in {"stop", "length", "tool_calls"}
        with pytest.raises(ValueError, match="openai SDK"):
            client.chat_completions(messages=[{"role": "user", "content": "Hi"}], stream=True)


async def test_async_generate(engine_server: Any) -> None:
    async with AsyncToolGradeClient(engine_server.base_url, api_key="") as client:
        generated = await client.generate({"prompt": "Hello", "max_tokens": 3, "temperature": 0})
    assert len(generated.outputs) == 1
    assert generated.outputs[0].finish_reason in {"stop", "length", "tool_calls"}
