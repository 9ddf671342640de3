"""Chat completions through the serving layer on scripted engine output: tool calls parsed by
the core, tool_choice plans, reasoning, streaming that adds up to the non-streamed answer."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from service.core.errors import InvalidToolSchemaError, ToolGradeError
from service.core.parsing.hermes import TOOL_CALL_CLOSE
from service.engine.base import CompletionDelta, GenerationInput
from service.engine.errors import (
    InvalidChatRequestError,
    PromptTooLongError,
    UnknownModelError,
    UnsupportedParameterError,
)
from service.engine.tokenizer import ChatTokenizer
from service.protocol.chat import ChatCompletionRequest, ChatCompletionResponse
from service.serving.chat import ChatCompletionService
from tests.service.serving.scripted_engine import ScriptedEngine
from tests.shared import WEATHER_TOOL

TIME = {
    "type": "function",
    "function": {
        "name": "get_time",
        "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}},
    },
}
PARIS_CALL = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
TOOL_CALL_TOKEN = 151657


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir: Path) -> ChatTokenizer:
    return ChatTokenizer.load(str(tiny_model_dir))


def _request(**fields: Any) -> ChatCompletionRequest:
    body = {"messages": [{"role": "user", "content": "Weather in Paris?"}], **fields}
    return ChatCompletionRequest.model_validate(body)


async def _complete(engine: ScriptedEngine, **fields: Any) -> ChatCompletionResponse:
    response = await ChatCompletionService(engine).create(_request(**fields))
    assert isinstance(response, ChatCompletionResponse)
    return response


def _prompt_text(engine: ScriptedEngine) -> str:
    return engine.tokenizer.hf_tokenizer.decode(list(engine.requests[-1].prompt_token_ids))


async def test_valid_tool_call_becomes_openai_tool_calls(tokenizer: ChatTokenizer) -> None:
    reply = (
        "Let me check.\n"
        + PARIS_CALL
        + '\n<tool_call>\n{"name": "get_time", "arguments": {}}\n</tool_call>'
    )
    engine = ScriptedEngine(tokenizer, replies=[reply])
    response = await _complete(engine, tools=[WEATHER_TOOL, TIME])
    choice = response.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == "Let me check."
    calls = choice.message.tool_calls or []
    assert [call.function.name for call in calls] == ["get_weather", "get_time"]
    assert [call.function.arguments for call in calls] == ['{"city": "Paris"}', "{}"]
    assert all(re.fullmatch(r"call_[0-9a-f]{24}", call.id) for call in calls)
    assert len({call.id for call in calls}) == 2
    # auto: tools rendered in the system turn, nothing forced or banned.
    prompt = _prompt_text(engine)
    assert "<tools>\n" + json.dumps(WEATHER_TOOL) in prompt
    assert prompt.endswith("<|im_start|>assistant\n")
    options = engine.requests[-1].options
    assert (options.json_schema, options.banned_token_ids) == (None, ())
    # Usage: prompt tokens as tokenised, completion tokens of the reply.
    assert response.usage.prompt_tokens == len(engine.requests[-1].prompt_token_ids)
    assert response.usage.completion_tokens == len(tokenizer.encode(reply))
    assert (
        response.usage.total_tokens
        == response.usage.prompt_tokens + response.usage.completion_tokens
    )


async def test_parallel_tool_calls_false_keeps_the_first(tokenizer: ChatTokenizer) -> None:
    engine = ScriptedEngine(
        tokenizer, replies=[PARIS_CALL + "\n" + PARIS_CALL.replace("Paris", "Rome")]
    )
    response = await _complete(engine, tools=[WEATHER_TOOL], parallel_tool_calls=False)
    calls = response.choices[0].message.tool_calls or []
    assert [json.loads(call.function.arguments) for call in calls] == [{"city": "Paris"}]


async def test_malformed_call_stays_text_and_finish_reason_is_not_tool_calls(
    tokenizer: ChatTokenizer,
) -> None:
    broken = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Par'
    engine = ScriptedEngine(tokenizer, replies=[broken], finish_reason="length")
    choice = (await _complete(engine, tools=[WEATHER_TOOL])).choices[0]
    assert choice.finish_reason == "length"
    assert choice.message.tool_calls is None
    assert choice.message.content == broken


async def test_reasoning_is_returned_apart_from_content(tokenizer: ChatTokenizer) -> None:
    engine = ScriptedEngine(
        tokenizer, replies=["<think>\nThe user wants weather.\n</think>\n\n" + PARIS_CALL]
    )
    choice = (await _complete(engine, tools=[WEATHER_TOOL])).choices[0]
    assert choice.message.reasoning_content == "The user wants weather."
    assert choice.message.content is None
    assert choice.finish_reason == "tool_calls"
    plain = ScriptedEngine(tokenizer, replies=["<think>\nhmm\n</think>\n\nIt is sunny."])
    message = (await _complete(plain, enable_thinking=True)).choices[0].message
    assert (message.reasoning_content, message.content) == ("hmm", "It is sunny.")


async def test_enable_thinking_false_prefills_an_empty_think_block(
    tokenizer: ChatTokenizer,
) -> None:
    engine = ScriptedEngine(tokenizer, replies=["Hi."])
    await _complete(engine, chat_template_kwargs={"enable_thinking": False})
    assert _prompt_text(engine).endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")


async def test_tool_choice_none_bans_the_call_token_and_parses_nothing(
    tokenizer: ChatTokenizer,
) -> None:
    engine = ScriptedEngine(tokenizer, replies=[PARIS_CALL])
    choice = (await _complete(engine, tools=[WEATHER_TOOL], tool_choice="none")).choices[0]
    assert choice.finish_reason == "stop"
    assert choice.message.tool_calls is None
    assert choice.message.content == PARIS_CALL
    assert engine.requests[-1].options.banned_token_ids == (TOOL_CALL_TOKEN,)
    assert "<tools>" in _prompt_text(engine)  # the model still knows the tools


async def test_no_tools_means_no_parsing(tokenizer: ChatTokenizer) -> None:
    engine = ScriptedEngine(tokenizer, replies=[PARIS_CALL])
    choice = (await _complete(engine)).choices[0]
    assert (choice.finish_reason, choice.message.tool_calls) == ("stop", None)
    assert "<tools>" not in _prompt_text(engine)


async def test_required_allows_one_or_more_calls_with_vllms_grammar(
    tokenizer: ChatTokenizer,
) -> None:
    reply = (
        '<tool_call>\n{"name": "get_time", "arguments": {"zone": "UTC"}}\n</tool_call>'
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>'
    )
    engine = ScriptedEngine(tokenizer, replies=[reply])
    strict_weather = {**WEATHER_TOOL, "function": {**WEATHER_TOOL["function"], "strict": True}}
    response = await _complete(
        engine, tools=[strict_weather, TIME], tool_choice="required", enable_thinking=False
    )
    choice = response.choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls or []
    assert [(c.function.name, json.loads(c.function.arguments)) for c in calls] == [
        ("get_time", {"zone": "UTC"}),
        ("get_weather", {"city": "Oslo"}),
    ]
    # The grammar writes the tags itself: nothing is forced into the prompt.
    assert _prompt_text(engine).endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    options = engine.requests[-1].options
    assert options.json_schema is None and options.structural_tag is not None
    tag = options.structural_tag["format"]
    assert (tag["type"], tag["at_least_one"], tag["stop_after_first"]) == (
        "tags_with_separator",
        True,
        False,
    )
    begins = [t["begin"] for t in tag["tags"]]
    assert begins[0] == '<tool_call>\n{"name": "get_weather", "arguments": '
    assert begins[2] == '<tool_call>\n{"name": "get_time", "arguments": '
    # Arguments follow the schema only for the strict tool (OpenAI's meaning of strict).
    weather_arguments = tag["tags"][0]["content"]["json_schema"]
    assert weather_arguments["required"] == ["city"]
    assert tag["tags"][2]["content"]["json_schema"] is True


async def test_required_without_parallel_calls_stops_after_one(tokenizer: ChatTokenizer) -> None:
    engine = ScriptedEngine(tokenizer, replies=[PARIS_CALL])
    await _complete(
        engine, tools=[WEATHER_TOOL, TIME], tool_choice="required", parallel_tool_calls=False
    )
    tag = engine.requests[-1].options.structural_tag
    assert tag is not None and tag["format"]["stop_after_first"] is True


@pytest.mark.parametrize(
    "tool_choice", ["required", {"type": "function", "function": {"name": "get_weather"}}]
)
async def test_a_forced_call_with_thinking_on_starts_after_a_closed_think_block(
    tokenizer: ChatTokenizer, tool_choice: Any
) -> None:
    engine = ScriptedEngine(tokenizer, replies=[PARIS_CALL])
    # Thinking on (the template's default): the grammar starts at the first generated token,
    # so the prompt must already hold the answer's empty think block.
    response = await _complete(engine, tools=[WEATHER_TOOL, TIME], tool_choice=tool_choice)
    assert _prompt_text(engine).endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    assert response.choices[0].message.tool_calls
    engine = ScriptedEngine(tokenizer, replies=["Sunny."])
    await _complete(engine, tools=[WEATHER_TOOL, TIME], tool_choice="auto")
    assert _prompt_text(engine).endswith("<|im_start|>assistant\n")  # auto may still think


async def test_named_tool_choice_constrains_to_that_function(tokenizer: ChatTokenizer) -> None:
    engine = ScriptedEngine(
        tokenizer,
        replies=[
            '<tool_call>\n{"name": "get_weather", "arguments": {"city":"Oslo"}}\n</tool_call>'
        ],
    )
    named = {"type": "function", "function": {"name": "get_weather"}}
    choice = (await _complete(engine, tools=[WEATHER_TOOL, TIME], tool_choice=named)).choices[0]
    # OpenAI and vLLM finish a named call with "stop".
    assert choice.finish_reason == "stop"
    assert choice.message.tool_calls[0].function.arguments == '{"city": "Oslo"}'  # type: ignore[index]
    tag = engine.requests[-1].options.structural_tag
    assert tag is not None and tag["format"]["stop_after_first"] is True
    assert {t["begin"] for t in tag["format"]["tags"]} == {
        '<tool_call>\n{"name": "get_weather", "arguments": ',
        '<tool_call>{"name": "get_weather", "arguments": ',
    }


async def test_named_tool_choice_without_a_grammar_writes_the_name_itself(
    tokenizer: ChatTokenizer,
) -> None:
    engine = ScriptedEngine(tokenizer, replies=['{"city": "Oslo"}}\n'], supports_json_schema=False)
    named = {"type": "function", "function": {"name": "get_weather"}}
    choice = (await _complete(engine, tools=[WEATHER_TOOL], tool_choice=named)).choices[0]
    assert choice.finish_reason == "stop"
    assert choice.message.tool_calls[0].function.name == "get_weather"  # type: ignore[index]
    assert _prompt_text(engine).endswith('<tool_call>\n{"name": "get_weather", "arguments": ')
    options = engine.requests[-1].options
    assert (options.json_schema, options.stop) == (None, ("</tool_call>",))


@pytest.mark.parametrize(
    ("fields", "error", "label"),
    [
        ({"model": "nope"}, UnknownModelError, "request:unknown_model"),
        ({"tool_choice": "required"}, InvalidChatRequestError, "request:tool_choice_without_tools"),
        (
            {
                "tools": [WEATHER_TOOL],
                "tool_choice": {"type": "function", "function": {"name": "x"}},
            },
            InvalidChatRequestError,
            "request:unknown_tool_choice",
        ),
        ({"n": 2, "temperature": 0}, InvalidChatRequestError, "request:greedy_with_n"),
        ({"top_logprobs": 2}, UnsupportedParameterError, "request:invalid_logprobs"),
        ({"max_tokens": 5000}, PromptTooLongError, "request:context_length_exceeded"),
        (
            {"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": 3}}}]},
            InvalidToolSchemaError,
            None,
        ),
    ],
)
async def test_bad_requests_raise_400_errors_before_generating(
    tokenizer: ChatTokenizer, fields: dict[str, Any], error: type[Exception], label: str | None
) -> None:
    engine = ScriptedEngine(tokenizer, replies=["x"])
    with pytest.raises(error) as raised:
        await ChatCompletionService(engine).create(_request(**fields))
    assert getattr(raised.value, "status_code", None) == 400
    if label is not None:
        assert raised.value.label == label  # type: ignore[attr-defined]
    assert engine.requests == []


async def test_adapter_names_reach_the_engine(tokenizer: ChatTokenizer) -> None:
    engine = ScriptedEngine(tokenizer, replies=["ok"])
    response = await _complete(engine, model="scripted-lora")
    assert engine.requests[-1].adapter == "scripted-lora"
    assert response.model == "scripted-lora"


async def _collect_stream(engine: ScriptedEngine, **fields: Any) -> list[dict[str, Any]]:
    stream = await ChatCompletionService(engine).create(_request(stream=True, **fields))
    assert not isinstance(stream, ChatCompletionResponse)
    events = [event async for event in stream]
    assert all(event.startswith("data: ") and event.endswith("\n\n") for event in events)
    assert events[-1] == "data: [DONE]\n\n"
    return [json.loads(event[len("data: ") :]) for event in events[:-1]]


def _assemble(chunks: list[dict[str, Any]], index: int = 0) -> dict[str, Any]:
    """What an OpenAI client builds from the chunks of one choice: call deltas merged by index.

    Checks the order vLLM streams a call in: a delta with its id and name, then arguments.
    """
    message: dict[str, Any] = {"content": "", "reasoning_content": "", "tool_calls": []}
    finish = None
    calls: dict[int, dict[str, Any]] = {}
    for chunk in chunks:
        for choice in chunk["choices"]:
            if choice["index"] != index:
                continue
            delta = choice["delta"]
            assert delta.get("reasoning") == delta.get("reasoning_content")
            message["content"] += delta.get("content") or ""
            message["reasoning_content"] += delta.get("reasoning_content") or ""
            for call in delta.get("tool_calls") or []:
                function = call["function"]
                if call["index"] not in calls:
                    assert call["id"] and function["name"] and "arguments" not in function
                    calls[call["index"]] = {
                        "index": call["index"],
                        "id": call["id"],
                        "function": {"name": function["name"], "arguments": ""},
                    }
                else:
                    assert "id" not in call and "name" not in function
                    calls[call["index"]]["function"]["arguments"] += function["arguments"]
            finish = choice.get("finish_reason") or finish
    message["tool_calls"] = [calls[position] for position in sorted(calls)]
    return {**message, "finish_reason": finish}


ROME_TIME_CALLS = (
    '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Rome", "days": [1, 2], '
    '"unit": {"scale": "C", "round": 0.5}}}\n</tool_call>\n<tool_call>\n'
    '{"name":"get_time","arguments":{"zone":"Europe/Z\\u00fcrich","dst":true,"offset":-1.50}}\n'
    "</tool_call>"
)


def _joined_calls(streamed: dict[str, Any]) -> list[tuple[str, str]]:
    return [(c["function"]["name"], c["function"]["arguments"]) for c in streamed["tool_calls"]]


def _expected_calls(choice: Any) -> list[tuple[str, str]]:
    return [
        (call.function.name, call.function.arguments) for call in choice.message.tool_calls or []
    ]


@pytest.mark.parametrize("piece_size", [1, 2, 7])
@pytest.mark.parametrize(
    ("reply", "fields"),
    [
        ("<think>\nFirst, the city.\n</think>\n\nChecking now.\n" + PARIS_CALL, {}),
        ("It is sunny in Paris today, around 21 degrees.", {}),
        ('Here: {"name": "get_weather", "arguments": {"city": "Paris"}} done', {}),
        ("get_weather(city='Paris')", {}),
        # Name not complete when the text ends: nothing of a call was sent.
        ('<tool_call>\n{"name": "get_wea', {}),
        ("<think>\nunfinished reasoning that runs out", {}),
        ("Paris, then.</think>\n" + PARIS_CALL, {}),
        # Parallel calls, nested and non-canonically spaced arguments, escapes, floats.
        (ROME_TIME_CALLS, {}),
        ("Both.\n" + ROME_TIME_CALLS + "\nDone.", {}),
        (ROME_TIME_CALLS, {"parallel_tool_calls": False}),
        (PARIS_CALL + "\n" + PARIS_CALL.replace("Paris", "Rome"), {"parallel_tool_calls": False}),
        # A call inside the reasoning is not a call.
        (
            "<think>\nMaybe " + PARIS_CALL + "\n</think>\n\nNo call needed.",
            {"enable_thinking": True},
        ),
        (PARIS_CALL, {"tool_choice": "none"}),
        (ROME_TIME_CALLS, {"tool_choice": "required"}),
        (PARIS_CALL, {"tool_choice": {"type": "function", "function": {"name": "get_weather"}}}),
        ('<tool_call>\n{"name": "get_weather", "arguments": {}}\n</tool_call>', {}),
    ],
)
async def test_streaming_adds_up_to_the_non_streamed_message(
    tokenizer: ChatTokenizer, reply: str, fields: dict[str, Any], piece_size: int
) -> None:
    engine = ScriptedEngine(tokenizer, replies=[reply], piece_size=piece_size)
    tools = [WEATHER_TOOL, TIME]
    expected = (await _complete(engine, tools=tools, **fields)).choices[0]
    chunks = await _collect_stream(engine, tools=tools, **fields)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    streamed = _assemble(chunks)
    assert streamed["content"] == (expected.message.content or "")
    assert streamed["reasoning_content"] == (expected.message.reasoning_content or "")
    assert streamed["finish_reason"] == expected.finish_reason
    assert _joined_calls(streamed) == _expected_calls(expected)
    assert [call["index"] for call in streamed["tool_calls"]] == list(
        range(len(expected_calls := _expected_calls(expected)))
    )
    assert len(expected_calls) == len(streamed["tool_calls"])


async def test_named_call_without_a_grammar_streams_its_forced_name_first(
    tokenizer: ChatTokenizer,
) -> None:
    engine = ScriptedEngine(
        tokenizer, replies=['{"city": "Oslo", "days": 3}}\n'], supports_json_schema=False
    )
    named = {"type": "function", "function": {"name": "get_weather"}}
    expected = (await _complete(engine, tools=[WEATHER_TOOL], tool_choice=named)).choices[0]
    chunks = await _collect_stream(engine, tools=[WEATHER_TOOL], tool_choice=named, logprobs=True)
    streamed = _assemble(chunks)
    assert (streamed["finish_reason"], _joined_calls(streamed)) == (
        expected.finish_reason,
        _expected_calls(expected),
    )
    # The name was in the forced prefix: its delta follows the first generated piece.
    head = next(
        i for i, c in enumerate(chunks) if c["choices"] and "tool_calls" in c["choices"][0]["delta"]
    )
    assert head <= 2


@pytest.mark.parametrize("finish_reason", ["length", "stop"])
@pytest.mark.parametrize(
    ("reply", "sent_arguments"),
    [
        ('<tool_call>\n{"name": "get_weather", "arguments": {"city": "Par', ""),
        (
            '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "days": 3, "un',
            '{"city": "Paris", "days": 3, ',
        ),
        # Closed, but not JSON: the head went out before the block was read whole.
        ('<tool_call>\n{"name": "get_weather", "arguments": {"city": Paris}}\n</tool_call>', ""),
    ],
)
async def test_a_call_that_never_completes_keeps_content_and_finish_of_the_whole_answer(
    tokenizer: ChatTokenizer, reply: str, sent_arguments: str, finish_reason: Any
) -> None:
    # What was sent cannot be taken back (as with vLLM and OpenAI): the stream carries the
    # call's head and its settled arguments; content and finish_reason are the whole answer's.
    engine = ScriptedEngine(tokenizer, replies=[reply], piece_size=2, finish_reason=finish_reason)
    expected = (await _complete(engine, tools=[WEATHER_TOOL])).choices[0]
    assert expected.message.tool_calls is None and expected.message.content == reply
    streamed = _assemble(await _collect_stream(engine, tools=[WEATHER_TOOL]))
    assert streamed["content"] == expected.message.content
    assert streamed["finish_reason"] == expected.finish_reason == finish_reason
    assert _joined_calls(streamed) == [("get_weather", sent_arguments)]


async def test_a_malformed_second_block_stops_further_calls(tokenizer: ChatTokenizer) -> None:
    reply = (
        PARIS_CALL + '\n<tool_call>\n{"name": "get_time", "arguments": {"zone": UTC}}\n</tool_call>'
    )
    engine = ScriptedEngine(tokenizer, replies=[reply + "\n" + PARIS_CALL], piece_size=3)
    expected = (await _complete(engine, tools=[WEATHER_TOOL, TIME])).choices[0]
    assert expected.message.tool_calls is None
    streamed = _assemble(await _collect_stream(engine, tools=[WEATHER_TOOL, TIME]))
    assert (streamed["content"], streamed["finish_reason"]) == (expected.message.content, "stop")
    # The first call was whole when it was sent; the second's head went out; nothing after.
    assert _joined_calls(streamed) == [
        ("get_weather", '{"city": "Paris"}'),
        ("get_time", ""),
    ]


async def test_streamed_content_is_not_held_back_without_reason(tokenizer: ChatTokenizer) -> None:
    engine = ScriptedEngine(tokenizer, replies=["Sunny and warm in Paris today."], piece_size=5)
    chunks = await _collect_stream(engine, tools=[WEATHER_TOOL])
    content_chunks = [c["choices"][0]["delta"].get("content") for c in chunks[1:]]
    assert len([c for c in content_chunks if c]) >= 4  # streamed piece by piece, not at the end


async def test_streaming_n_choices_with_usage(tokenizer: ChatTokenizer) -> None:
    engine = ScriptedEngine(tokenizer, replies=[PARIS_CALL, "No call."])
    chunks = await _collect_stream(
        engine, tools=[WEATHER_TOOL], n=2, temperature=0.7, stream_options={"include_usage": True}
    )
    first, second = _assemble(chunks, 0), _assemble(chunks, 1)
    assert first["finish_reason"] == "tool_calls"
    assert json.loads(first["tool_calls"][0]["function"]["arguments"]) == {"city": "Paris"}
    assert (second["content"], second["finish_reason"]) == ("No call.", "stop")
    usage_chunk = chunks[-1]
    assert usage_chunk["choices"] == []
    expected_tokens = len(tokenizer.encode(PARIS_CALL)) + len(tokenizer.encode("No call."))
    assert usage_chunk["usage"]["completion_tokens"] == expected_tokens


async def test_stream_errors_are_raised_before_the_stream_starts(tokenizer: ChatTokenizer) -> None:
    engine = ScriptedEngine(tokenizer, replies=["x"])
    with pytest.raises(UnknownModelError):
        await ChatCompletionService(engine).create(_request(stream=True, model="nope"))


async def test_a_lone_closing_think_tag_keeps_the_text_before_it(
    tokenizer: ChatTokenizer,
) -> None:
    # This prompt does not open a think block, so a lone </think> is answer text; the text
    # before it is neither dropped nor turned into reasoning by a second split.
    engine = ScriptedEngine(tokenizer, replies=["Paris, then.</think>\n" + PARIS_CALL])
    choice = (await _complete(engine, tools=[WEATHER_TOOL])).choices[0]
    assert choice.finish_reason == "tool_calls"
    assert (choice.message.content, choice.message.reasoning_content) == (
        "Paris, then.</think>",
        None,
    )


@pytest.mark.parametrize(
    "tool_choice", [None, "required", {"type": "function", "function": {"name": "get_time"}}]
)
async def test_tools_are_normalised_once_per_request(
    tokenizer: ChatTokenizer, monkeypatch: pytest.MonkeyPatch, tool_choice: Any
) -> None:
    from service.serving import tool_choice as tool_choice_module

    calls: list[Any] = []
    normalise = tool_choice_module.normalise_tools

    def counting(tools: Any) -> Any:
        calls.append(tools)
        return normalise(tools)

    monkeypatch.setattr(tool_choice_module, "normalise_tools", counting)
    engine = ScriptedEngine(tokenizer, replies=['{"name":"get_time","arguments":{}}'])
    await _complete(engine, tools=[WEATHER_TOOL, TIME], tool_choice=tool_choice)
    assert len(calls) == 1


class _FailingEngine(ScriptedEngine):
    async def stream(self, request: GenerationInput) -> AsyncIterator[CompletionDelta]:
        async for delta in super().stream(request):
            yield delta
            raise ToolGradeError("the engine died", label="engine:failed", param="model")


async def test_an_error_after_the_stream_started_is_reported_in_band(
    tokenizer: ChatTokenizer,
) -> None:
    engine = _FailingEngine(tokenizer, replies=["Sunny in Paris."])
    chunks = await _collect_stream(engine, tools=[WEATHER_TOOL])
    assert chunks[-1] == {
        "error": {
            "message": "the engine died",
            "type": "invalid_request_error",
            "param": "model",
            "code": "engine:failed",
        }
    }


async def test_a_streamed_calls_head_goes_out_as_soon_as_its_name_is_complete(
    tokenizer: ChatTokenizer,
) -> None:
    first = (
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "days": 3}}\n'
        "</tool_call>"
    )
    second = '\n<tool_call>\n{"name": "get_time", "arguments": {"zone": "UTC"}}\n</tool_call>'
    reply = first + second
    engine = ScriptedEngine(tokenizer, replies=[reply], piece_size=4)
    # With logprobs every engine delta makes a chunk, so the chunks show when a call went out.
    chunks = await _collect_stream(engine, tools=[WEATHER_TOOL, TIME], logprobs=True)
    text_so_far = []
    written = ""
    for chunk in chunks[1:]:
        delta = chunk["choices"][0]["delta"] if chunk["choices"] else {}
        if "logprobs" in (chunk["choices"][0] if chunk["choices"] else {}):
            written += "".join(t["token"] for t in chunk["choices"][0]["logprobs"]["content"])
        for call in delta.get("tool_calls") or []:
            text_so_far.append((call["index"], call["function"], written))
    # Each call's head as soon as the name (and the comma after it) was written, then its
    # arguments one complete top-level argument at a time, the rest when the block closed.
    (i0, head0, at0), (_, args0a, _), (_, args0b, at0b), (i1, head1, at1), (_, args1, at1b) = (
        text_so_far
    )
    assert (i0, head0, i1, head1) == (0, {"name": "get_weather"}, 1, {"name": "get_time"})
    assert TOOL_CALL_CLOSE not in at0 and at0.rstrip().endswith('"get_weather",')
    assert (args0a["arguments"], args0b["arguments"]) == ('{"city": "Paris", ', '"days": 3}')
    assert TOOL_CALL_CLOSE in at0b and second.strip() not in at0b
    assert at1.count(TOOL_CALL_CLOSE) == 1 and at1.rstrip().endswith('"get_time",')
    assert args1["arguments"] == '{"zone": "UTC"}' and at1b.count(TOOL_CALL_CLOSE) == 2
    assert _assemble(chunks)["finish_reason"] == "tool_calls"


async def test_reasoning_is_sent_under_both_names(tokenizer: ChatTokenizer) -> None:
    engine = ScriptedEngine(tokenizer, replies=["<think>\nhmm\n</think>\n\nSunny."])
    message = (await _complete(engine)).choices[0].message
    assert (message.reasoning, message.reasoning_content, message.content) == (
        "hmm",
        "hmm",
        "Sunny.",
    )


async def test_reasoning_sent_back_under_either_name_reaches_the_template(
    tokenizer: ChatTokenizer,
) -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
    for name in ("reasoning", "reasoning_content"):
        engine = ScriptedEngine(tokenizer, replies=["ok"])
        # The template shows reasoning of the turns after the last user message.
        messages = [
            {"role": "user", "content": "Weather?"},
            {"role": "assistant", "content": "", "tool_calls": [call], name: "Need a city."},
            {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
        ]
        await _complete(engine, messages=messages)
        assert "Need a city." in _prompt_text(engine)


async def test_logprobs_are_passed_through_in_openais_shape(tokenizer: ChatTokenizer) -> None:
    engine = ScriptedEngine(tokenizer, replies=["Sunny in Paris."])
    choice = (await _complete(engine, logprobs=True, top_logprobs=2)).choices[0]
    assert engine.requests[-1].options.logprobs == 2
    assert choice.logprobs is not None and choice.logprobs.content is not None
    tokens = [tokenizer.decode([t]) for t in tokenizer.encode("Sunny in Paris.")]
    assert [entry.token for entry in choice.logprobs.content] == tokens
    second = choice.logprobs.content[1]
    assert (second.logprob, second.bytes) == (-0.1, list(tokens[1].encode()))
    assert [(top.token, top.logprob) for top in second.top_logprobs] == [
        (tokens[1], -0.1),
        ("alt0", -1.1),
    ]
    chunks = await _collect_stream(engine, logprobs=True, top_logprobs=2)
    streamed = [
        entry["token"]
        for chunk in chunks
        for choice in chunk["choices"]
        if choice.get("logprobs")
        for entry in choice["logprobs"]["content"]
    ]
    assert "".join(streamed) == "Sunny in Paris."


async def test_logprobs_on_an_engine_without_them_are_refused(tokenizer: ChatTokenizer) -> None:
    engine = ScriptedEngine(tokenizer, supports_logprobs=False)
    with pytest.raises(UnsupportedParameterError) as raised:
        await _complete(engine, logprobs=True)
    assert raised.value.param == "logprobs"
