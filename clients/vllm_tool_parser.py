"""A tool-call parser for stock vLLM built on ToolGrade's core parser.

Load it into vLLM's OpenAI server (no ToolGrade server needed)::

    vllm serve Qwen/Qwen3-0.6B --enable-auto-tool-choice \\
        --tool-parser-plugin clients/vllm_tool_parser.py --tool-call-parser toolgrade

The server's ``tool_calls`` are then exactly the calls
:func:`service.core.parsing.parse_calls` finds, the same function ``/score`` and ``/reward``
use: Hermes ``<tool_call>`` blocks, bare JSON, JSON in prose or a fence, Python call syntax.
Where vLLM's Hermes parser turns any malformed block into silent content, this parser does the
same on the wire (OpenAI's shape has no field for it) but logs the ``parse:*`` label.

``tool_choice="required"`` and named choices keep vLLM's Hermes grammar (the parser subclasses
vLLM's Hermes parser for its request adjustments and structural tag); only reading the output
changes.

Streaming: content is sent as soon as no later text can turn it into a call
(:func:`service.core.parsing.streaming.settled_content`); each call is
sent once its ``<tool_call>`` block is closed and every block so far parses — its name and id
in one delta, its arguments in the next, as vLLM streams them. The rest (calls in other forms,
held-back text) is settled when the last token is an end-of-turn token or ``max_tokens`` is
reached. vLLM gives a tool parser no end-of-stream signal, so text held back when generation
stops on a stop string, or at ``max_tokens`` after reasoning (vLLM then hides the reasoning
tokens from the tool parser), is not streamed; and content that starts with whitespace and
precedes a call keeps that whitespace when streamed (the non-streamed content is stripped).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from vllm.entrypoints.generate.base.protocol import (
    DeltaFunctionCall,
    DeltaMessage,
    DeltaToolCall,
    ExtractedToolCallInformation,
    FunctionCall,
    ToolCall,
)
from vllm.renderers.chat_utils import make_tool_call_id
from vllm.tool_parsers.abstract_tool_parser import ToolParserManager
from vllm.tool_parsers.hermes_tool_parser import Hermes2ProToolParser

from service.core.parsing import parse_calls
from service.core.parsing.hermes import TOOL_CALL_CLOSE
from service.core.parsing.streaming import arguments_json, settled_content
from service.core.types import ToolCall as CoreToolCall

__all__ = ["PARSER_NAME", "ToolGradeToolParser"]

#: The name to pass as ``--tool-call-parser``.
PARSER_NAME = "toolgrade"

logger = logging.getLogger("toolgrade.vllm_tool_parser")

# Chat-template turn ends that finish a completion (their text is not in the output).
_END_OF_TURN_TOKENS = ("<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end|>")


class ToolGradeToolParser(Hermes2ProToolParser):
    """vLLM's tool-parser interface over :func:`service.core.parsing.parse_calls`."""

    def __init__(self, tokenizer: Any, tools: Any = None) -> None:
        super().__init__(tokenizer, tools)
        vocab = self.vocab
        end_ids = {vocab[token] for token in _END_OF_TURN_TOKENS if token in vocab}
        eos = getattr(self.model_tokenizer, "eos_token_id", None)
        if isinstance(eos, int):
            end_ids.add(eos)
        self._end_token_ids = frozenset(end_ids)
        # Streaming state: content and calls already sent, tokens seen.
        self._sent_content = ""
        self._sent_calls: list[CoreToolCall] = []
        self._tokens_seen = 0

    def extract_tool_calls(self, model_output: str, request: Any) -> ExtractedToolCallInformation:
        """Calls and content of a whole completion, as ToolGrade scores it."""
        result = parse_calls(model_output)
        if not result.calls:
            if result.error is not None:
                logger.warning("no tool calls: %s", result.error)
            return ExtractedToolCallInformation(
                tools_called=False, tool_calls=[], content=model_output
            )
        return ExtractedToolCallInformation(
            tools_called=True,
            tool_calls=[
                ToolCall(
                    function=FunctionCall(name=call.name, arguments=arguments_json(call.arguments))
                )
                for call in result.calls
            ],
            content=result.content,
        )

    def extract_tool_calls_streaming(
        self,
        previous_text: str,
        current_text: str,
        delta_text: str,
        previous_token_ids: Sequence[int],
        current_token_ids: Sequence[int],
        delta_token_ids: Sequence[int],
        request: Any,
    ) -> DeltaMessage | None:
        """Content that is safe to send, and calls whose blocks have closed."""
        self._tokens_seen += len(delta_token_ids)
        if self._finished(delta_token_ids, request):
            return self._settle(current_text)
        content = self._new_content(settled_content(current_text))
        closed = current_text.rfind(TOOL_CALL_CLOSE)
        calls: list[CoreToolCall] = []
        if closed >= 0:
            result = parse_calls(current_text[: closed + len(TOOL_CALL_CLOSE)])
            calls = list(result.calls)
        return self._message(content, calls)

    def _finished(self, delta_token_ids: Sequence[int], request: Any) -> bool:
        if delta_token_ids and delta_token_ids[-1] in self._end_token_ids:
            return True
        stop_ids = getattr(request, "stop_token_ids", None) or ()
        if delta_token_ids and delta_token_ids[-1] in stop_ids:
            return True
        limit = getattr(request, "max_completion_tokens", None) or getattr(
            request, "max_tokens", None
        )
        return isinstance(limit, int) and self._tokens_seen >= limit

    def _settle(self, text: str) -> DeltaMessage | None:
        """The end of the completion: everything not yet sent."""
        final = self.extract_tool_calls(text, request=None)
        content = self._new_content(final.content or "")
        calls = [
            CoreToolCall(name=call.function.name, arguments=json.loads(call.function.arguments))
            for call in final.tool_calls
        ]
        return self._message(content, calls)

    def _new_content(self, content: str) -> str:
        if not content.startswith(self._sent_content):
            return ""
        new = content[len(self._sent_content) :]
        self._sent_content = content
        return new

    def _message(self, content: str, calls: list[CoreToolCall]) -> DeltaMessage | None:
        deltas: list[DeltaToolCall] = []
        if calls[: len(self._sent_calls)] == self._sent_calls:
            for index in range(len(self._sent_calls), len(calls)):
                call = calls[index]
                deltas.append(
                    DeltaToolCall(
                        index=index,
                        type="function",
                        id=make_tool_call_id(),
                        function=DeltaFunctionCall(name=call.name),
                    )
                )
                deltas.append(
                    DeltaToolCall(
                        index=index,
                        function=DeltaFunctionCall(arguments=arguments_json(call.arguments)),
                    )
                )
                self._record_sent(call)
        if not content and not deltas:
            return None
        return DeltaMessage(content=content or None, tool_calls=deltas)

    def _record_sent(self, call: CoreToolCall) -> None:
        self._sent_calls.append(call)
        # vLLM reads these to top up the last call's arguments at the end of a stream.
        self.prev_tool_call_arr.append(
            {"name": call.name, "arguments": arguments_json(call.arguments)}
        )
        self.streamed_args_for_tool.append(arguments_json(call.arguments))
        self.current_tool_id = len(self._sent_calls) - 1


ToolParserManager.register_module(name=PARSER_NAME, module=ToolGradeToolParser)
