"""Text completions through the serving layer on scripted engine output: the raw prompt's
tokens reach the engine untouched, the text comes back unparsed, and the wire shape (choice
numbering, echo, logprobs, streaming, usage) is vLLM's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from service.engine.errors import (
    InvalidChatRequestError,
    PromptTooLongError,
    UnsupportedParameterError,
)
from service.engine.tokenizer import ChatTokenizer
from service.protocol.completions import CompletionRequest, CompletionResponse
from service.serving.completions import CompletionService
from tests.service.serving.scripted_engine import ScriptedEngine

CALL_TEXT = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir: Path) -> ChatTokenizer:
    return ChatTokenizer.load(str(tiny_model_dir))


async def _complete(engine: ScriptedEngine, **fields: Any) -> CompletionResponse:
    request = CompletionRequest.model_validate({"prompt": "Once upon", **fields})
    response = await CompletionService(engine).create(request)
    assert isinstance(response, CompletionResponse)
    return response


async def _stream_events(engine: ScriptedEngine, **fields: Any) -> list[Any]:
    request = CompletionRequest.model_validate({"prompt": "Once upon", "stream": True, **fields})
    stream = await CompletionService(engine).create(request)
    assert not isinstance(stream, CompletionResponse)
    events = [event async for event in stream]
    assert events[-1] == "data: [DONE]\n\n"
    return [json.loads(event.removeprefix("data: ")) for event in events[:-1]]


async def test_raw_prompt_reaches_the_engine_and_text_is_not_parsed(
    tokenizer: ChatTokenizer,
) -> None:
    engine = ScriptedEngine(tokenizer, replies=[CALL_TEXT])
    prompt = "<|im_start|>user\nWeather?<|im_end|>\n<|im_start|>assistant\n"
    response = await _complete(engine, prompt=prompt, max_tokens=40, temperature=0)
    assert list(engine.requests[0].prompt_token_ids) == tokenizer.encode(prompt)
    assert engine.requests[0].options.max_tokens == 40
    assert engine.requests[0].options.temperature == 0
    body = response.model_dump(exclude_none=True)
    assert body["object"] == "text_completion"
    assert body["id"].startswith("cmpl-")
    assert body["choices"] == [{"index": 0, "text": CALL_TEXT, "finish_reason": "stop"}]
    completion_tokens = len(tokenizer.encode(CALL_TEXT))
    assert body["usage"] == {
        "prompt_tokens": len(tokenizer.encode(prompt)),
        "completion_tokens": completion_tokens,
        "total_tokens": len(tokenizer.encode(prompt)) + completion_tokens,
    }


async def test_defaults_are_openais(tokenizer: ChatTokenizer) -> None:
    engine = ScriptedEngine(tokenizer, replies=["x"])
    await _complete(engine)
    options = engine.requests[0].options
    assert (options.max_tokens, options.temperature, options.top_p) == (16, 1.0, 1.0)
    assert options.logprobs is None and options.json_schema is None
    assert options.banned_token_ids == ()


async def test_token_id_prompts_and_batches_number_choices_like_vllm(
    tokenizer: ChatTokenizer,
) -> None:
    engine = ScriptedEngine(tokenizer, replies=["a", "b"])
    ids = tokenizer.encode("Hello there")
    second = tokenizer.encode("Second")
    response = await _complete(engine, prompt=[ids, second], n=2, temperature=0.7)
    assert [list(item.prompt_token_ids) for item in engine.requests] == [
        ids,
        tokenizer.encode("Second"),
    ]
    assert [(choice.index, choice.text) for choice in response.choices] == [
        (0, "a"),
        (1, "b"),
        (2, "a"),
        (3, "b"),
    ]
    assert response.usage.prompt_tokens == len(ids) + len(tokenizer.encode("Second"))


async def test_echo_prepends_the_prompt(tokenizer: ChatTokenizer) -> None:
    engine = ScriptedEngine(tokenizer, replies=[" a time"])
    response = await _complete(engine, echo=True)
    assert response.choices[0].text == "Once upon a time"
    events = await _stream_events(engine, echo=True)
    assert "".join(choice["text"] for e in events for choice in e["choices"]) == (
        "Once upon a time"
    )


async def test_logprobs_have_openais_completion_shape(tokenizer: ChatTokenizer) -> None:
    engine = ScriptedEngine(tokenizer, replies=[" a time"])
    response = await _complete(engine, logprobs=2)
    assert engine.requests[0].options.logprobs == 2
    logprobs = response.choices[0].logprobs
    assert logprobs is not None
    tokens = [tokenizer.decode([token]) for token in tokenizer.encode(" a time")]
    assert logprobs.tokens == tokens
    assert logprobs.token_logprobs == [-i / 10 for i in range(len(tokens))]
    # The sampled token and ``logprobs`` alternatives: logprobs + 1 entries (OpenAI's rule).
    assert logprobs.top_logprobs[1] == {tokens[1]: -0.1, "alt0": -1.1, "alt1": -2.1}
    assert logprobs.text_offset == [sum(len(t) for t in tokens[:i]) for i in range(len(tokens))]


async def test_stream_joins_to_the_response_and_ends_with_usage(
    tokenizer: ChatTokenizer,
) -> None:
    reply = "It was a dark and stormy night."
    engine = ScriptedEngine(tokenizer, replies=[reply])
    whole = await _complete(engine, logprobs=1)
    events = await _stream_events(engine, logprobs=1, stream_options={"include_usage": True})
    chunks, usage_chunk = events[:-1], events[-1]
    assert all(chunk["object"] == "text_completion" for chunk in events)
    assert "".join(chunk["choices"][0]["text"] for chunk in chunks) == reply
    assert [chunk["choices"][0].get("finish_reason") for chunk in chunks][-1] == "stop"
    assert all("finish_reason" not in chunk["choices"][0] for chunk in chunks[:-1])
    # Offsets run on across chunks: each token starts where the previous one ended.
    streamed_tokens = [t for chunk in chunks for t in chunk["choices"][0]["logprobs"]["tokens"]]
    offsets = [o for chunk in chunks for o in chunk["choices"][0]["logprobs"]["text_offset"]]
    assert offsets == [sum(map(len, streamed_tokens[:i])) for i in range(len(streamed_tokens))]
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"] == whole.usage.model_dump()


async def test_no_usage_chunk_unless_asked(tokenizer: ChatTokenizer) -> None:
    events = await _stream_events(ScriptedEngine(tokenizer, replies=["ok"]))
    assert all("usage" not in event for event in events)


@pytest.mark.parametrize(
    ("fields", "error", "param"),
    [
        ({"suffix": "end"}, UnsupportedParameterError, "suffix"),
        ({"best_of": 3}, UnsupportedParameterError, "best_of"),
        ({"echo": True, "logprobs": 1}, UnsupportedParameterError, "echo"),
        ({"prompt": ""}, InvalidChatRequestError, "prompt"),
        ({"prompt": []}, InvalidChatRequestError, "prompt"),
        ({"max_tokens": 5000}, PromptTooLongError, "max_tokens"),
    ],
)
async def test_bad_requests_are_labelled_400s(
    tokenizer: ChatTokenizer, fields: dict[str, Any], error: type[Exception], param: str
) -> None:
    with pytest.raises(error) as raised:
        await _complete(ScriptedEngine(tokenizer), **fields)
    assert raised.value.param == param  # type: ignore[attr-defined]


async def test_logprobs_on_an_engine_without_them_are_refused(
    tokenizer: ChatTokenizer,
) -> None:
    engine = ScriptedEngine(tokenizer, supports_logprobs=False)
    with pytest.raises(UnsupportedParameterError) as raised:
        await _complete(engine, logprobs=0)
    assert raised.value.label == "request:unsupported_parameter"
