"""The fallback engine: ``transformers`` ``generate``, used only when vLLM cannot be imported.

One request at a time in a worker thread (the event loop stays free), no structured outputs
(``tool_choice`` required/named fall back to a forced prefix) and no LoRA adapters; streaming
delivers each completion in one piece when it is done. Correct, several times slower than vLLM:
the factory logs a warning when it is chosen.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

from service.config import Settings
from service.engine.base import (
    Completion,
    CompletionDelta,
    FinishReason,
    GenerationInput,
    GenerationResult,
    SamplingOptions,
)
from service.engine.errors import EngineConfigurationError, UnknownModelError
from service.engine.tokenizer import ChatTokenizer

logger = logging.getLogger("toolgrade.engine")


class TransformersEngine:
    """Generation with a ``transformers`` causal LM on CPU (or the first CUDA device)."""

    kind = "transformers"
    supports_json_schema = False
    supports_logprobs = False

    def __init__(
        self,
        model: Any,
        *,
        model_name: str,
        model_path: str,
        tokenizer: ChatTokenizer,
        max_model_len: int,
    ) -> None:
        self._model = model
        self.model_name = model_name
        self._model_aliases = {model_name, model_path}
        self.tokenizer = tokenizer
        self.max_model_len = max_model_len
        self._lock = asyncio.Lock()

    @classmethod
    async def create(
        cls, settings: Settings, model_path: str, model_name: str
    ) -> TransformersEngine:
        """Load the model and tokenizer (in a worker thread)."""
        if settings.lora_modules:
            raise EngineConfigurationError(
                "LoRA adapters are served by the vLLM engine only; install vLLM or merge the "
                "adapter (toolgrade merge)"
            )
        return await asyncio.to_thread(cls._load, settings, model_path, model_name)

    @classmethod
    def _load(cls, settings: Settings, model_path: str, model_name: str) -> TransformersEngine:
        import torch
        from transformers import AutoModelForCausalLM

        dtype = "auto" if settings.dtype == "auto" else getattr(torch, settings.dtype)
        model = AutoModelForCausalLM.from_pretrained(model_path, dtype=dtype).eval()
        if torch.cuda.is_available():
            model = model.to("cuda")
        context = getattr(model.config, "max_position_embeddings", None) or settings.max_model_len
        logger.info("transformers engine ready", extra={"model": model_name})
        return cls(
            model,
            model_name=model_name,
            model_path=model_path,
            tokenizer=ChatTokenizer.load(model_path),
            max_model_len=min(settings.max_model_len, int(context)),
        )

    def served_models(self) -> list[str]:
        return [self.model_name]

    def resolve_adapter(self, model: str | None) -> str | None:
        if not model or model in self._model_aliases:
            return None
        raise UnknownModelError(
            f"model {model!r} is not served here; available: {self.model_name}",
            label="request:unknown_model",
            param="model",
        )

    async def generate(self, request: GenerationInput) -> GenerationResult:
        """Generate the ``n`` completions one after another (seed ``seed + i`` for the i-th)."""
        async with self._lock:
            completions = await asyncio.to_thread(self._generate_all, request)
        return GenerationResult(len(request.prompt_token_ids), tuple(completions))

    async def stream(self, request: GenerationInput) -> AsyncIterator[CompletionDelta]:
        """Each completion as one delta, once generated."""
        result = await self.generate(request)
        for completion in result.completions:
            yield CompletionDelta(
                index=completion.index,
                text=completion.text,
                token_count=completion.token_count,
                finish_reason=completion.finish_reason,
            )

    async def close(self) -> None:
        self._model = None

    def _generate_all(self, request: GenerationInput) -> list[Completion]:
        return [self._generate_one(request, index) for index in range(request.options.n)]

    def _generate_one(self, request: GenerationInput, index: int) -> Completion:
        import torch

        options = request.options
        if options.seed is not None:
            torch.manual_seed(options.seed + index)
        device = next(self._model.parameters()).device
        prompt = torch.tensor([list(request.prompt_token_ids)], device=device)
        stop_ids = set(self.tokenizer.eos_token_ids)
        with torch.no_grad():
            output = self._model.generate(
                prompt,
                attention_mask=torch.ones_like(prompt),
                **_generation_kwargs(options, self.tokenizer, sorted(stop_ids)),
            )
        new_ids = output[0, prompt.shape[1] :].tolist()
        finish: FinishReason = "stop" if new_ids and new_ids[-1] in stop_ids else "length"
        text = self.tokenizer.decode(new_ids)
        for stop in options.stop:
            cut = text.find(stop)
            if cut != -1:  # transformers keeps the stop string; OpenAI semantics drop it
                text, finish = text[:cut], "stop"
        return Completion(index=index, text=text, token_ids=tuple(new_ids), finish_reason=finish)


def _generation_kwargs(
    options: SamplingOptions, tokenizer: ChatTokenizer, stop_ids: list[int]
) -> dict[str, Any]:
    sampling = options.temperature > 0
    kwargs: dict[str, Any] = {
        "max_new_tokens": options.max_tokens,
        "do_sample": sampling,
        "eos_token_id": stop_ids,
        "pad_token_id": stop_ids[0] if stop_ids else None,
    }
    if sampling:
        kwargs.update(temperature=options.temperature, top_p=options.top_p, top_k=options.top_k)
    else:
        kwargs.update(temperature=None, top_p=None, top_k=None)
    if options.stop:
        kwargs.update(stop_strings=list(options.stop), tokenizer=tokenizer.hf_tokenizer)
    if options.banned_token_ids:
        kwargs["bad_words_ids"] = [[token] for token in options.banned_token_ids]
    if options.frequency_penalty or options.presence_penalty:
        logger.warning("frequency/presence penalties are ignored by the transformers engine")
    return kwargs
