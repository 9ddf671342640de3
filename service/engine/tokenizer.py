"""The model's tokenizer and chat template, shared by every engine.

Prompts are rendered and tokenised here, once, whatever engine generates: the embedded vLLM
engine, the transformers fallback and a remote server all see the same token ids for the same
messages, and the serving layer knows the prompt length before anything is queued.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from service.core.parsing.hermes import TOOL_CALL_OPEN
from service.engine.errors import InvalidChatRequestError

logger = logging.getLogger("toolgrade.engine")


class ChatTokenizer:
    """A Hugging Face tokenizer with its chat template.

    Args:
        tokenizer: A ``transformers`` tokenizer (``AutoTokenizer.from_pretrained``).
    """

    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer = tokenizer
        template = tokenizer.chat_template
        self.chat_template: str | None = template if isinstance(template, str) else None
        # A template that mentions the Hermes opening tag expects calls in Hermes blocks.
        self.writes_hermes_tool_calls = (
            self.chat_template is not None and TOOL_CALL_OPEN in self.chat_template
        )
        self.supports_thinking_switch = (
            self.chat_template is not None and "enable_thinking" in self.chat_template
        )

    @classmethod
    def load(cls, model: str) -> ChatTokenizer:
        """Load the tokenizer of a local checkpoint (or a hub id already in the local cache)."""
        from transformers import AutoTokenizer

        return cls(AutoTokenizer.from_pretrained(model))

    @property
    def hf_tokenizer(self) -> Any:
        """The wrapped ``transformers`` tokenizer."""
        return self._tokenizer

    def render_chat(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        tools: Sequence[Mapping[str, Any]] | None = None,
        enable_thinking: bool | None = None,
        add_generation_prompt: bool = True,
    ) -> str:
        """The prompt text for ``messages`` (OpenAI chat format) and ``tools``.

        ``enable_thinking`` is passed to templates that read it (Qwen3: ``False`` pre-fills an
        empty ``<think>`` block); ``None`` keeps the template's default.

        Raises:
            InvalidChatRequestError: The model has no chat template, or the template rejects
                the conversation (e.g. roles out of order).
        """
        if self.chat_template is None:
            raise InvalidChatRequestError(
                "this model has no chat template: send a raw 'prompt' to /generate instead",
                label="request:no_chat_template",
                param="messages",
            )
        template_kwargs: dict[str, Any] = {}
        if enable_thinking is not None:
            template_kwargs["enable_thinking"] = enable_thinking
        try:
            rendered = self._tokenizer.apply_chat_template(
                [dict(message) for message in messages],
                tools=[dict(tool) for tool in tools] if tools else None,
                tokenize=False,
                add_generation_prompt=add_generation_prompt,
                **template_kwargs,
            )
        except Exception as exc:  # jinja errors, template raise_exception(), bad structures
            raise InvalidChatRequestError(
                f"the chat template rejected these messages: {exc}",
                label="request:invalid_messages",
                param="messages",
            ) from exc
        return str(rendered)

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` as the model reads it (no BOS/EOS added; Qwen has none)."""
        return list(self._tokenizer.encode(text, add_special_tokens=False))

    def decode(self, token_ids: Sequence[int]) -> str:
        """Text of ``token_ids``, special tokens (end of turn) dropped."""
        return str(self._tokenizer.decode(list(token_ids), skip_special_tokens=True))

    def single_token_id(self, text: str) -> int | None:
        """The id of ``text`` when it is exactly one token of the vocabulary, else None."""
        ids = self.encode(text)
        return ids[0] if len(ids) == 1 else None

    @property
    def eos_token_ids(self) -> tuple[int, ...]:
        """Ids that end a turn: the tokenizer's EOS plus the common chat end markers present."""
        ids = {self._tokenizer.eos_token_id} - {None}
        for marker in ("<|im_end|>", "<|endoftext|>"):
            token_id = self._tokenizer.convert_tokens_to_ids(marker)
            if isinstance(token_id, int) and token_id != self._tokenizer.unk_token_id:
                ids.add(token_id)
        return tuple(sorted(ids))
