"""A generation engine that answers with scripted text: the serving layer's logic (tool-call
parsing, tool_choice plans, streaming) tested deterministically, with the real Qwen3 tokenizer
and chat template of the tiny model."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from service.engine.base import (
    Completion,
    CompletionDelta,
    FinishReason,
    GenerationInput,
    GenerationResult,
    TokenLogprob,
)
from service.engine.errors import UnknownModelError
from service.engine.tokenizer import ChatTokenizer


@dataclass
class ScriptedEngine:
    """Returns ``replies[i]`` as completion ``i`` (cycled for larger ``n``).

    ``requests`` records every :class:`GenerationInput` it was given; streaming yields each
    reply in ``piece_size``-character deltas. Asked for logprobs, token ``i`` of a reply gets
    log-probability ``-i / 10`` and alternatives ``"alt0"``, ``"alt1"``... below it.
    """

    tokenizer: ChatTokenizer
    replies: Sequence[str] = ("",)
    finish_reason: FinishReason = "stop"
    supports_json_schema: bool = True
    supports_logprobs: bool = True
    max_model_len: int = 2048
    model_name: str = "scripted"
    adapters: tuple[str, ...] = ("scripted-lora",)
    piece_size: int = 3
    kind: str = "scripted"
    requests: list[GenerationInput] = field(default_factory=list)
    closed: bool = False

    def served_models(self) -> list[str]:
        return [self.model_name, *self.adapters]

    def resolve_adapter(self, model: str | None) -> str | None:
        if not model or model == self.model_name:
            return None
        if model in self.adapters:
            return model
        raise UnknownModelError(
            f"unknown model {model!r}", label="request:unknown_model", param="model"
        )

    def _reply(self, index: int) -> str:
        return self.replies[index % len(self.replies)]

    def _token_count(self, text: str) -> int:
        return len(self.tokenizer.encode(text))

    def _logprobs(self, text: str, request: GenerationInput, first: int = 0) -> Any:
        alternatives = request.options.logprobs
        if alternatives is None:
            return None
        token_ids = self.tokenizer.encode(text)
        logprobs = []
        for position, token_id in enumerate(token_ids, start=first):
            token = self.tokenizer.decode([token_id])
            chosen = -position / 10
            top = [(token, chosen)] + [
                (f"alt{rank}", chosen - 1 - rank) for rank in range(alternatives)
            ]
            logprobs.append(TokenLogprob(token=token, logprob=chosen, top=tuple(top)))
        return tuple(logprobs)

    async def generate(self, request: GenerationInput) -> GenerationResult:
        self.requests.append(request)
        completions = tuple(
            Completion(
                index=index,
                text=self._reply(index),
                token_ids=tuple(self.tokenizer.encode(self._reply(index))),
                finish_reason=self.finish_reason,
                logprobs=self._logprobs(self._reply(index), request),
            )
            for index in range(request.options.n)
        )
        return GenerationResult(len(request.prompt_token_ids), completions)

    async def stream(self, request: GenerationInput) -> AsyncIterator[CompletionDelta]:
        self.requests.append(request)
        for index in range(request.options.n):
            reply = self._reply(index)
            pieces = [reply[i : i + self.piece_size] for i in range(0, len(reply), self.piece_size)]
            tokens_sent = 0
            for position, piece in enumerate(pieces or [""]):
                last = position == max(len(pieces) - 1, 0)
                logprobs = self._logprobs(piece, request, first=tokens_sent)
                tokens_sent += len(logprobs or ())
                yield CompletionDelta(
                    index=index,
                    text=piece,
                    token_count=self._token_count(reply[: (position + 1) * self.piece_size]),
                    finish_reason=self.finish_reason if last else None,
                    logprobs=logprobs,
                )

    async def close(self) -> None:
        self.closed = True
