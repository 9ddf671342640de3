"""The generation engine protocol and the values that cross it.

Engines generate text from token ids; everything about chat templates, tools and tool-call
parsing lives in the serving layer (:mod:`service.serving`), so every engine — vLLM embedded
in the process, transformers as a fallback, a remote OpenAI-compatible server — is held to
the same prompt rendering and the same core parser.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from service.engine.tokenizer import ChatTokenizer

#: "stop": an end-of-turn token or a stop string; "length": ``max_tokens`` or the context ran out.
FinishReason = Literal["stop", "length"]


@dataclass(frozen=True, slots=True)
class SamplingOptions:
    """How to sample one request's completions.

    ``temperature == 0`` is greedy decoding. With a ``seed``, completion ``i`` of ``n`` uses
    ``seed + i`` (vLLM's convention), so one request's samples differ from each other while
    the same request repeats exactly. ``json_schema`` constrains the output to JSON matching
    the schema, ``structural_tag`` to an xgrammar structural tag (tagged JSON segments, such as
    ``<tool_call>`` blocks; engines that cannot do either say so in ``supports_json_schema``);
    ``banned_token_ids``
    are never sampled. ``logprobs`` asks for each generated token's log-probability and that
    many most likely alternatives (0: the sampled token's only; engines that cannot, say so in
    ``supports_logprobs``).
    """

    max_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int | None = None
    n: int = 1
    seed: int | None = None
    stop: tuple[str, ...] = ()
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    json_schema: Mapping[str, Any] | None = None
    structural_tag: Mapping[str, Any] | None = None
    banned_token_ids: tuple[int, ...] = ()
    logprobs: int | None = None


@dataclass(frozen=True, slots=True)
class TokenLogprob:
    """One generated token's log-probability, as the engine reports it.

    ``top`` lists ``(token, logprob)`` pairs in the engine's order (vLLM: the sampled token
    first, then the most likely alternatives by rank); a token is its decoded text.
    """

    token: str
    logprob: float
    top: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True, slots=True)
class Completion:
    """One finished completion of a request (``logprobs``: one per token when asked for)."""

    index: int
    text: str
    token_ids: tuple[int, ...]
    finish_reason: FinishReason
    logprobs: tuple[TokenLogprob, ...] | None = None

    @property
    def token_count(self) -> int:
        return len(self.token_ids)


@dataclass(frozen=True, slots=True)
class GenerationResult:
    """All ``n`` completions of a request, in index order."""

    prompt_token_count: int
    completions: tuple[Completion, ...]

    @property
    def completion_token_count(self) -> int:
        return sum(completion.token_count for completion in self.completions)


@dataclass(frozen=True, slots=True)
class CompletionDelta:
    """New text of completion ``index`` since its previous delta (streaming).

    ``finish_reason`` is set on the completion's last delta; ``token_count`` counts the
    completion's tokens so far; ``logprobs`` covers the delta's new tokens when asked for.
    """

    index: int
    text: str
    token_count: int
    finish_reason: FinishReason | None = None
    logprobs: tuple[TokenLogprob, ...] | None = None


@dataclass(frozen=True, slots=True)
class GenerationInput:
    """A tokenised prompt and how to continue it."""

    prompt_token_ids: tuple[int, ...]
    options: SamplingOptions
    adapter: str | None = None
    request_id: str = field(default="")


@runtime_checkable
class GenerationEngine(Protocol):
    """What the serving layer needs from a generation backend.

    Attributes:
        model_name: The base model's served name (first in :meth:`served_models`).
        tokenizer: Renders chat templates and counts tokens for this model.
        max_model_len: Context length (prompt plus completion) in tokens.
        supports_json_schema: Whether ``SamplingOptions.json_schema`` is enforced.
        supports_logprobs: Whether ``SamplingOptions.logprobs`` is honoured.
        kind: ``"vllm"``, ``"transformers"`` or ``"remote"`` (reported by ``/ready``).
    """

    model_name: str
    tokenizer: ChatTokenizer
    max_model_len: int
    supports_json_schema: bool
    supports_logprobs: bool
    kind: str

    def served_models(self) -> list[str]:
        """The base model's name first, then every LoRA adapter's name."""
        ...

    def resolve_adapter(self, model: str | None) -> str | None:
        """The adapter a request's ``model`` names (None: the base model).

        Raises:
            UnknownModelError: ``model`` is neither the base model nor a loaded adapter.
        """
        ...

    async def generate(self, request: GenerationInput) -> GenerationResult:
        """Generate all completions of a request."""
        ...

    def stream(self, request: GenerationInput) -> AsyncIterator[CompletionDelta]:
        """Generate, yielding text deltas as they are decoded (interleaved across ``n``)."""
        ...

    async def close(self) -> None:
        """Release the engine (processes, memory). Idempotent."""
        ...
