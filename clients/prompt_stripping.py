"""Cut the model's reply out of a decoded prompt + response, by the tokenizer's chat template.

RL frameworks often hand the reward the whole sequence: OpenRLHF's ``query`` is the prompt and
the response decoded together (special tokens kept), and the ToolRL / Tool-N1 forks of verl
decode prompt + response the same way. The prompt may itself contain tool calls (few-shot
examples, tool descriptions), so scoring the whole text would reward the prompt.

:class:`PromptStripper` learns two markers from the tokenizer's own chat template, for any
model family, by rendering probe conversations:

* the **generation header**: what ``add_generation_prompt=True`` appends after a user turn
  (``<|im_start|>assistant`` for ChatML, ``<|start_header_id|>assistant<|end_header_id|>`` for
  Llama 3, ``<start_of_turn>model`` for Gemma); a template without one (Mistral's
  ``[INST] … [/INST]``) gives the text that closes the user turn instead;
* the **end of turn**: what the template writes after an assistant message (``<|im_end|>``,
  ``<|eot_id|>``, ``</s>``, ``<end_of_turn>``), stripped from the reply's end together with
  the tokenizer's EOS and padding tokens.

The reply is the text after the prompt when the sequence starts with it, else the text after
the last generation header.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

# Plain words survive every template's filters (trim, escaping); nothing real contains them.
_USER_PROBE = "ToolgradeUserProbeText"
_REPLY_PROBE = "ToolgradeReplyProbeText"


class ResponseNotFoundError(ValueError):
    """The sequence neither starts with its prompt nor contains the generation header."""


@dataclass(frozen=True, slots=True)
class PromptStripper:
    """The reply markers of one chat template (see the module docstring).

    Attributes:
        generation_header: Text that opens the assistant's reply (whitespace-trimmed).
        end_markers: Texts that may close a reply: the template's end of turn, EOS, padding.
    """

    generation_header: str
    end_markers: tuple[str, ...] = ()

    @classmethod
    def from_tokenizer(cls, tokenizer: Any) -> PromptStripper:
        """Learn the markers from a ``transformers`` tokenizer's chat template.

        Args:
            tokenizer: Anything with ``apply_chat_template`` (and optionally ``eos_token``,
                ``pad_token``).

        Returns:
            The stripper for that template.

        Raises:
            ValueError: The template renders no text after a user turn.

        Example:
            >>> from transformers import PreTrainedTokenizerFast
            >>> from tokenizers import Tokenizer, models
            >>> chatml = PreTrainedTokenizerFast(
            ...     tokenizer_object=Tokenizer(models.WordLevel({"?": 0}, unk_token="?")),
            ...     eos_token="<|im_end|>",
            ...     chat_template="{% for m in messages %}<|im_start|>{{ m.role }}\\n"
            ...     "{{ m.content }}<|im_end|>\\n{% endfor %}"
            ...     "{% if add_generation_prompt %}<|im_start|>assistant\\n{% endif %}")
            >>> PromptStripper.from_tokenizer(chatml)
            PromptStripper(generation_header='<|im_start|>assistant', end_markers=('<|im_end|>',))
        """

        def render(messages: list[dict[str, str]], generation_prompt: bool) -> str:
            text = tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=generation_prompt
            )
            return str(text)

        user = [{"role": "user", "content": _USER_PROBE}]
        after_user = _after(render(user, generation_prompt=True), _USER_PROBE)
        closed_user = _after(render(user, generation_prompt=False), _USER_PROBE)
        # What the generation prompt adds beyond the closed user turn; a template that adds
        # nothing (Mistral) starts the reply right after the closed user turn.
        header = after_user[len(_common_prefix(after_user, closed_user)) :].strip()
        if not header:
            header = after_user.strip()
        if not header:
            raise ValueError("the chat template writes nothing between a user turn and a reply")
        markers: list[str] = []
        try:
            exchange = [*user, {"role": "assistant", "content": _REPLY_PROBE}]
            end_of_turn = _after(render(exchange, generation_prompt=False), _REPLY_PROBE).strip()
        except Exception:  # a template that refuses this exchange still has EOS
            end_of_turn = ""
        for token in (
            end_of_turn,
            getattr(tokenizer, "eos_token", None),
            getattr(tokenizer, "pad_token", None),
        ):
            if isinstance(token, str) and token.strip() and token.strip() not in markers:
                markers.append(token.strip())
        return cls(generation_header=header, end_markers=tuple(markers))

    def response(self, sequence: str, prompt: str | None = None) -> str:
        """The reply inside a decoded prompt + response.

        Args:
            sequence: Prompt and response decoded together (special tokens kept).
            prompt: The prompt text, when known: cut off when the sequence starts with it.

        Returns:
            The reply, without the template's end-of-turn, EOS or padding tokens.

        Raises:
            ResponseNotFoundError: The sequence neither starts with the prompt nor contains
                the generation header (guessing would score the prompt).

        Example:
            >>> stripper = PromptStripper("<|im_start|>assistant", ("<|im_end|>",))
            >>> stripper.response("<|im_start|>user\\nhi<|im_end|>\\n<|im_start|>assistant\\n"
            ...                   "Hello<|im_end|>")
            'Hello'
        """
        if prompt and sequence.startswith(prompt):
            reply = sequence[len(prompt) :]
        elif self.generation_header in sequence:
            reply = sequence.rsplit(self.generation_header, 1)[1]
        else:
            raise ResponseNotFoundError(
                f"the sequence neither starts with its prompt nor contains the chat template's "
                f"generation header {self.generation_header!r}"
            )
        return self._strip_end(reply.lstrip())

    def _strip_end(self, text: str) -> str:
        while True:
            trimmed = text.rstrip()
            marker = next((m for m in self.end_markers if trimmed.endswith(m)), None)
            if marker is None:
                return trimmed
            text = trimmed.removesuffix(marker)


@functools.lru_cache(maxsize=8)
def prompt_stripper_for(tokenizer_name: str) -> PromptStripper:
    """The :class:`PromptStripper` of a tokenizer by name or path (loaded once per process).

    Args:
        tokenizer_name: A local path or hub id ``transformers.AutoTokenizer`` can load.

    Returns:
        Its stripper.
    """
    from transformers import AutoTokenizer

    return PromptStripper.from_tokenizer(AutoTokenizer.from_pretrained(tokenizer_name))


def _after(text: str, probe: str) -> str:
    if probe not in text:
        raise ValueError(f"the chat template dropped the message text {probe!r}")
    return text.rsplit(probe, 1)[1]


def _common_prefix(left: str, right: str) -> str:
    length = 0
    for a, b in zip(left, right, strict=False):
        if a != b:
            break
        length += 1
    return left[:length]
