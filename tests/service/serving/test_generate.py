"""``/generate`` through the serving layer on scripted engine output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.core.errors import InvalidToolSchemaError
from service.engine.tokenizer import ChatTokenizer
from service.protocol.generate import GenerateRequest
from service.serving.generate import GenerateService
from tests.service.serving.scripted_engine import ScriptedEngine

XLAM_TOOLS = json.dumps(
    [
        {
            "name": "add",
            "description": "Add",
            "parameters": {"a": {"type": "int"}, "b": {"type": "int"}},
        }
    ]
)
ADD_CALL = '<tool_call>\n{"name": "add", "arguments": {"a": 1, "b": 2}}\n</tool_call>'


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir: Path) -> ChatTokenizer:
    return ChatTokenizer.load(str(tiny_model_dir))


async def test_raw_prompt_outputs_come_back_parsed(tokenizer: ChatTokenizer) -> None:
    engine = ScriptedEngine(tokenizer, replies=["<think>sum</think>\n" + ADD_CALL, "3"])
    request = GenerateRequest(prompt="1+2?", n=2, temperature=0.8, return_token_ids=True)
    response = await GenerateService(engine).generate(request)
    call_output, text_output = response.outputs
    assert call_output.finish_reason == "tool_calls"
    assert [(c.name, c.arguments) for c in call_output.tool_calls] == [("add", {"a": 1, "b": 2})]
    assert (call_output.reasoning, call_output.content) == ("sum", None)
    assert call_output.token_ids == tokenizer.encode("<think>sum</think>\n" + ADD_CALL)
    assert (text_output.content, text_output.tool_calls, text_output.finish_reason) == (
        "3",
        [],
        "stop",
    )
    assert list(engine.requests[-1].prompt_token_ids) == tokenizer.encode("1+2?")  # no template
    assert response.usage.prompt_tokens == len(tokenizer.encode("1+2?"))
    assert response.model == "scripted"


async def test_messages_with_xlam_tools_as_a_json_string(tokenizer: ChatTokenizer) -> None:
    engine = ScriptedEngine(tokenizer, replies=[ADD_CALL])
    request = GenerateRequest(
        messages=[{"role": "user", "content": "1+2?"}], tools=XLAM_TOOLS, lora="scripted-lora"
    )
    (output,) = (await GenerateService(engine).generate(request)).outputs
    assert output.tool_calls[0].arguments == {"a": 1, "b": 2}
    assert output.token_ids is None
    prompt = tokenizer.hf_tokenizer.decode(list(engine.requests[-1].prompt_token_ids))
    rendered_tool = json.loads(prompt.split("<tools>\n")[1].split("\n</tools>")[0])
    assert rendered_tool["function"]["name"] == "add"
    assert rendered_tool["function"]["parameters"]["required"] == ["a", "b"]
    assert engine.requests[-1].adapter == "scripted-lora"


async def test_malformed_markup_is_labelled_not_hidden(tokenizer: ChatTokenizer) -> None:
    engine = ScriptedEngine(
        tokenizer, replies=['<tool_call>\n{"name": "add", "arguments": {"a": 1']
    )
    (output,) = (await GenerateService(engine).generate(GenerateRequest(prompt="x"))).outputs
    assert output.tool_calls == []
    assert output.parse_error == "parse:unterminated_tool_call"
    assert output.finish_reason == "stop"


async def test_tools_that_are_not_tools_are_refused(tokenizer: ChatTokenizer) -> None:
    engine = ScriptedEngine(tokenizer, replies=["x"])
    request = GenerateRequest(messages=[{"role": "user", "content": "hi"}], tools="not json")
    with pytest.raises(InvalidToolSchemaError):
        await GenerateService(engine).generate(request)
    assert engine.requests == []
