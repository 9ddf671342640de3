"""Job configurations: packaged YAML, user files and overrides agree and fail loudly."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from training.config import (
    CONFIG_DIR,
    GRPOJobConfig,
    MergeConfig,
    PrepareConfig,
    SFTJobConfig,
    load_job_config,
)
from training.errors import TrainingJobError

JOBS = {"prepare": PrepareConfig, "sft": SFTJobConfig, "grpo": GRPOJobConfig, "merge": MergeConfig}


@pytest.mark.parametrize("job", sorted(JOBS))
def test_packaged_yaml_states_the_model_defaults(job: str) -> None:
    # The YAML files are what users read: they must say exactly what the code does by default.
    assert load_job_config(JOBS[job], job) == JOBS[job]()


def test_sft_defaults_are_the_seed_llamafactory_config() -> None:
    config = SFTJobConfig()
    assert (config.lora.r, config.lora.alpha, config.lora.target_modules) == (32, 64, "all-linear")
    assert config.learning_rate == 2e-4
    assert (config.per_device_train_batch_size, config.gradient_accumulation_steps) == (2, 8)
    assert config.gradient_checkpointing is True
    assert config.bf16 == "auto"
    assert config.assistant_only_loss is True


def test_layers_merge_in_order_user_file_then_set_then_explicit(tmp_path: Path) -> None:
    user = tmp_path / "mine.yaml"
    user.write_text("lora:\n  r: 16\nlearning_rate: 1.0e-4\nmax_steps: 50\n", encoding="utf-8")
    config = load_job_config(
        SFTJobConfig,
        "sft",
        user,
        ["lora.dropout=0.1", "max_steps=70", "trainer_args.optim=adafactor"],
        {"max_steps": 90, "model": None},
    )
    assert config.lora.r == 16  # user file
    assert config.lora.alpha == 64  # packaged default kept by the deep merge
    assert config.lora.dropout == 0.1  # --set, parsed as a float
    assert config.learning_rate == 1e-4
    assert config.max_steps == 90  # explicit option beats --set beats the file
    assert config.trainer_args == {"optim": "adafactor"}
    assert config.model is None


def test_override_can_set_a_nullable_section(tmp_path: Path) -> None:
    assert load_job_config(GRPOJobConfig, "grpo", overrides=["lora=null"]).lora is None
    assert load_job_config(SFTJobConfig, "sft", overrides=["lora=null"]).lora is None
    config = load_job_config(GRPOJobConfig, "grpo", overrides=["reward.weights={semantic: 1}"])
    assert config.reward.weights == {"semantic": 1}


@pytest.mark.parametrize(
    ("overrides", "label"),
    [
        (["lora.rank=8"], "config:invalid"),  # typo: unknown key
        (["learning_rate=-1"], "config:invalid"),
        (["max_steps"], "config:invalid_override"),
        (["=3"], "config:invalid_override"),
        (["max_steps=[1"], "config:invalid_override"),
        (["learning_rate.x=1"], "config:invalid_override"),
    ],
)
def test_bad_overrides_fail_with_a_label(overrides: list[str], label: str) -> None:
    with pytest.raises(TrainingJobError) as caught:
        load_job_config(SFTJobConfig, "sft", overrides=overrides)
    assert caught.value.label == label


def test_missing_or_malformed_user_file(tmp_path: Path) -> None:
    with pytest.raises(TrainingJobError) as caught:
        load_job_config(SFTJobConfig, "sft", tmp_path / "absent.yaml")
    assert caught.value.label == "config:not_found"
    broken = tmp_path / "broken.yaml"
    broken.write_text("- just\n- a list\n", encoding="utf-8")
    with pytest.raises(TrainingJobError) as caught:
        load_job_config(SFTJobConfig, "sft", broken)
    assert caught.value.label == "config:invalid_yaml"


def test_secrets_are_masked_in_dumps() -> None:
    from training.config import dump_config

    config = load_job_config(GRPOJobConfig, "grpo", overrides=["reward.api_key=s3cret-key"])
    assert config.reward.api_key is not None
    assert config.reward.api_key.get_secret_value() == "s3cret-key"
    assert "s3cret-key" not in str(dump_config(config))


@pytest.mark.parametrize("path", sorted((CONFIG_DIR / "accelerate").glob("*.yaml")), ids=str)
def test_scale_out_configs_are_accelerate_configs(path: Path) -> None:
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert config["distributed_type"] in {"MULTI_GPU", "DEEPSPEED", "FSDP"}
    assert config["num_processes"] >= 1 and config["num_machines"] >= 1
    if config["distributed_type"] == "DEEPSPEED":
        assert config["deepspeed_config"]["zero_stage"] in {2, 3}
