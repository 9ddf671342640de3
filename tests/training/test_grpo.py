"""``toolgrade grpo``: the reward from /reward or in-process (same numbers), failures stop runs."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from tests.shared import free_port
from training.config import GRPOJobConfig, RewardSettings
from training.errors import TrainingJobError
from training.grpo import (
    PREFLIGHT_LABEL,
    build_reward_function,
    local_reward_function,
    remote_reward_function,
    reward_history,
    run_grpo,
)
from training.prepare import PrepareReport

TOOLS = [
    {
        "name": "is_prime",
        "description": "Check whether an integer is a prime number.",
        "parameters": {"n": {"type": "int", "description": "The number to check."}},
    },
    {
        "name": "get_weather",
        "description": "Get the current weather for a city.",
        "parameters": {
            "city": {"type": "str", "description": "Name of the city."},
            "units": {"type": "str, optional", "description": "Units.", "default": "metric"},
        },
    },
]
CALL_LABEL = json.dumps({"answers": [{"name": "is_prime", "arguments": {"n": 7}}], "tools": TOOLS})
NO_CALL_LABEL = json.dumps({"answers": [], "tools": TOOLS})


def call(name: str, arguments: dict[str, Any]) -> str:
    return f"<tool_call>\n{json.dumps({'name': name, 'arguments': arguments})}\n</tool_call>"


# (completion, label, expected reward under the weighted profile: 0.25 per component)
CASES = [
    (call("is_prime", {"n": 7}), CALL_LABEL, 1.0),  # right call
    (call("is_prime", {"n": 8}), CALL_LABEL, 0.75),  # parses, valid, executes; value wrong
    (call("is_prime", {"n": "7"}), CALL_LABEL, 0.5),  # "7" is not an int: no exec, no match
    (call("get_weather", {"city": "Oslo"}), CALL_LABEL, 0.75),  # wrong tool, otherwise fine
    ('<tool_call>\n{"name": "is_prime", "arguments": {"n": 7}', CALL_LABEL, None),  # cut off
    ("I would call is_prime.", CALL_LABEL, 0.0),  # no call at all
    ("Here is a joke instead.", NO_CALL_LABEL, 1.0),  # rightly no call
    (call("is_prime", {"n": 3}), NO_CALL_LABEL, 0.0),  # a call where none was wanted
]


def collect_metrics() -> tuple[dict[str, list[float]], Any]:
    logged: dict[str, list[float]] = defaultdict(list)
    return logged, lambda name, value: logged[name].append(value)


def test_service_and_local_rewards_are_the_same_numbers(scoring_server: Any) -> None:
    completions = [case[0] for case in CASES]
    labels = [case[1] for case in CASES]
    local_logged, local_log = collect_metrics()
    remote_logged, remote_log = collect_metrics()
    local = local_reward_function("weighted", None)
    remote = remote_reward_function(RewardSettings(url=scoring_server.base_url))
    # Called exactly as TRL calls them: every dataset column, plus runtime objects.
    trl_kwargs = {"prompts": ["p"] * len(CASES), "completion_ids": [[1]] * len(CASES)}
    local_rewards = local(
        completions=completions,
        label=labels,
        log_metric=local_log,
        trainer_state=object(),
        **trl_kwargs,
    )
    remote_rewards = remote(
        completions=completions,
        label=labels,
        log_metric=remote_log,
        trainer_state=object(),
        **trl_kwargs,
    )
    assert remote_rewards == pytest.approx(local_rewards, abs=1e-12)
    for (_, _, expected), reward in zip(CASES, local_rewards, strict=True):
        if expected is not None:
            assert reward == pytest.approx(expected)
    assert 0.0 <= local_rewards[4] < 0.5  # truncated markup: at most partial credit
    # Both sources log the four components under the same names with the same values.
    names = {f"toolgrade/{c}" for c in ("json_parse", "schema_hit", "exec", "semantic")}
    assert set(local_logged) == set(remote_logged) == names
    for name in names:
        assert remote_logged[name] == pytest.approx(local_logged[name], abs=1e-12)
    assert local.__name__ == remote.__name__ == "toolgrade_weighted_reward"


def test_weights_and_profiles_reach_both_sources(scoring_server: Any) -> None:
    completions = [case[0] for case in CASES]
    labels = [case[1] for case in CASES]
    weights = {"json_parse": 0.0, "semantic": 1.0}
    local = local_reward_function("weighted", weights)
    remote = remote_reward_function(RewardSettings(url=scoring_server.base_url, weights=weights))
    assert remote(completions=completions, label=labels) == local(
        completions=completions, label=labels
    )
    assert local(completions=completions[:2], label=labels[:2]) == [1.0, 0.0]
    strict = RewardSettings(url=scoring_server.base_url, profile="strict")
    assert remote_reward_function(strict)(completions=completions[:2], label=labels[:2]) == [
        1.0,
        0.0,
    ]


def test_an_unreachable_service_stops_the_run_before_any_model_loads(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    settings = RewardSettings(url=url, max_retries=0, timeout_s=2)
    with pytest.raises(TrainingJobError) as caught:
        build_reward_function(settings)
    assert caught.value.label == "grpo:reward_unavailable"
    assert url in caught.value.message
    config = GRPOJobConfig(model=str(tmp_path / "never-loaded"), reward=settings)
    with pytest.raises(TrainingJobError) as caught:
        run_grpo(config)
    assert caught.value.label == "grpo:reward_unavailable"


def test_a_reward_that_fails_mid_run_stops_training(
    scoring_server: Any, tiny_model_dir: Path, tmp_path: Path
) -> None:
    # The preflight passes; then a batch carries a label the service rejects (400): the run
    # must stop with that error, not train on placeholder rewards.
    data = tmp_path / "prompts.jsonl"
    broken = json.dumps({"answers": [], "tools": [{"description": "a tool with no name"}]})
    data.write_text(
        "".join(json.dumps({"prompt": f"Q{i}: ", "label": broken}) + "\n" for i in range(4))
    )
    config = GRPOJobConfig(
        model=str(tiny_model_dir),
        train_file=data,
        output_dir=tmp_path / "out",
        reward=RewardSettings(url=scoring_server.base_url, max_retries=0),
        num_generations=2,
        per_device_train_batch_size=2,
        max_completion_length=4,
        max_steps=1,
        lora=None,
    )
    with pytest.raises(TrainingJobError) as caught:
        run_grpo(config)
    assert caught.value.label == "grpo:reward_unavailable"
    assert "/reward" in caught.value.message
    assert not (tmp_path / "out" / "toolgrade_grpo.json").exists()


def test_a_bad_profile_or_weights_is_a_config_error() -> None:
    with pytest.raises(TrainingJobError) as caught:
        build_reward_function(RewardSettings(local=True, weights={"json_parse": -1.0}))
    assert caught.value.label == "grpo:invalid_reward_config"


def test_preflight_label_is_a_perfect_call_for_every_profile() -> None:
    from training.grpo import PREFLIGHT_COMPLETION

    for profile in ("weighted", "seed", "strict", "toolrl"):
        reward = local_reward_function(profile, None)
        assert reward(completions=[PREFLIGHT_COMPLETION], label=[PREFLIGHT_LABEL]) == [1.0]


def test_missing_prompts_file_is_a_clear_error(
    scoring_server: Any, tmp_path: Path, synth_prepared: tuple[Path, PrepareReport]
) -> None:
    config = GRPOJobConfig(
        train_file=tmp_path / "absent.jsonl", reward=RewardSettings(url=scoring_server.base_url)
    )
    with pytest.raises(TrainingJobError) as caught:
        run_grpo(config)
    assert caught.value.label == "grpo:data_not_found"
    sft_rows = synth_prepared[0] / "trl" / "train.jsonl"  # wrong file: no prompt/label
    with pytest.raises(TrainingJobError) as caught:
        run_grpo(config.model_copy(update={"train_file": sft_rows}))
    assert caught.value.label == "grpo:invalid_data"


def test_reward_history_reads_trl_logs() -> None:
    logs = [
        {"loss": 0.1, "reward": 0.5, "toolgrade/exec": 0.25, "kl": 0.0, "step": 1},
        {"train_runtime": 3.0, "step": 2},
        {"reward": 0.75, "toolgrade/exec": 0.5, "step": 2},
    ]
    assert reward_history(logs) == [
        {"step": 1.0, "reward": 0.5, "exec": 0.25},
        {"step": 2.0, "reward": 0.75, "exec": 0.5},
    ]
