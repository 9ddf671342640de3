"""The vLLM tool-parser plugin, loaded the way stock vLLM loads it, on the Qwen tokenizer.

Its calls must be exactly :func:`service.core.parsing.parse_calls`'s, and its stream (fed token
by token as vLLM's serving layer feeds it) must join to the non-streamed answer. The plugin
inside a live stock vLLM server is exercised by ``tests/service/parity``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from service.core.parsing import parse_calls
from tests.fixtures.models import requires_vllm

pytestmark = requires_vllm

PLUGIN_PATH = Path(__file__).resolve().parents[2] / "clients" / "vllm_tool_parser.py"

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}

CALL_TEXTS = {
    "hermes": '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>',
    "hermes_parallel": (
        'Sure.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n'
        '</tool_call>\n<tool_call>{"name": "get_weather", "arguments": {"city": "Oslo"}}'
        "</tool_call>"
    ),
    "unterminated_last_block": '<tool_call>{"name": "get_weather", "arguments": {"city": "Rome"}}',
    "python_syntax": '[get_weather(city="Paris"), get_weather(city="Oslo")]',
    "json_in_prose": 'I will call {"name": "get_weather", "arguments": {"city": "Lima"}} now.',
}
NO_CALL_TEXTS = {
    "plain": "It is sunny in Paris.",
    "malformed_block": '<tool_call>{"name": "get_weather", "arguments": {"city": }}</tool_call>',
    "later_block_malformed": (
        '<tool_call>{"name": "get_weather", "arguments": {}}</tool_call><tool_call>{oops'
    ),
}


@pytest.fixture(scope="module")
def vllm_parts(tiny_model_dir: Path) -> dict[str, Any]:
    from vllm.entrypoints.openai.chat_completion.protocol import ChatCompletionRequest
    from vllm.tokenizers import get_tokenizer
    from vllm.tool_parsers import ToolParserManager

    ToolParserManager.import_tool_parser(str(PLUGIN_PATH))
    return {
        "parser_class": ToolParserManager.get_tool_parser("toolgrade"),
        "tokenizer": get_tokenizer(str(tiny_model_dir)),
        "request": ChatCompletionRequest(
            model="m", messages=[{"role": "user", "content": "weather?"}], tools=[WEATHER_TOOL]
        ),
    }


def _calls(tool_calls: list[Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(call.function.name, json.loads(call.function.arguments)) for call in tool_calls]


@pytest.mark.parametrize("text", list(CALL_TEXTS.values()), ids=list(CALL_TEXTS))
def test_calls_are_the_core_parsers(vllm_parts: dict[str, Any], text: str) -> None:
    parser = vllm_parts["parser_class"](vllm_parts["tokenizer"], vllm_parts["request"].tools)
    extracted = parser.extract_tool_calls(text, vllm_parts["request"])
    expected = parse_calls(text)
    assert extracted.tools_called
    assert _calls(extracted.tool_calls) == [
        (call.name, dict(call.arguments)) for call in expected.calls
    ]
    assert extracted.content == expected.content
    assert all(call.id.startswith("chatcmpl-tool-") for call in extracted.tool_calls)


@pytest.mark.parametrize("text", list(NO_CALL_TEXTS.values()), ids=list(NO_CALL_TEXTS))
def test_no_calls_leave_the_text_as_content(vllm_parts: dict[str, Any], text: str) -> None:
    parser = vllm_parts["parser_class"](vllm_parts["tokenizer"], vllm_parts["request"].tools)
    extracted = parser.extract_tool_calls(text, vllm_parts["request"])
    assert not extracted.tools_called
    assert extracted.tool_calls == []
    assert extracted.content == text
    assert not parse_calls(text).calls


def _stream(parts: dict[str, Any], text: str) -> list[Any]:
    """Feed ``text`` token by token, then the end-of-turn token, as vLLM's serving layer does."""
    tokenizer = parts["tokenizer"]
    parser = parts["parser_class"](tokenizer, parts["request"].tools)
    token_ids = [*tokenizer.encode(text), tokenizer.convert_tokens_to_ids("<|im_end|>")]
    previous_text = ""
    deltas = []
    for end in range(1, len(token_ids) + 1):
        current_text = tokenizer.decode(token_ids[:end], skip_special_tokens=True)
        delta = parser.extract_tool_calls_streaming(
            previous_text,
            current_text,
            current_text[len(previous_text) :],
            token_ids[: end - 1],
            token_ids[:end],
            token_ids[end - 1 : end],
            parts["request"],
        )
        if delta is not None:
            deltas.append(delta)
        previous_text = current_text
    return deltas


def _joined(deltas: list[Any]) -> tuple[str, list[dict[str, str]]]:
    content = "".join(delta.content or "" for delta in deltas)
    calls: dict[int, dict[str, str]] = {}
    for delta in deltas:
        for call in delta.tool_calls:
            joined = calls.setdefault(call.index, {"name": "", "arguments": ""})
            joined["name"] += call.function.name or ""
            joined["arguments"] += call.function.arguments or ""
    return content, [calls[index] for index in sorted(calls)]


def _whole(parts: dict[str, Any], text: str) -> tuple[str, list[dict[str, str]]]:
    parser = parts["parser_class"](parts["tokenizer"], parts["request"].tools)
    whole = parser.extract_tool_calls(text, parts["request"])
    calls = [
        {"name": call.function.name, "arguments": call.function.arguments}
        for call in whole.tool_calls
    ]
    return whole.content or "", calls


JOINABLE = {
    name: text
    for name, text in {**CALL_TEXTS, **NO_CALL_TEXTS}.items()
    if name != "later_block_malformed"
}


@pytest.mark.parametrize("text", list(JOINABLE.values()), ids=list(JOINABLE))
def test_joined_stream_equals_the_whole_answer(vllm_parts: dict[str, Any], text: str) -> None:
    assert _joined(_stream(vllm_parts, text)) == _whole(vllm_parts, text)


def test_a_call_streamed_before_a_malformed_block_cannot_be_taken_back(
    vllm_parts: dict[str, Any],
) -> None:
    """The one documented divergence: the whole answer has no calls (no partial credit), but
    the first block's call was already sent when it closed; the text follows as content."""
    text = NO_CALL_TEXTS["later_block_malformed"]
    content, calls = _joined(_stream(vllm_parts, text))
    assert _whole(vllm_parts, text) == (text, [])
    assert content == text
    assert calls == [{"name": "get_weather", "arguments": "{}"}]


def test_a_streamed_call_sends_name_and_id_before_its_arguments(
    vllm_parts: dict[str, Any],
) -> None:
    deltas = _stream(vllm_parts, CALL_TEXTS["hermes_parallel"])
    call_deltas = [call for delta in deltas for call in delta.tool_calls]
    assert [(call.index, call.id is not None, call.function.name) for call in call_deltas] == [
        (0, True, "get_weather"),
        (0, False, None),
        (1, True, "get_weather"),
        (1, False, None),
    ]
    # The first call goes out as soon as its block closes, before the second is generated.
    first_call_chunk = next(i for i, delta in enumerate(deltas) if delta.tool_calls)
    assert first_call_chunk < len(deltas) - 1
    assert deltas[0].content == "Sure."
