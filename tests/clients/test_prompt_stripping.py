"""Reply extraction by the tokenizer's chat template, for ChatML, Llama 3, Mistral, Gemma and
the real Qwen3 template of the project's tiny model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clients.prompt_stripping import PromptStripper, ResponseNotFoundError, prompt_stripper_for
from tests.clients.chat_templates import (
    FAMILIES,
    end_of_reply,
    prompt_text,
    saved_template_tokenizer,
    template_tokenizer,
)

# A prompt that shows an example call: scoring the whole text would reward it.
EXAMPLE_CALL = '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>'
QUESTION = f"Tools: get_weather(city). Example: {EXAMPLE_CALL} Now: weather in Oslo?"
REPLY = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>'
HEADERS = {
    "chatml": "<|im_start|>assistant",
    "llama3": "<|start_header_id|>assistant<|end_header_id|>",
    "mistral": "[/INST]",
    "gemma": "<start_of_turn>model",
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_each_family_yields_the_reply_without_the_prompt(family: str) -> None:
    tokenizer = template_tokenizer(family)
    stripper = PromptStripper.from_tokenizer(tokenizer)
    assert stripper.generation_header == HEADERS[family]
    prompt = prompt_text(tokenizer, [{"role": "user", "content": QUESTION}])
    sequence = prompt + REPLY + end_of_reply(family)
    # Without the prompt (it was re-tokenised, or the trainer does not pass it) ...
    assert stripper.response(sequence) == REPLY
    # ... and with it.
    assert stripper.response(sequence, prompt) == REPLY
    # A reply cut off before its end-of-turn token (max_tokens) is kept as it is.
    assert stripper.response(prompt + REPLY[:20]) == REPLY[:20]


def test_multi_turn_prompts_use_the_last_generation_header() -> None:
    tokenizer = template_tokenizer("llama3")
    stripper = PromptStripper.from_tokenizer(tokenizer)
    history = [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": EXAMPLE_CALL},
        {"role": "user", "content": "And Oslo?"},
    ]
    sequence = prompt_text(tokenizer, history) + REPLY + "<|eot_id|>"
    assert stripper.response(sequence) == REPLY


def test_the_real_qwen3_template(tiny_model_dir: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    stripper = prompt_stripper_for(str(tiny_model_dir))
    assert stripper.generation_header == "<|im_start|>assistant"
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]
    prompt = str(
        tokenizer.apply_chat_template(
            [{"role": "user", "content": QUESTION}],
            tools=tools,
            tokenize=False,
            add_generation_prompt=True,
            enable_thinking=False,
        )
    )
    reply = stripper.response(prompt + REPLY + "<|im_end|>")
    # Qwen3 without thinking opens the reply with an empty think block; the parser skips it.
    assert reply.endswith(REPLY)
    assert "Paris" not in reply
    assert json.loads(reply.split("<tool_call>")[1].split("</tool_call>")[0])["arguments"] == {
        "city": "Oslo"
    }


def test_a_sequence_without_prompt_or_header_is_refused() -> None:
    stripper = PromptStripper.from_tokenizer(template_tokenizer("gemma"))
    with pytest.raises(ResponseNotFoundError, match="generation header"):
        stripper.response(f"just text with {EXAMPLE_CALL}")


def test_a_saved_tokenizer_loads_by_path(tmp_path: Path) -> None:
    path = saved_template_tokenizer("mistral", tmp_path)
    assert prompt_stripper_for(str(path)).generation_header == "[/INST]"
