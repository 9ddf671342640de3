"""Tokenizers with the chat templates of four model families, built offline.

The templates keep each family's turn markers (what reply extraction depends on): ChatML
(Qwen 2.5 and others), Llama 3, Mistral ``[INST]`` and Gemma. The vocabulary is a stub: only
``apply_chat_template(tokenize=False)`` is used.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

CHATML = (
    "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>'"
    " + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}"
    "{% endif %}"
)
LLAMA3 = (
    "{{ bos_token }}{% for m in messages %}{{ '<|start_header_id|>' + m['role'] + "
    "'<|end_header_id|>\\n\\n' + m['content'] | trim + '<|eot_id|>' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}"
    "{% endif %}"
)
MISTRAL = (
    "{{ bos_token }}{% set ns = namespace(system='') %}{% for m in messages %}"
    "{% if m['role'] == 'system' %}{% set ns.system = m['content'] + '\\n\\n' %}"
    "{% elif m['role'] == 'user' %}{{ '[INST] ' + ns.system + m['content'] + ' [/INST]' }}"
    "{% set ns.system = '' %}{% else %}{{ m['content'] + eos_token }}{% endif %}{% endfor %}"
)
GEMMA = (
    "{{ bos_token }}{% for m in messages %}"
    "{% if m['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}"
    "{% set role = 'model' if m['role'] == 'assistant' else m['role'] %}"
    "{{ '<start_of_turn>' + role + '\\n' + m['content'] | trim + '<end_of_turn>\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<start_of_turn>model\\n' }}{% endif %}"
)

# family -> (template, bos, eos, end of an assistant turn as the model emits it)
FAMILIES: dict[str, tuple[str, str, str, str]] = {
    "chatml": (CHATML, "", "<|im_end|>", "<|im_end|>"),
    "llama3": (LLAMA3, "<|begin_of_text|>", "<|eot_id|>", "<|eot_id|>"),
    "mistral": (MISTRAL, "<s>", "</s>", "</s>"),
    "gemma": (GEMMA, "<bos>", "<eos>", "<end_of_turn>"),
}


def template_tokenizer(family: str) -> Any:
    """A ``PreTrainedTokenizerFast`` with ``family``'s chat template and special tokens."""
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    template, bos, eos, _ = FAMILIES[family]
    return PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer(models.WordLevel({"[UNK]": 0}, unk_token="[UNK]")),
        bos_token=bos or None,
        eos_token=eos,
        pad_token=eos,
        chat_template=template,
    )


def saved_template_tokenizer(family: str, directory: Path) -> Path:
    """``family``'s tokenizer saved under ``directory`` (loadable by ``AutoTokenizer``)."""
    path = directory / f"{family}-tokenizer"
    template_tokenizer(family).save_pretrained(path)
    return path


def prompt_text(tokenizer: Any, messages: list[dict[str, str]]) -> str:
    """The prompt as the trainer renders it: the template with the generation prompt."""
    return str(tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))


def end_of_reply(family: str) -> str:
    """What the model emits after its reply (decoded with special tokens kept)."""
    return FAMILIES[family][3]
