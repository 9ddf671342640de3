"""``create_engine(settings)``: the generation engine the settings ask for.

* ``TOOLGRADE_ENGINE=remote`` (or ``auto`` with ``TOOLGRADE_REMOTE_BASE_URL`` set): forward to
  an OpenAI-compatible server (a vLLM or SGLang cluster), prompts still rendered and outputs
  still parsed here.
* Otherwise the model is ``TOOLGRADE_MODEL`` or, when unset, the shipped default model
  (:func:`service.models.default_model.ensure_default_model`, expanded on first use), served by
  vLLM; with ``auto``, the transformers engine replaces vLLM only when vLLM cannot be imported,
  and says so loudly.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
from pathlib import Path

from service.config import Settings
from service.engine.base import GenerationEngine
from service.engine.errors import EngineConfigurationError

logger = logging.getLogger("toolgrade.engine")


async def create_engine(settings: Settings) -> GenerationEngine:
    """Build and start the engine ``settings`` describe (seconds to a minute).

    Raises:
        EngineConfigurationError: Settings that cannot work (e.g. remote without a URL).
        ImportError: ``TOOLGRADE_ENGINE=vllm`` without vLLM installed.
    """
    if settings.engine == "remote" or (settings.engine == "auto" and settings.remote_base_url):
        from service.engine.remote_engine import RemoteEngine

        if not settings.remote_base_url:
            raise EngineConfigurationError(
                "TOOLGRADE_ENGINE=remote needs TOOLGRADE_REMOTE_BASE_URL"
            )
        return await RemoteEngine.create(settings)

    model_path = await asyncio.to_thread(resolve_model_path, settings)
    model_name = served_model_name(settings, model_path)
    backend = settings.engine
    if backend == "auto":
        backend = "vllm" if importlib.util.find_spec("vllm") is not None else "transformers"
        if backend == "transformers":
            logger.warning(
                "vLLM is not installed: generating with the transformers fallback engine "
                "(one request at a time, several times slower). Install toolgrade[cpu] or "
                "toolgrade[gpu] for vLLM."
            )
    if backend == "vllm":
        from service.engine.vllm_engine import VLLMEngine

        return await VLLMEngine.create(settings, model_path, model_name)
    from service.engine.transformers_engine import TransformersEngine

    return await TransformersEngine.create(settings, model_path, model_name)


def resolve_model_path(settings: Settings) -> str:
    """``TOOLGRADE_MODEL``, or the shipped default model (expanded on first use)."""
    if settings.model:
        return settings.model
    from service.models.default_model import ensure_default_model

    return str(ensure_default_model(settings.cache_dir))


def served_model_name(settings: Settings, model_path: str) -> str:
    """The name clients use: ``TOOLGRADE_SERVED_MODEL_NAME``, else a local checkpoint's
    directory name, else the hub id as given."""
    if settings.served_model_name:
        return settings.served_model_name
    path = Path(model_path)
    return path.name if path.is_dir() else model_path
