"""verl's own reward code loading and calling :mod:`clients.verl_reward` on prepare's parquet.

verl 0.9.1 is installed test-only (``--no-deps``, with ray, msgpack, tensordict, pyvers and
omegaconf). The tests go through verl's loader (``get_custom_reward_fn`` /
``load_reward_manager``), its reward-loop ``NaiveRewardManager`` (one sample per call, sync or
async ``compute_score``) and its ``BatchRewardManager`` (the whole batch in one call), with
responses tokenised by the project's tiny Qwen3 tokenizer into verl's ``DataProto``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest

import clients.verl_reward as verl_reward
from clients.http import AsyncToolGradeClient
from service.core.rewards import REWARD_COMPONENTS, compute_rewards
from tests.fixtures.servers import LiveServer
from tests.shared import REPO_ROOT, free_port
from training.prepare import PrepareReport


def verl_config(name: str, manager: str = "naive", **reward_kwargs: Any) -> Any:
    """The ``reward`` part of verl's trainer config, as a user writes it on the command line."""
    from omegaconf import OmegaConf

    return OmegaConf.create(
        {
            "reward": {
                "num_workers": 1,
                "custom_reward_function": {
                    "path": "pkg://clients.verl_reward",
                    "name": name,
                    "reward_kwargs": reward_kwargs,
                },
                "reward_manager": {"source": "register", "name": manager},
            }
        }
    )


def read_parquet_rows(path: Path) -> list[dict[str, Any]]:
    """Rows as verl reads them (pandas, nested values as numpy arrays / dicts)."""
    import pandas as pd

    return list(pd.read_parquet(path).to_dict("records"))


def answer_text(row: dict[str, Any], correct: bool) -> str:
    """A Hermes-style reply: the reference calls, or the first call with a changed value."""
    answers = json.loads(row["reward_model"]["ground_truth"])["answers"]
    if not answers:
        return "None of the functions fit." if correct else '{"name": "x", "arguments": {}}'
    calls = [dict(call) for call in answers]
    if not correct:
        first = dict(calls[0]["arguments"])
        key = next(iter(first), None)
        if key is None:
            return "I will not call anything."
        first[key] = "__wrong__"
        calls[0] = {"name": calls[0]["name"], "arguments": first}
    return "".join(f"<tool_call>\n{json.dumps(call)}\n</tool_call>" for call in calls)


def data_proto(tokenizer: Any, rows: Sequence[dict[str, Any]], replies: Sequence[str]) -> Any:
    """verl's batch: left-padded prompts, right-padded responses, the row's non-tensor fields."""
    import numpy as np
    import torch
    from verl import DataProto

    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    prompt_ids = [tokenizer.encode("<|im_start|>user\nQ<|im_end|>\n")] * len(rows)
    response_ids = [tokenizer.encode(reply + "<|im_end|>") for reply in replies]
    prompt_len = max(len(ids) for ids in prompt_ids)
    response_len = max(len(ids) for ids in response_ids)
    prompts = torch.full((len(rows), prompt_len), pad)
    responses = torch.full((len(rows), response_len), pad)
    mask = torch.zeros((len(rows), prompt_len + response_len), dtype=torch.long)
    for index, (p_ids, r_ids) in enumerate(zip(prompt_ids, response_ids, strict=True)):
        prompts[index, prompt_len - len(p_ids) :] = torch.tensor(p_ids)
        responses[index, : len(r_ids)] = torch.tensor(r_ids)
        mask[index, prompt_len - len(p_ids) : prompt_len + len(r_ids)] = 1
    return DataProto.from_dict(
        tensors={
            "prompts": prompts,
            "responses": responses,
            "input_ids": torch.cat([prompts, responses], dim=1),
            "attention_mask": mask,
        },
        non_tensors={
            "data_source": np.array([row["data_source"] for row in rows], dtype=object),
            "reward_model": np.array([row["reward_model"] for row in rows], dtype=object),
            "extra_info": np.array([dict(row["extra_info"]) for row in rows], dtype=object),
        },
    )


def expected_scores(rows: Sequence[dict[str, Any]], replies: Sequence[str]) -> list[float]:
    labels = [row["reward_model"]["ground_truth"] for row in rows]
    return [b.reward for b in compute_rewards(list(replies), labels)]


@pytest.fixture(scope="module")
def verl_rows(prepared_xlam: tuple[Path, PrepareReport]) -> list[dict[str, Any]]:
    out, report = prepared_xlam
    rows = read_parquet_rows(out / "verl" / "train.parquet")
    assert len(rows) == report.splits["train"]
    return rows


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tiny_model_dir))


def test_prepare_writes_the_parquet_verl_reads(
    prepared_xlam: tuple[Path, PrepareReport], verl_rows: list[dict[str, Any]]
) -> None:
    out, report = prepared_xlam
    eval_rows = read_parquet_rows(out / "verl" / "eval.parquet")
    assert len(verl_rows) + len(eval_rows) == report.kept
    grpo_ids = [json.loads(line)["id"] for line in (out / "grpo" / "train.jsonl").open()]
    assert [row["extra_info"]["id"] for row in verl_rows] == grpo_ids
    row = verl_rows[0]
    assert set(row) == {"data_source", "prompt", "ability", "reward_model", "extra_info"}
    assert [message["role"] for message in row["prompt"]] == ["system", "user"]
    # The row's own tools are in the system turn (verl renders one tool list for all rows).
    for tool in json.loads(row["extra_info"]["tools"]):
        assert f'"name": "{tool["function"]["name"]}"' in row["prompt"][0]["content"]
    assert row["reward_model"]["style"] == "rule"


def test_get_custom_reward_fn_loads_each_function_by_package_and_by_file(
    verl_rows: list[dict[str, Any]],
) -> None:
    from verl.trainer.ppo.reward import get_custom_reward_fn

    row = verl_rows[0]
    reply = answer_text(row, correct=True)
    by_package = get_custom_reward_fn(verl_config("compute_score", profile="strict"))
    file_config = verl_config("compute_score")
    file_config.reward.custom_reward_function.path = str(REPO_ROOT / "clients/verl_reward.py")
    by_file = get_custom_reward_fn(file_config)
    for reward in (by_package, by_file):
        result = reward(
            data_source=row["data_source"],
            solution_str=reply,
            ground_truth=row["reward_model"]["ground_truth"],
            extra_info=row["extra_info"],
        )
        assert result["score"] == 1.0
        assert set(result) == {"score", *REWARD_COMPONENTS}


def test_naive_reward_manager_from_load_reward_manager_scores_a_batch(
    verl_rows: list[dict[str, Any]], tokenizer: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from verl.experimental.reward_loop.reward_manager import NaiveRewardManager
    from verl.trainer.ppo.reward import load_reward_manager

    manager = load_reward_manager(verl_config("compute_score"), tokenizer)
    assert isinstance(manager, NaiveRewardManager)
    rows = verl_rows[:4]
    replies = [answer_text(row, correct=index % 2 == 0) for index, row in enumerate(rows)]
    data = data_proto(tokenizer, rows, replies)

    async def score_all() -> list[dict[str, Any]]:
        return list(
            await asyncio.gather(*(manager.run_single(data[i : i + 1]) for i in range(len(rows))))
        )

    results = manager.loop.run_until_complete(score_all())
    scores = [result["reward_score"] for result in results]
    assert scores == pytest.approx(expected_scores(rows, replies))
    assert scores[0] == 1.0 and scores[1] < 1.0
    for result in results:
        assert set(result["reward_extra_info"]) >= set(REWARD_COMPONENTS)
    with capsys.disabled():
        print(f"\nverl NaiveRewardManager.run_single -> {results[1]}")


def test_batch_reward_manager_calls_the_batch_function_once(
    verl_rows: list[dict[str, Any]], tokenizer: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """verl 0.9.1 registers ``batch`` only in its legacy ``verl.workers.reward_manager``
    registry (``load_reward_manager`` resolves names in the reward-loop registry), so the
    manager is built as verl's legacy trainer builds it, with the function verl's loader gives."""
    from verl.trainer.ppo.reward import get_custom_reward_fn
    from verl.workers.reward_manager import get_reward_manager_cls

    compute_score = get_custom_reward_fn(verl_config("compute_score_batch"))
    manager = get_reward_manager_cls("batch")(
        tokenizer=tokenizer, num_examine=1, compute_score=compute_score
    )
    rows = verl_rows[:6]
    replies = [answer_text(row, correct=index < 3) for index, row in enumerate(rows)]
    result = manager(data_proto(tokenizer, rows, replies), return_dict=True)
    printed = capsys.readouterr().out
    rewards = result["reward_tensor"].sum(dim=1).tolist()
    assert rewards == pytest.approx(expected_scores(rows, replies))
    assert result["reward_extra_info"]["semantic"][:3] == [1.0, 1.0, 1.0]
    score_line = next(line for line in printed.splitlines() if line.startswith("[score]"))
    assert "'json_parse'" in score_line
    with capsys.disabled():
        print(f"\nverl BatchRewardManager printed: {score_line}")


def test_full_sequence_mode_cuts_the_prompt_by_the_chat_template(
    verl_rows: list[dict[str, Any]], tokenizer: Any, tiny_model_dir: Path
) -> None:
    """The ToolRL / Tool-N1 set-up: prompt + response decoded together, special tokens kept;
    the prompt's system turn lists the tools (and could show example calls)."""
    from verl.trainer.ppo.reward import get_custom_reward_fn

    reward = get_custom_reward_fn(
        verl_config("compute_score", full_sequence=True, tokenizer=str(tiny_model_dir))
    )
    row = verl_rows[0]
    prompt = tokenizer.apply_chat_template(
        [dict(message) for message in row["prompt"]], tokenize=False, add_generation_prompt=True
    )
    right, wrong = answer_text(row, correct=True), answer_text(row, correct=False)
    truth = row["reward_model"]["ground_truth"]
    full_right = reward(None, prompt + right + "<|im_end|>", truth)
    full_wrong = reward(None, prompt + wrong + "<|im_end|>", truth)
    assert full_right == verl_reward.compute_score(None, right, truth)
    assert full_wrong == verl_reward.compute_score(None, wrong, truth)
    assert full_right["score"] == 1.0 > full_wrong["score"]
    with pytest.raises(ValueError, match="tokenizer"):
        verl_reward.compute_score(None, right, truth, full_sequence=True)


class CountingClient(AsyncToolGradeClient):
    """The real async client, counting the ``/reward`` requests it sends."""

    requests: ClassVar[list[int]] = []

    async def reward(self, completions: Any, labels: Any, **kwargs: Any) -> Any:
        CountingClient.requests.append(len(labels))
        return await super().reward(completions, labels, **kwargs)


def test_async_remote_reward_in_the_naive_manager_batches_concurrent_samples(
    scoring_server: LiveServer,
    verl_rows: list[dict[str, Any]],
    tokenizer: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from verl.trainer.ppo.reward import load_reward_manager

    monkeypatch.setattr(verl_reward, "AsyncToolGradeClient", CountingClient)
    CountingClient.requests = []
    config = verl_config(
        "compute_score_remote", reward_url=scoring_server.base_url, api_key="", max_wait_s=0.05
    )
    manager = load_reward_manager(config, tokenizer)
    assert manager.is_async_reward_score
    rows = verl_rows[:8]
    replies = [answer_text(row, correct=index % 3 != 0) for index, row in enumerate(rows)]
    data = data_proto(tokenizer, rows, replies)

    async def score_all() -> list[dict[str, Any]]:
        return list(
            await asyncio.gather(*(manager.run_single(data[i : i + 1]) for i in range(len(rows))))
        )

    results = manager.loop.run_until_complete(score_all())
    assert [r["reward_score"] for r in results] == pytest.approx(expected_scores(rows, replies))
    # Eight concurrent samples, far fewer requests (each sample once).
    assert sum(CountingClient.requests) == len(rows)
    assert len(CountingClient.requests) < len(rows)


def test_remote_reward_failure_raises_instead_of_scoring_zero(
    verl_rows: list[dict[str, Any]],
) -> None:
    row = verl_rows[0]

    async def call() -> dict[str, float]:
        return await verl_reward.compute_score_remote(
            None,
            answer_text(row, correct=True),
            row["reward_model"]["ground_truth"],
            reward_url=f"http://127.0.0.1:{free_port()}",
            timeout=2,
        )

    with pytest.raises(verl_reward.RewardServiceError, match="placeholder"):
        asyncio.run(call())
