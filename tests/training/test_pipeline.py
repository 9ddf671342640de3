"""End to end on CPU: generated data -> prepare -> LoRA SFT -> merge -> serve -> GRPO.

The merged model is served by the real vLLM engine (``toolgrade serve``, float32) and must
generate exactly what transformers generates from the merged folder — and not what the base
model generates. GRPO then runs two steps rewarded by a live ``/reward`` over loopback.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.core.rewards import REWARD_COMPONENTS
from tests.fixtures.models import ENGINE_STARTUP_TIMEOUT_S, engine_server_env, requires_vllm
from tests.fixtures.servers import start_server
from tests.training.conftest import SYNTH_ROWS
from training.config import GRPOJobConfig, LoraSettings, RewardSettings
from training.grpo import run_grpo
from training.merge import MergeResult
from training.prepare import PrepareReport, llamafactory_violation
from training.sft import SFTResult

GREEDY_TOKENS = 8
COMPONENTS = REWARD_COMPONENTS


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def greedy_ids(model_dir: Path, prompt: str) -> list[int]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
    with torch.no_grad():
        output = model.generate(**inputs, max_new_tokens=GREEDY_TOKENS, do_sample=False)
    return [int(token) for token in output[0, inputs["input_ids"].shape[1] :]]


@requires_vllm
@pytest.mark.slow
def test_prepare_sft_merge_serve_grpo(
    synth_prepared: tuple[Path, PrepareReport],
    sft_run: SFTResult,
    merged_run: MergeResult,
    scoring_server: Any,
    tiny_model_dir: Path,
    tmp_path: Path,
) -> None:
    prepared, report = synth_prepared
    # prepare: every format written, nothing lost, the split as promised.
    assert report.kept == report.read == SYNTH_ROWS and not report.rejected
    assert report.splits == {"train": SYNTH_ROWS * 9 // 10, "eval": SYNTH_ROWS // 10}
    for split, size in report.splits.items():
        factory_file = prepared / "llamafactory" / f"toolgrade_xlam_{split}.json"
        factory = json.loads(factory_file.read_text())
        assert len(factory) == size and all(llamafactory_violation(r) is None for r in factory)
        assert len(read_jsonl(prepared / "trl" / f"{split}.jsonl")) == size
        assert len(read_jsonl(prepared / "grpo" / f"{split}.jsonl")) == size

    # SFT learned something and the merge kept exactly that.
    assert sft_run.last_loss is not None and sft_run.first_loss is not None
    assert sft_run.last_loss < sft_run.first_loss
    assert merged_run.max_abs_logit_diff < 1e-4
    merged = Path(merged_run.output_dir)

    # Serve the merged model with the real engine; its greedy tokens are the merged model's.
    prompt = read_jsonl(prepared / "grpo" / "eval.jsonl")[0]["prompt"]
    env: dict[str, str | None] = {
        **engine_server_env(merged, None),
        "TOOLGRADE_NO_MODEL": None,
        "TOOLGRADE_API_KEY": None,
    }
    server = start_server(env, timeout_s=ENGINE_STARTUP_TIMEOUT_S, wait_ready=True)
    try:
        served_models = httpx.get(f"{server.base_url}/v1/models", timeout=30).json()["data"]
        response = httpx.post(
            f"{server.base_url}/generate",
            json={
                "prompt": prompt,
                "max_tokens": GREEDY_TOKENS,
                "temperature": 0.0,
                "return_token_ids": True,
            },
            timeout=120,
        )
    finally:
        server.stop()
    assert response.status_code == 200, response.text
    output = response.json()["outputs"][0]
    assert served_models and served_models[0]["id"]
    assert output["token_ids"] == greedy_ids(merged, prompt)
    assert output["token_ids"] != greedy_ids(tiny_model_dir, prompt)  # SFT changed the model

    # GRPO: two steps, rewards from the live service, four components logged.
    grpo = run_grpo(
        GRPOJobConfig(
            model=str(merged),
            train_file=prepared / "grpo" / "train.jsonl",
            output_dir=tmp_path / "grpo",
            reward=RewardSettings(url=scoring_server.base_url),
            lora=LoraSettings(r=8, alpha=16),
            num_generations=4,
            per_device_train_batch_size=4,
            max_completion_length=16,
            max_steps=2,
            gradient_checkpointing=False,
        )
    )
    assert grpo.steps == 2
    assert grpo.reward_source == f"{scoring_server.base_url}/reward"
    summary = json.loads((tmp_path / "grpo" / "toolgrade_grpo.json").read_text())
    history = summary["reward_history"]
    assert [row["step"] for row in history] == [1.0, 2.0]
    for row in history:
        assert set(row) == {"step", "reward", *COMPONENTS}
        assert all(0.0 <= row[key] <= 1.0 for key in ("reward", *COMPONENTS))
    logged = [entry for entry in summary["log_history"] if "reward" in entry]
    assert all("rewards/toolgrade_weighted_reward/mean" in entry for entry in logged)
    assert all("kl" in entry for entry in logged)
    adapter = json.loads((tmp_path / "grpo" / "adapter_config.json").read_text())
    assert adapter["r"] == 8
    assert adapter["base_model_name_or_path"] == str(merged)
