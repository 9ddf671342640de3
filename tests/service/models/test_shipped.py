"""The shipped tool caller: compact in git, expanded to the checkpoint its manifest names, and a
real tool caller. Nothing is trained here: the stored weights are expanded and checked."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from service.core.metrics import score_item
from service.models.default_model import ensure_default_model
from service.models.shipped import (
    EXPANDED_WEIGHTS_FILE,
    MANIFEST_FILE,
    SHIPPED_DIR,
    SHIPPED_MODEL_NAME,
    WEIGHTS_FILE,
    ShippedModelError,
    ensure_shipped_model,
    file_sha256,
    read_manifest,
)
from training.synth import TOOL_LIBRARY

TEN_MB = 10 * 1024 * 1024


@pytest.fixture(scope="module")
def expanded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure_shipped_model(tmp_path_factory.mktemp("cache"))


def test_the_repository_stores_it_compactly_with_a_complete_manifest() -> None:
    assert (SHIPPED_DIR / WEIGHTS_FILE).stat().st_size <= TEN_MB
    manifest = read_manifest()
    for key in ("command", "commit", "steps", "training_seconds", "expanded_sha256", "shape"):
        assert manifest[key], key
    assert manifest["data"]["generator"] == "training.synth"
    assert isinstance(manifest["data"]["seed"], int)
    metrics = manifest["metrics"]
    assert metrics["eval_seed"] != manifest["data"]["seed"]
    assert set(metrics["full"]) >= {"parse_rate", "name_accuracy", "argument_f1", "ast_accuracy"}


def test_expansion_gives_the_manifest_checksum_once(expanded: Path) -> None:
    weights = expanded / EXPANDED_WEIGHTS_FILE
    assert expanded.name == SHIPPED_MODEL_NAME
    assert file_sha256(weights) == read_manifest()["expanded_sha256"]
    config = json.loads((expanded / "config.json").read_text())
    assert config["architectures"] == ["Qwen3ForCausalLM"]
    first_mtime = weights.stat().st_mtime_ns
    assert ensure_shipped_model(expanded.parent.parent) == expanded
    assert weights.stat().st_mtime_ns == first_mtime  # reused, not expanded again


def test_the_default_model_is_the_shipped_one(expanded: Path) -> None:
    assert ensure_default_model(expanded.parent.parent) == expanded


def test_weights_that_do_not_match_the_manifest_are_refused(tmp_path: Path) -> None:
    altered = tmp_path / "altered"
    shutil.copytree(SHIPPED_DIR, altered)
    manifest = json.loads((altered / MANIFEST_FILE).read_text())
    manifest["expanded_sha256"] = "0" * 64
    (altered / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(ShippedModelError, match="SHA-256"):
        ensure_shipped_model(tmp_path / "cache", altered)
    assert not (tmp_path / "cache" / "models" / SHIPPED_MODEL_NAME).exists()


def test_a_greedy_answer_to_an_in_distribution_question_is_a_valid_call(expanded: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    weather = next(tool for tool in TOOL_LIBRARY if tool.name == "get_weather").schema()
    tools = [{"type": "function", "function": {**weather, "parameters": _json_schema(weather)}}]
    tokenizer = AutoTokenizer.from_pretrained(expanded)
    model = AutoModelForCausalLM.from_pretrained(expanded, dtype=torch.float32).eval()
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What's the weather like in Paris?"}],
        tools=tools,
        add_generation_prompt=True,
        tokenize=False,
    )
    ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        output = model.generate(ids, max_new_tokens=48, do_sample=False)
    answer = tokenizer.decode(output[0, ids.shape[1] :], skip_special_tokens=True)
    verdict = score_item(answer, [{"name": "get_weather", "arguments": {"city": "Paris"}}], tools)
    # A parsable call of the right tool whose arguments validate against its schema. The value
    # itself is not asserted: copying values is what this tiny model does least well (its
    # manifest's argument_f1).
    assert verdict.parsed and verdict.name_match and verdict.schema_hit, answer
    assert verdict.exec_ok, answer


def _json_schema(xlam_tool: dict) -> dict:
    from service.core.schema import normalise_tools

    return dict(normalise_tools([xlam_tool])[xlam_tool["name"]].json_schema)
