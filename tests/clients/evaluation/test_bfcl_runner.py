"""BFCL's own runner code against ToolGrade: its Qwen prompting handler (what ``bfcl generate
--skip-server-setup`` runs with ``REMOTE_OPENAI_BASE_URL``) renders each item's prompt itself
and calls ToolGrade's ``/v1/completions``; BFCL's relevance and AST checkers then read the
answers. The model is untrained, so the test checks the plumbing, not the accuracy.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.models import requires_vllm
from tests.fixtures.servers import LiveServer

pytestmark = [
    requires_vllm,
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("bfcl_eval") is None
        or importlib.util.find_spec("tree_sitter") is None,
        reason="needs bfcl-eval and its parsers (make install's test extras)",
    ),
]

ITEM_IDS = ("live_relevance_0-0-0", "simple_python_0")
# BFCL asks for the rest of the context window (or 1,000 tokens once the prompt fills it); a
# window just above the longest prompt (live_relevance_0-0-0: 1,199 tokens) keeps the untrained
# model's answers short on two shared cores.
CONTEXT_TOKENS = 1260


def _entries() -> list[dict[str, Any]]:
    from bfcl_eval.utils import load_dataset_entry

    entries = [*load_dataset_entry("live_relevance"), *load_dataset_entry("simple_python")]
    return [entry for entry in entries if entry["id"] in ITEM_IDS]


def test_bfcl_qwen_handler_runs_against_toolgrade(
    engine_server: LiveServer, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REMOTE_OPENAI_BASE_URL", f"{engine_server.base_url}/v1")
    from bfcl_eval.constants.enums import ReturnFormat
    from bfcl_eval.model_handler.local_inference.qwen import QwenHandler
    from transformers import AutoTokenizer

    handler = QwenHandler(
        model_name="Qwen/Qwen3-0.6B",
        temperature=0.001,
        registry_name="Qwen/Qwen3-0.6B",
        is_fc_model=False,
    )
    # What BFCL's server set-up would have loaded: the served model's name and tokenizer.
    handler.model_path_or_id = tiny_model_dir.name
    handler.tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    handler.max_context_length = CONTEXT_TOKENS

    entries = _entries()
    assert [entry["id"] for entry in entries] == list(ITEM_IDS)
    for entry in entries:
        result, metadata = handler.inference(entry, include_input_log=True, exclude_state_log=False)
        prompt = metadata["inference_log"][0]["content"]["formatted_prompt"]
        assert prompt.startswith("<|im_start|>system\n")
        assert isinstance(result, str)
        assert metadata["input_token_count"] == len(handler.tokenizer.encode(prompt))
        assert 0 < metadata["output_token_count"] <= CONTEXT_TOKENS
        # BFCL's relevance check (its eval runner imports every provider SDK, so its one step
        # is run here): the answer decodes to calls, or the item is a relevance failure.
        try:
            decoded = handler.decode_ast(
                result, language=ReturnFormat.PYTHON, has_tool_call_tag=False
            )
        except Exception:  # BFCL counts any decoding failure as "no call"
            decoded = None
        assert decoded is None or isinstance(decoded, list)
