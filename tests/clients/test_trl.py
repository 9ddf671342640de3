"""The TRL reward functions: TRL's calling convention, logging, and loud failures.

Against the live scoring-only server, and once inside a real ``GRPOTrainer`` step on the tiny
Qwen3 model, where TRL itself calls the async reward function on its event loop.
"""

from __future__ import annotations

import asyncio
import json
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from clients import (
    LocalRewardFunction,
    RetryPolicy,
    RewardServiceError,
    SyncToolGradeRewardFunction,
    ToolGradeRewardFunction,
    make_trl_reward_function,
)
from service.core.errors import InvalidWeightsError, ToolGradeError
from service.core.rewards import REWARD_COMPONENTS
from tests.fixtures.servers import LiveServer, rewards_computed, start_server
from tests.service.http_cases import CASES, REFERENCE
from tests.shared import WEATHER_TOOL, free_port

FAST = RetryPolicy(max_retries=2, initial_backoff_s=0.05, max_backoff_s=0.2, jitter_s=0.0)
COMPONENTS = REWARD_COMPONENTS


class TrainerState:
    """Stands for TRL's trainer_state: an object JSON cannot encode."""


def trl_kwargs(
    metrics: list[tuple[str, float]],
    extra: dict[str, list[Any]] | None = None,
    **columns: Any,
) -> dict[str, Any]:
    """What GRPOTrainer passes besides prompts/completions: columns and three runtime hooks."""
    extra_columns = extra if extra is not None else {}
    return {
        **columns,
        "trainer_state": TrainerState(),
        "log_extra": lambda column, values: extra_columns.setdefault(column, []).extend(values),
        "log_metric": lambda name, value: metrics.append((name, value)),
    }


def test_trl_sees_an_async_reward_function_with_a_stable_name() -> None:
    from trl.trainer.utils import get_callable_name, is_async_callable

    reward = ToolGradeRewardFunction("http://127.0.0.1:1", profile="toolrl")
    assert is_async_callable(reward)
    assert get_callable_name(reward) == "toolgrade_toolrl_reward"
    assert not is_async_callable(make_trl_reward_function("http://127.0.0.1:1"))
    assert is_async_callable(make_trl_reward_function("http://127.0.0.1:1", asynchronous=True))


async def test_async_reward_posts_one_batch_and_logs_the_components(
    scoring_server: LiveServer,
) -> None:
    reward = ToolGradeRewardFunction(scoring_server.base_url, tools=[WEATHER_TOOL], api_key="")
    metrics: list[tuple[str, float]] = []
    completions = [case.completion for case in CASES]
    rewards = await reward(
        prompts=["Weather in Oslo?"] * len(CASES),
        completions=completions,
        completion_ids=[[1, 2, 3]] * len(CASES),
        **trl_kwargs(metrics, label=[REFERENCE] * len(CASES), id=list(range(len(CASES)))),
    )
    await reward.aclose()
    assert rewards == pytest.approx([case.weighted_reward for case in CASES])
    logged = dict(metrics)
    assert set(logged) == {f"toolgrade/{component}" for component in COMPONENTS}
    for component in COMPONENTS:
        mean = sum(getattr(case, component) for case in CASES) / len(CASES)
        assert logged[f"toolgrade/{component}"] == pytest.approx(mean)


def test_sync_reward_with_per_row_tools_and_json_string_labels(scoring_server: LiveServer) -> None:
    """xLAM-style rows: the label and the tools column are JSON strings, tools differ per row."""
    other_tool = {"name": "get_time", "parameters": {"zone": {"type": "str"}}}
    reward = SyncToolGradeRewardFunction(scoring_server.base_url, api_key="")
    metrics: list[tuple[str, float]] = []
    rewards = reward(
        prompts=["p1", "p2", "p3"],
        completions=[CASES[0].completion, CASES[0].completion, CASES[1].completion],
        completion_ids=None,
        **trl_kwargs(
            metrics,
            label=[json.dumps(REFERENCE)] * 3,
            # Row 2 declares only get_time: the right call names an undeclared tool there.
            tools=[
                json.dumps([WEATHER_TOOL]),
                json.dumps([other_tool]),
                json.dumps([WEATHER_TOOL]),
            ],
        ),
    )
    reward.close()
    # Row 2: parsed and right (semantic 1) but no schema hit and no exec: 0.25 * 2.
    assert rewards == [1.0, 0.5, 0.875]
    assert dict(metrics)["toolgrade/schema_hit"] == pytest.approx(2 / 3)


def test_missing_label_column_is_a_clear_error(scoring_server: LiveServer) -> None:
    reward = SyncToolGradeRewardFunction(scoring_server.base_url, api_key="")
    with pytest.raises(RewardServiceError, match="no 'label' column"):
        reward(prompts=["p"], completions=["c"], answer=["x"])


def test_rejected_batch_raises_with_the_servers_reason(scoring_server: LiveServer) -> None:
    reward = SyncToolGradeRewardFunction(scoring_server.base_url, api_key="", retry=FAST)
    with pytest.raises(RewardServiceError, match=r"invalid|reference") as failure:
        reward(prompts=["p"], completions=["c"], label=[{"not": "a", "reference": 5}])
    assert failure.value.__cause__ is not None
    assert getattr(failure.value.__cause__, "status_code", None) == 400


async def test_async_reward_raises_when_the_service_is_unreachable() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    reward = ToolGradeRewardFunction(url, retry=FAST)
    with pytest.raises(RewardServiceError) as failure:
        await reward(prompts=["p"], completions=["c"], label=[[]])
    message = str(failure.value)
    assert url in message
    assert f"after {FAST.max_retries + 1} attempt(s)" in message
    assert "placeholder" in message


def test_reward_raises_when_the_server_stays_down() -> None:
    """It worked, the server went away and did not come back: the next call raises (after
    its retries) instead of returning zeros."""
    server = start_server({"TOOLGRADE_NO_MODEL": "1", "TOOLGRADE_API_KEY": None})
    reward = ToolGradeRewardFunction(server.base_url, retry=FAST)
    sync_reward = SyncToolGradeRewardFunction(server.base_url, retry=FAST)
    try:
        assert asyncio.run(reward(prompts=["p"], completions=["no call"], label=[[]])) == [1.0]
        assert sync_reward(prompts=["p"], completions=["no call"], label=[[]]) == [1.0]
    finally:
        server.stop()
    with pytest.raises(RewardServiceError, match="Refusing to return placeholder rewards"):
        asyncio.run(reward(prompts=["p"], completions=["no call"], label=[[]]))
    with pytest.raises(RewardServiceError, match="Refusing to return placeholder rewards"):
        sync_reward(prompts=["p"], completions=["no call"], label=[[]])


@pytest.fixture
def grpo_dataset() -> Iterator[Any]:
    from datasets import Dataset

    yield Dataset.from_list(
        [
            {"prompt": "Weather in Oslo, in Celsius? Answer with a tool call.", "label": REFERENCE},
            {"prompt": "Is it raining in Oslo? Use the tool.", "label": REFERENCE},
        ]
    )


@pytest.mark.slow
def test_grpo_trainer_step_uses_the_http_reward(
    scoring_server: LiveServer, tiny_model_dir: Path, grpo_dataset: Any, tmp_path: Path
) -> None:
    """One real GRPO step: TRL calls the async function on its event loop, gets one reward per
    completion from /reward, and logs the four components next to its own metrics."""
    from trl import GRPOConfig, GRPOTrainer

    reward = ToolGradeRewardFunction(scoring_server.base_url, tools=[WEATHER_TOOL], api_key="")
    args = GRPOConfig(
        output_dir=str(tmp_path),
        max_steps=1,
        per_device_train_batch_size=2,
        num_generations=2,
        max_completion_length=8,
        use_cpu=True,
        bf16=False,
        gradient_checkpointing=False,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        seed=0,
    )
    trainer = GRPOTrainer(
        model=str(tiny_model_dir), reward_funcs=[reward], args=args, train_dataset=grpo_dataset
    )
    rewarded_before = rewards_computed(scoring_server)
    trainer.train()
    # One step: a batch of 2 completions (one prompt x 2 generations), rewarded over HTTP.
    assert rewards_computed(scoring_server) - rewarded_before == 2
    logged = next(entry for entry in trainer.state.log_history if "reward" in entry)
    # A random tiny model writes no valid call: the reward is a real 0, computed by the service.
    assert logged["rewards/toolgrade_weighted_reward/mean"] == pytest.approx(logged["reward"])
    for component in COMPONENTS:
        assert 0.0 <= logged[f"toolgrade/{component}"] <= 1.0


# --- one factory, three sources; pickling; per-completion components; unlabelled rows ----------


def reward_sources(base_url: str) -> list[Any]:
    """The in-process, blocking-HTTP and async-HTTP reward functions, all from one factory."""
    return [
        make_trl_reward_function(None, tools=[WEATHER_TOOL]),
        make_trl_reward_function(base_url, tools=[WEATHER_TOOL], api_key=""),
        make_trl_reward_function(base_url, tools=[WEATHER_TOOL], api_key="", asynchronous=True),
    ]


def call_reward(reward: Any, **kwargs: Any) -> Any:
    result = reward(**kwargs)
    return asyncio.run(result) if asyncio.iscoroutine(result) else result


def test_every_source_logs_each_completions_components_and_skips_unlabelled_rows(
    scoring_server: LiveServer,
) -> None:
    """Multi-task rows: a None label gets a None reward (TRL leaves it out of the loss) and a
    None in each log_extra column; the labelled rows get the hand-computed numbers."""
    completions = [CASES[0].completion, "from another task", CASES[1].completion]
    labels = [REFERENCE, None, REFERENCE]
    for reward in reward_sources(scoring_server.base_url):
        metrics: list[tuple[str, float]] = []
        extra: dict[str, list[Any]] = {}
        rewards = call_reward(
            reward,
            prompts=["p"] * 3,
            completions=completions,
            completion_ids=None,
            **trl_kwargs(metrics, extra, label=labels),
        )
        assert rewards == [
            pytest.approx(CASES[0].weighted_reward),
            None,
            pytest.approx(CASES[1].weighted_reward),
        ]
        assert set(extra) == {f"toolgrade/{component}" for component in COMPONENTS}
        for component in COMPONENTS:
            first, second = getattr(CASES[0], component), getattr(CASES[1], component)
            assert extra[f"toolgrade/{component}"] == [first, None, second]
            assert dict(metrics)[f"toolgrade/{component}"] == pytest.approx((first + second) / 2)


def test_a_batch_without_any_label_sends_nothing_and_returns_nones() -> None:
    # The URL is closed: a request would fail, so None answers prove none was sent.
    url = f"http://127.0.0.1:{free_port()}"
    for reward in reward_sources(url):
        assert call_reward(reward, completions=["a", "b"], label=[None, None]) == [None, None]


def test_every_reward_function_pickles_after_use(scoring_server: LiveServer) -> None:
    """TRL's async GRPO trainer pickles reward functions into its scoring process: each one
    pickles before and after its HTTP client exists, and the copy scores the same."""
    kwargs = {"completions": [CASES[1].completion], "label": [REFERENCE]}
    for reward in reward_sources(scoring_server.base_url):
        fresh_copy = pickle.loads(pickle.dumps(reward))
        expected = call_reward(reward, **kwargs)  # opens the client
        used_copy = pickle.loads(pickle.dumps(reward))
        assert used_copy.__name__ == reward.__name__ == "toolgrade_weighted_reward"
        assert call_reward(fresh_copy, **kwargs) == call_reward(used_copy, **kwargs) == expected
        assert expected == [pytest.approx(CASES[1].weighted_reward)]


def test_factory_names_profiles_and_rejects_bad_configuration_up_front() -> None:
    completion = [CASES[1].completion]
    assert make_trl_reward_function(None, profile="toolrl").__name__ == "toolgrade_toolrl_reward"
    strict = LocalRewardFunction(profile="strict", tools=[WEATHER_TOOL])
    semantic_only = LocalRewardFunction(weights={"semantic": 1}, tools=[WEATHER_TOOL])
    assert strict(completions=completion, label=[REFERENCE]) == [0.0]
    assert semantic_only(completions=completion, label=[REFERENCE]) == [
        pytest.approx(CASES[1].semantic)
    ]
    with pytest.raises(InvalidWeightsError):
        make_trl_reward_function(None, weights={"semantic": -1})
    with pytest.raises(ToolGradeError):
        make_trl_reward_function("http://127.0.0.1:1", profile="nope")
    with pytest.raises(TypeError, match="api_key"):
        make_trl_reward_function(None, api_key="k")


def test_in_process_reward_rejects_a_malformed_label_loudly() -> None:
    reward = LocalRewardFunction()
    with pytest.raises(RewardServiceError, match="rejected the batch"):
        reward(completions=["c"], label=[{"not": "a", "reference": 5}])


@pytest.mark.slow
def test_grpo_trainer_step_with_a_pickled_and_restored_sync_reward(
    scoring_server: LiveServer, tiny_model_dir: Path, grpo_dataset: Any, tmp_path: Path
) -> None:
    """The blocking reward function, pickled and restored (as TRL's async trainer does), inside
    a real GRPO step: TRL calls it, the service rewards both completions, the components reach
    TRL's logs and its completions table."""
    from trl import GRPOConfig, GRPOTrainer

    original = SyncToolGradeRewardFunction(
        scoring_server.base_url, tools=[WEATHER_TOOL], api_key=""
    )
    restored = pickle.loads(pickle.dumps(original))
    args = GRPOConfig(
        output_dir=str(tmp_path),
        max_steps=1,
        per_device_train_batch_size=2,
        num_generations=2,
        max_completion_length=8,
        use_cpu=True,
        bf16=False,
        gradient_checkpointing=False,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        seed=0,
    )
    trainer = GRPOTrainer(
        model=str(tiny_model_dir), reward_funcs=[restored], args=args, train_dataset=grpo_dataset
    )
    rewarded_before = rewards_computed(scoring_server)
    trainer.train()
    restored.close()
    assert rewards_computed(scoring_server) - rewarded_before == 2
    logged = next(entry for entry in trainer.state.log_history if "reward" in entry)
    assert logged["rewards/toolgrade_weighted_reward/mean"] == pytest.approx(logged["reward"])
    for component in COMPONENTS:
        assert 0.0 <= logged[f"toolgrade/{component}"] <= 1.0
    # TRL's completions table holds each completion's components (log_extra).
    table = trainer._logs["extra"]
    for component in COMPONENTS:
        assert len(table[f"toolgrade/{component}"]) == 2
        assert all(0.0 <= value <= 1.0 for value in table[f"toolgrade/{component}"])
