"""Generation forwarded to an OpenAI-compatible server: the scale-out path.

A separate vLLM or SGLang cluster does the decoding; ToolGrade still renders the prompt (its
chat template, its ``tool_choice`` plan) and parses the output with its core parser, so the
answers are scored exactly like locally generated ones. Requests go to the server's
``/v1/completions`` with the prompt as token ids (both vLLM and SGLang accept them), so the
remote server's own chat template and tool parser play no part.

The prompt is rendered with ``TOOLGRADE_MODEL``'s tokenizer when set (a local checkpoint or a
cached hub id), else with the embedded default model's: the real Qwen3 vocabulary and chat
template, right for any Qwen3 model the cluster serves. Remote servers give no grammar through
a portable API, so ``tool_choice`` required/named use the forced-prefix plan.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx

from service.config import Settings
from service.engine.base import (
    Completion,
    CompletionDelta,
    FinishReason,
    GenerationInput,
    GenerationResult,
    SamplingOptions,
)
from service.engine.errors import (
    EngineConfigurationError,
    EngineUnavailableError,
    InvalidChatRequestError,
    UnknownModelError,
)
from service.engine.tokenizer import ChatTokenizer

logger = logging.getLogger("toolgrade.engine")

REMOTE_TIMEOUT_S = 600.0
BANNED_LOGIT_BIAS = -100


class RemoteEngine:
    """An OpenAI-compatible completions server behind the engine protocol."""

    kind = "remote"
    supports_json_schema = False
    supports_logprobs = False

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        models: list[str],
        tokenizer: ChatTokenizer,
        max_model_len: int,
    ) -> None:
        if not models:
            raise EngineConfigurationError("the remote server serves no model")
        self._client = client
        self._models = models
        self.model_name = models[0]
        self.tokenizer = tokenizer
        self.max_model_len = max_model_len

    @classmethod
    async def create(cls, settings: Settings, *, transport: Any = None) -> RemoteEngine:
        """Connect to ``settings.remote_base_url`` and list its models.

        The base model is ``TOOLGRADE_SERVED_MODEL_NAME`` when set, else the server's first.
        ``transport`` replaces the network (tests).
        """
        if not settings.remote_base_url:
            raise EngineConfigurationError("the remote engine needs TOOLGRADE_REMOTE_BASE_URL")
        headers = {}
        if settings.remote_api_key is not None:
            headers["Authorization"] = f"Bearer {settings.remote_api_key.get_secret_value()}"
        client = httpx.AsyncClient(
            base_url=settings.remote_base_url.rstrip("/") + "/",
            headers=headers,
            timeout=REMOTE_TIMEOUT_S,
            transport=transport,
        )
        try:
            listed = await _list_models(client)
            tokenizer = await asyncio.to_thread(_load_tokenizer, settings)
        except BaseException:
            await client.aclose()
            raise
        names = [str(entry["id"]) for entry in listed]
        if settings.served_model_name:
            if settings.served_model_name not in names:
                await client.aclose()
                raise EngineConfigurationError(
                    f"the remote server does not serve {settings.served_model_name!r} "
                    f"(it serves {', '.join(names)})"
                )
            names = [settings.served_model_name] + [
                name for name in names if name != settings.served_model_name
            ]
        context = next(
            (entry.get("max_model_len") for entry in listed if entry.get("id") == names[0]), None
        )
        max_model_len = int(context) if isinstance(context, int) else settings.max_model_len
        logger.info(
            "remote engine ready",
            extra={"base_url": settings.remote_base_url, "models": names},
        )
        return cls(client, models=names, tokenizer=tokenizer, max_model_len=max_model_len)

    def served_models(self) -> list[str]:
        return list(self._models)

    def resolve_adapter(self, model: str | None) -> str | None:
        """Any model the remote server lists other than the base one (its LoRA adapters)."""
        if not model or model == self.model_name:
            return None
        if model in self._models:
            return model
        raise UnknownModelError(
            f"model {model!r} is not served by the remote server; available: "
            f"{', '.join(self._models)}",
            label="request:unknown_model",
            param="model",
        )

    async def generate(self, request: GenerationInput) -> GenerationResult:
        body = self._body(request, stream=False)
        payload = await self._post(body)
        completions = []
        for choice in sorted(payload.get("choices", []), key=lambda choice: choice["index"]):
            text = str(choice.get("text") or "")
            completions.append(
                Completion(
                    index=int(choice["index"]),
                    text=text,
                    token_ids=tuple(self.tokenizer.encode(text)),
                    finish_reason=_finish_reason(choice.get("finish_reason")),
                )
            )
        return GenerationResult(len(request.prompt_token_ids), tuple(completions))

    async def stream(self, request: GenerationInput) -> AsyncIterator[CompletionDelta]:
        body = self._body(request, stream=True)
        texts: dict[int, str] = {}
        try:
            async with self._client.stream("POST", "v1/completions", json=body) as response:
                if response.status_code != 200:
                    await response.aread()
                    _raise_for_status(response)
                async for line in response.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[len("data:") :].strip()
                    if data == "[DONE]":
                        break
                    chunk = json.loads(data)
                    for choice in chunk.get("choices", []):
                        index = int(choice["index"])
                        texts[index] = texts.get(index, "") + (choice.get("text") or "")
                        reason = choice.get("finish_reason")
                        yield CompletionDelta(
                            index=index,
                            text=choice.get("text") or "",
                            token_count=len(self.tokenizer.encode(texts[index])),
                            finish_reason=_finish_reason(reason) if reason else None,
                        )
        except httpx.HTTPError as exc:
            raise _unreachable(exc) from exc

    async def close(self) -> None:
        await self._client.aclose()

    def _body(self, request: GenerationInput, *, stream: bool) -> dict[str, Any]:
        options: SamplingOptions = request.options
        body: dict[str, Any] = {
            "model": request.adapter or self.model_name,
            "prompt": list(request.prompt_token_ids),
            "max_tokens": options.max_tokens,
            "temperature": options.temperature,
            "top_p": options.top_p,
            "n": options.n,
            "presence_penalty": options.presence_penalty,
            "frequency_penalty": options.frequency_penalty,
            "stream": stream,
        }
        if options.seed is not None:
            body["seed"] = options.seed
        if options.stop:
            body["stop"] = list(options.stop)
        if options.top_k:
            body["top_k"] = options.top_k
        if options.banned_token_ids:
            body["logit_bias"] = {str(t): BANNED_LOGIT_BIAS for t in options.banned_token_ids}
        return body

    async def _post(self, body: Mapping[str, Any]) -> dict[str, Any]:
        try:
            response = await self._client.post("v1/completions", json=body)
        except httpx.HTTPError as exc:
            raise _unreachable(exc) from exc
        _raise_for_status(response)
        payload: dict[str, Any] = response.json()
        return payload


async def _list_models(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    try:
        response = await client.get("v1/models")
        response.raise_for_status()
        data = response.json()["data"]
    except (httpx.HTTPError, KeyError, ValueError) as exc:
        raise EngineConfigurationError(f"cannot list the remote server's models: {exc}") from exc
    return [entry for entry in data if isinstance(entry, dict) and "id" in entry]


def _load_tokenizer(settings: Settings) -> ChatTokenizer:
    if settings.model:
        return ChatTokenizer.load(settings.model)
    from service.models.default_model import ensure_default_model

    return ChatTokenizer.load(str(ensure_default_model(settings.cache_dir)))


def _raise_for_status(response: httpx.Response) -> None:
    if response.status_code == 200:
        return
    try:
        message = response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = response.text[:500]
    if 400 <= response.status_code < 500:
        raise InvalidChatRequestError(
            f"the remote server refused the request: {message}",
            label="request:rejected_by_remote",
        )
    raise EngineUnavailableError(
        f"the remote server failed ({response.status_code}): {message}", label="engine:remote_error"
    )


def _unreachable(exc: Exception) -> EngineUnavailableError:
    return EngineUnavailableError(
        f"the remote server is unreachable: {exc}", label="engine:remote_unreachable"
    )


def _finish_reason(reason: str | None) -> FinishReason:
    return "length" if reason == "length" else "stop"
