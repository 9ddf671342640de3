"""The real vLLM engine (the shared ``engine_server``) against transformers and PEFT.

The tiny model runs in float32 in both, so greedy decoding must pick the same tokens; a
LoRA adapter with random non-zero ``B`` must change them, exactly as PEFT's adapter does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.models import TINY_LORA_NAME, requires_vllm

pytestmark = [requires_vllm, pytest.mark.slow]

MAX_NEW_TOKENS = 12
PROMPTS = [
    "Hello, my name is",
    "def fibonacci(n):\n",
    "Le temps à Paris aujourd'hui est",
]
MESSAGES = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "What is the weather in Paris?"},
]


def _generate(server: Any, **body: Any) -> dict[str, Any]:
    response = httpx.post(
        f"{server.base_url}/generate", json={"return_token_ids": True, **body}, timeout=120
    )
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture(scope="module")
def hf_tokenizer(tiny_model_dir: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


@pytest.fixture(scope="module")
def hf_model(tiny_model_dir: Path) -> Any:
    import torch
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32).eval()


def _greedy(model: Any, prompt_ids: list[int]) -> list[int]:
    import torch

    with torch.no_grad():
        output = model.generate(
            torch.tensor([prompt_ids]), max_new_tokens=MAX_NEW_TOKENS, do_sample=False
        )
    return output[0, len(prompt_ids) :].tolist()


def test_greedy_decoding_equals_transformers(
    engine_server: Any, hf_tokenizer: Any, hf_model: Any
) -> None:
    for prompt in PROMPTS:
        output = _generate(engine_server, prompt=prompt, max_tokens=MAX_NEW_TOKENS, temperature=0)
        expected = _greedy(hf_model, hf_tokenizer.encode(prompt))
        (completion,) = output["outputs"]
        assert completion["token_ids"] == expected, prompt
        assert completion["text"] == hf_tokenizer.decode(expected, skip_special_tokens=True)
        assert completion["finish_reason"] == "length"
        assert len(set(expected)) > 1  # a real continuation, not one token repeated
        assert output["usage"] == {
            "prompt_tokens": len(hf_tokenizer.encode(prompt)),
            "completion_tokens": MAX_NEW_TOKENS,
            "total_tokens": len(hf_tokenizer.encode(prompt)) + MAX_NEW_TOKENS,
        }


def test_chat_messages_use_the_chat_template(
    engine_server: Any, hf_tokenizer: Any, hf_model: Any
) -> None:
    output = _generate(engine_server, messages=MESSAGES, max_tokens=MAX_NEW_TOKENS, temperature=0)
    prompt_ids = hf_tokenizer.apply_chat_template(
        MESSAGES, add_generation_prompt=True, tokenize=True, return_dict=False
    )
    assert output["usage"]["prompt_tokens"] == len(prompt_ids)
    assert output["outputs"][0]["token_ids"] == _greedy(hf_model, list(prompt_ids))


def test_lora_adapter_changes_the_output_as_peft_does(
    engine_server: Any, hf_tokenizer: Any, tiny_model_dir: Path, tiny_lora_dir: Path
) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    adapted = PeftModel.from_pretrained(base, tiny_lora_dir).eval()
    for prompt in PROMPTS[:2]:
        prompt_ids = hf_tokenizer.encode(prompt)
        with_lora = _generate(
            engine_server,
            prompt=prompt,
            max_tokens=MAX_NEW_TOKENS,
            temperature=0,
            lora=TINY_LORA_NAME,
        )
        without = _generate(engine_server, prompt=prompt, max_tokens=MAX_NEW_TOKENS, temperature=0)
        lora_ids = with_lora["outputs"][0]["token_ids"]
        assert with_lora["model"] == TINY_LORA_NAME
        assert lora_ids != without["outputs"][0]["token_ids"]
        assert lora_ids == _greedy(adapted, prompt_ids), prompt


def test_seeds_repeat_and_n_samples_differ(engine_server: Any) -> None:
    request = {"prompt": PROMPTS[0], "max_tokens": 8, "temperature": 1.0, "n": 3, "seed": 1234}
    first = [c["text"] for c in _generate(engine_server, **request)["outputs"]]
    again = [c["text"] for c in _generate(engine_server, **request)["outputs"]]
    other_seed = [c["text"] for c in _generate(engine_server, **{**request, "seed": 99})["outputs"]]
    assert len(first) == 3
    assert again == first  # same seed: same samples
    assert len(set(first)) == 3  # the n samples of one request differ
    assert other_seed != first
    # Completion i of a seeded request is the single completion seeded with seed + i.
    second_alone = _generate(engine_server, **{**request, "n": 1, "seed": 1235})["outputs"][0]
    assert second_alone["text"] == first[1]
