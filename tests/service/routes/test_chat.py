"""``/v1/chat/completions`` and ``/v1/models`` through the official ``openai`` SDK.

Two servers: the app on a scripted engine (in-process ASGI, deterministic text, so a reply with
a valid ``<tool_call>`` must come back as ``tool_calls``), and the shared live server with the
real vLLM engine on the tiny model (tool_choice enforcement, streaming, LoRA by model name).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from service.app import create_app
from service.config import Settings
from service.engine.tokenizer import ChatTokenizer
from tests.fixtures.models import TINY_LORA_NAME, requires_vllm
from tests.service.serving.scripted_engine import ScriptedEngine

# Finite argument spaces (enums, booleans): even the random tiny model completes these calls.
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "enum": ["Paris", "Oslo", "Lima"]},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    },
}
ALARM = {
    "type": "function",
    "function": {
        "name": "set_alarm",
        "parameters": {
            "type": "object",
            "properties": {"enabled": {"type": "boolean"}},
            "required": ["enabled"],
        },
    },
}
TOOLS = [WEATHER, ALARM]
MESSAGES = [{"role": "user", "content": "What's the weather in Paris?"}]


# ---- scripted engine, in process -------------------------------------------------------------


@pytest.fixture(scope="module")
def scripted_engine(tiny_model_dir: Path) -> ScriptedEngine:
    return ScriptedEngine(ChatTokenizer.load(str(tiny_model_dir)), model_name="tiny-qwen3")


@pytest.fixture
async def scripted_client(scripted_engine: ScriptedEngine) -> AsyncIterator[openai.AsyncOpenAI]:
    app = create_app(Settings(no_model=False, api_key=None), engine=scripted_engine)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://toolgrade") as http:
        yield openai.AsyncOpenAI(base_url="http://toolgrade/v1", api_key="-", http_client=http)


async def test_sdk_gets_tool_calls_with_json_string_arguments(
    scripted_engine: ScriptedEngine, scripted_client: openai.AsyncOpenAI
) -> None:
    scripted_engine.replies = [
        '<think>\nParis, celsius.\n</think>\n\n<tool_call>\n{"name": "get_weather", '
        '"arguments": {"city": "Paris", "unit": "celsius"}}\n</tool_call>'
    ]
    completion = await scripted_client.chat.completions.create(
        model="tiny-qwen3",
        messages=MESSAGES,
        tools=TOOLS,  # type: ignore[arg-type]
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    (call,) = choice.message.tool_calls or []
    assert call.type == "function" and call.id.startswith("call_")
    assert call.function.name == "get_weather"
    assert isinstance(call.function.arguments, str)
    assert json.loads(call.function.arguments) == {"city": "Paris", "unit": "celsius"}
    assert choice.message.model_extra == {
        "reasoning": "Paris, celsius.",
        "reasoning_content": "Paris, celsius.",
    }


async def test_sdk_streams_scripted_tool_calls(
    scripted_engine: ScriptedEngine, scripted_client: openai.AsyncOpenAI
) -> None:
    scripted_engine.replies = [
        'On it.\n<tool_call>\n{"name": "set_alarm", "arguments": {"enabled": true}}\n</tool_call>'
    ]
    stream = await scripted_client.chat.completions.create(
        model="tiny-qwen3",
        messages=MESSAGES,
        tools=TOOLS,
        stream=True,  # type: ignore[arg-type]
    )
    content, deltas, finish = "", [], None
    async for chunk in stream:
        for choice in chunk.choices:
            content += choice.delta.content or ""
            deltas += choice.delta.tool_calls or []
            finish = choice.finish_reason or finish
    assert (content, finish) == ("On it.", "tool_calls")
    # As vLLM streams a call: its id and name first, then its arguments.
    assert [(d.index, bool(d.id), d.function.name, d.function.arguments) for d in deltas] == [  # type: ignore[union-attr]
        (0, True, "set_alarm", None),
        (0, False, None, '{"enabled": true}'),
    ]


async def test_sdk_sees_errors_in_the_openai_envelope(scripted_client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        await scripted_client.chat.completions.create(model="no-such-model", messages=MESSAGES)  # type: ignore[arg-type]
    assert raised.value.status_code == 400
    assert raised.value.code == "request:unknown_model"
    assert raised.value.param == "model"


# ---- the live server with the real vLLM engine ------------------------------------------------


@pytest.fixture(scope="module")
def live_client(engine_server: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{engine_server.base_url}/v1", api_key="-", timeout=120)


@requires_vllm
@pytest.mark.slow
def test_models_lists_the_base_model_then_adapters(live_client: openai.OpenAI) -> None:
    assert [model.id for model in live_client.models.list()] == ["tiny-qwen3", TINY_LORA_NAME]


@requires_vllm
@pytest.mark.slow
def test_required_and_named_tool_choice_force_calls_as_vllm_does(
    live_client: openai.OpenAI,
) -> None:
    """The grammar writes the ``<tool_call>`` opening and a tool's name, as stock vLLM's does;
    an untrained model may not close the arguments in time (then no call, the markup as content,
    finish "length"; ``tests/service/parity`` checks the same answers come from stock vLLM)."""
    for tool_choice, allowed in (
        ("required", {"get_weather", "set_alarm"}),
        ({"type": "function", "function": {"name": "set_alarm"}}, {"set_alarm"}),
    ):
        completion = live_client.chat.completions.create(
            model="tiny-qwen3",
            messages=MESSAGES,  # type: ignore[arg-type]
            tools=TOOLS,  # type: ignore[arg-type]
            tool_choice=tool_choice,  # type: ignore[arg-type]
            max_tokens=64,
            temperature=0,
        )
        choice = completion.choices[0]
        if choice.message.tool_calls:
            assert choice.finish_reason == ("tool_calls" if tool_choice == "required" else "stop")
            assert {call.function.name for call in choice.message.tool_calls} <= allowed
        else:
            assert choice.finish_reason == "length"
            content = choice.message.content or ""
            # Either of the two call layouts vLLM's Hermes grammar allows.
            assert any(
                content.startswith(f'<tool_call>{gap}{{"name": "{name}", "arguments": ')
                for name in allowed
                for gap in ("\n", "")
            ), content


@requires_vllm
@pytest.mark.slow
def test_auto_and_none_render_the_tools_and_return_text(
    live_client: openai.OpenAI, tiny_model_dir: Path
) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    prompt_ids = tokenizer.apply_chat_template(
        MESSAGES, tools=TOOLS, add_generation_prompt=True, tokenize=True, return_dict=False
    )
    for tool_choice in ("auto", "none"):
        completion = live_client.chat.completions.create(
            model="tiny-qwen3",
            messages=MESSAGES,  # type: ignore[arg-type]
            tools=TOOLS,  # type: ignore[arg-type]
            tool_choice=tool_choice,  # type: ignore[arg-type]
            max_tokens=16,
            temperature=0,
        )
        choice = completion.choices[0]
        assert completion.usage is not None
        assert completion.usage.prompt_tokens == len(prompt_ids)  # tools are in the prompt
        assert completion.usage.completion_tokens == 16
        # Random weights write no call markup: a text answer cut at max_tokens.
        assert (choice.finish_reason, choice.message.tool_calls) == ("length", None)
        assert choice.message.content
        assert "<tool_call>" not in choice.message.content


@requires_vllm
@pytest.mark.slow
def test_streaming_matches_the_non_streamed_completion(live_client: openai.OpenAI) -> None:
    request: dict[str, Any] = {"model": "tiny-qwen3", "messages": MESSAGES, "max_tokens": 16}
    whole = live_client.chat.completions.create(**request, temperature=0)
    stream = live_client.chat.completions.create(
        **request, temperature=0, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert content == whole.choices[0].message.content
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"
    assert chunks[-1].usage is not None and chunks[-1].usage == whole.usage
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) > 3


@requires_vllm
@pytest.mark.slow
def test_streamed_named_call_joins_to_the_non_streamed_answer(
    live_client: openai.OpenAI,
) -> None:
    request: dict[str, Any] = {
        "model": "tiny-qwen3",
        "messages": MESSAGES,
        "tools": TOOLS,
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "max_tokens": 64,
        "temperature": 0,
    }
    whole = live_client.chat.completions.create(**request).choices[0]
    stream = live_client.chat.completions.create(**request, stream=True)
    content, names, arguments, finish = "", [], "", None
    for chunk in stream:
        for choice in chunk.choices:
            content += choice.delta.content or ""
            for call in choice.delta.tool_calls or []:
                names += [call.function.name] if call.function.name else []  # type: ignore[union-attr]
                arguments += call.function.arguments or ""  # type: ignore[union-attr]
            finish = choice.finish_reason or finish
    assert finish == whole.finish_reason
    assert content == (whole.message.content or "")
    whole_calls = whole.message.tool_calls or []
    if whole_calls:  # a named call finishes with "stop", as in OpenAI's and vLLM's answers
        assert names == [call.function.name for call in whole_calls]
        assert arguments == "".join(call.function.arguments for call in whole_calls)
        assert (finish, names) == ("stop", ["get_weather"])
    else:
        # The call's head went out as soon as the grammar wrote the name (as vLLM and OpenAI
        # stream) and cannot be taken back; the whole answer has no call when the block was cut
        # off by max_tokens, or closed on arguments that are not an object (a tool that is not
        # strict lets the grammar write any JSON value there, as stock vLLM's does).
        assert names == ["get_weather"]
        assert '"name": "get_weather"' in content
        closed = "</tool_call>" in content
        assert finish == ("stop" if closed else "length"), content


@requires_vllm
@pytest.mark.slow
def test_a_lora_adapter_is_served_by_name(live_client: openai.OpenAI) -> None:
    def answer(model: str) -> Any:
        return live_client.chat.completions.create(
            model=model,
            messages=MESSAGES,  # type: ignore[arg-type]
            max_tokens=12,
            temperature=0,
        )

    adapted, base = answer(TINY_LORA_NAME), answer("tiny-qwen3")
    assert adapted.model == TINY_LORA_NAME
    assert adapted.choices[0].message.content != base.choices[0].message.content
    with pytest.raises(openai.BadRequestError) as raised:
        answer("not-an-adapter")
    assert raised.value.code == "request:unknown_model"


@requires_vllm
@pytest.mark.slow
def test_n_choices_and_seeds_through_the_sdk(live_client: openai.OpenAI) -> None:
    def sample(seed: int) -> list[str | None]:
        completion = live_client.chat.completions.create(
            model="tiny-qwen3",
            messages=MESSAGES,  # type: ignore[arg-type]
            max_tokens=8,
            n=3,
            seed=seed,
            temperature=1.0,
        )
        assert [choice.index for choice in completion.choices] == [0, 1, 2]
        return [choice.message.content for choice in completion.choices]

    first = sample(7)
    assert sample(7) == first
    assert len(set(first)) == 3
    assert sample(8) != first
