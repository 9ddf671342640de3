"""OpenRLHF 0.11.2's own reward code calling ToolGrade: HTTP and the reward file.

OpenRLHF is installed test-only (``--no-deps``, plus ``pylatexenc``). Its
``SingleTurnAgentExecutor`` is the rollout step that asks for a reward: it tokenises the prompt,
asks the engine for a continuation, decodes prompt + response with special tokens kept and posts
``{"query": [q], "prompts": [p], "labels": [l]}`` to one URL of its list per sample (or calls
``reward_func`` from a ``.py`` file). Here the engine is a scripted stand-in that answers fixed
token ids (generation is not what is tested); the tokenizer, the executor, its HTTP code
(aiohttp, retries) and the ToolGrade servers on loopback are real.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from clients.openrlhf_reward import TOKENIZER_ENV, reward_func
from clients.prompt_stripping import ResponseNotFoundError
from service.core.rewards import REWARD_COMPONENTS, compute_rewards
from tests.clients.chat_templates import (
    end_of_reply,
    prompt_text,
    saved_template_tokenizer,
    template_tokenizer,
)
from tests.fixtures.servers import LiveServer, rewards_computed, start_server
from tests.shared import REPO_ROOT
from training.prepare import PrepareReport

REWARD_FILE = REPO_ROOT / "clients" / "openrlhf_reward.py"


class ScriptedEngine:
    """Stands for OpenRLHF's vLLM engine: answers each prompt with the next scripted reply."""

    def __init__(self, tokenizer: Any, replies: list[str]) -> None:
        self.tokenizer = tokenizer
        self.replies = list(replies)

    async def generate(self, prompt_token_ids: list[int], sampling_params: Any, **_: Any) -> Any:
        text = self.replies.pop(0)
        token_ids = self.tokenizer.encode(text, add_special_tokens=False)
        output = SimpleNamespace(
            text=text, token_ids=token_ids, finish_reason="stop", logprobs=None
        )
        return SimpleNamespace(outputs=[output])


def sampling_params() -> Any:
    return SimpleNamespace(max_tokens=256, logprobs=None)


def rollout(
    executor: Any, tokenizer: Any, rows: list[dict[str, Any]], replies: list[str]
) -> list[dict[str, Any]]:
    """OpenRLHF's rollout step for each row in turn (a batch of one per call, as it sends)."""
    engine = ScriptedEngine(tokenizer, replies)

    async def run() -> list[dict[str, Any]]:
        return [
            await executor.execute(
                row["prompt"], row["label"], sampling_params(), 4096, tokenizer, engine
            )
            for row in rows
        ]

    return asyncio.run(run())


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tiny_model_dir))


@pytest.fixture(scope="module")
def grpo_rows(prepared_xlam: tuple[Path, PrepareReport]) -> list[dict[str, Any]]:
    out, _ = prepared_xlam
    return [json.loads(line) for line in (out / "grpo" / "train.jsonl").open()]


@pytest.fixture(scope="module")
def second_server() -> Iterator[LiveServer]:
    server = start_server({"TOOLGRADE_NO_MODEL": "1", "TOOLGRADE_API_KEY": None}, wait_ready=True)
    try:
        yield server
    finally:
        server.stop()


def reply_for(row: dict[str, Any], correct: bool) -> str:
    answers = json.loads(row["label"])["answers"]
    if not answers:
        return "No function fits." if correct else '<tool_call>{"name": "x"}</tool_call>'
    call = dict(answers[0]) if correct else {"name": answers[0]["name"], "arguments": {}}
    calls = answers if correct else [call]
    return "".join(f"<tool_call>\n{json.dumps(c)}\n</tool_call>" for c in calls) + "<|im_end|>"


def expected_reward(reply: str, label: str) -> float:
    return compute_rewards([reply.removesuffix("<|im_end|>")], [label])[0].reward


def test_single_turn_executor_posts_one_sample_per_request_across_two_urls(
    scoring_server: LiveServer,
    second_server: LiveServer,
    tokenizer: Any,
    grpo_rows: list[dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    from openrlhf.utils.agent import SingleTurnAgentExecutor

    servers = [scoring_server, second_server]
    executor = SingleTurnAgentExecutor(remote_rm_url=[f"{s.base_url}/reward" for s in servers])
    rows = grpo_rows[:2]
    replies = [reply_for(rows[0], correct=True), reply_for(rows[1], correct=False)]
    before = [rewards_computed(server) for server in servers]
    # A batch of one per call; the URL rotates per call.
    outputs = rollout(executor, tokenizer, rows, replies)
    for output, row, reply in zip(outputs, rows, replies, strict=True):
        assert output["reward"] == [pytest.approx(expected_reward(reply, row["label"]))]
        assert output["scores"] == output["reward"]
        assert set(output["extra_logs"]) == set(REWARD_COMPONENTS)
    assert outputs[0]["reward"] == [1.0]
    assert outputs[1]["reward"][0] < 1.0
    # Each URL of the list got exactly one of the two samples.
    assert [rewards_computed(s) - b for s, b in zip(servers, before, strict=True)] == [1.0, 1.0]
    with capsys.disabled():
        print(
            f"\nOpenRLHF SingleTurnAgentExecutor output reward={outputs[1]['reward']} "
            f"extra_logs={outputs[1]['extra_logs']}"
        )


def test_fetch_rewards_shards_a_batch_over_the_url_list(
    scoring_server: LiveServer,
    second_server: LiveServer,
    tokenizer: Any,
    grpo_rows: list[dict[str, Any]],
) -> None:
    from openrlhf.utils.agent import SingleTurnAgentExecutor

    urls = [f"{s.base_url}/reward" for s in (scoring_server, second_server)]
    executor = SingleTurnAgentExecutor(remote_rm_url=urls)
    rows = grpo_rows[:3]
    replies = [reply_for(row, correct=True) for row in rows]
    queries = [row["prompt"] + reply for row, reply in zip(rows, replies, strict=True)]
    shards = asyncio.run(
        executor._fetch_rewards_via_http(
            queries, [r["prompt"] for r in rows], [r["label"] for r in rows]
        )
    )
    # Three samples over two URLs: shards of two and one, each reward the core's number (a
    # sample row may hold an answer value that breaks its declared type: no exec credit).
    assert [len(shard["rewards"]) for shard in shards] == [2, 1]
    assert [r for shard in shards for r in shard["rewards"]] == [
        pytest.approx(expected_reward(reply, row["label"]))
        for reply, row in zip(replies, rows, strict=True)
    ]


def test_reward_file_loaded_by_openrlhf_scores_in_process(
    tokenizer: Any,
    tiny_model_dir: Path,
    grpo_rows: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from openrlhf.utils.agent import SingleTurnAgentExecutor

    monkeypatch.setenv(TOKENIZER_ENV, str(tiny_model_dir))
    executor = SingleTurnAgentExecutor(remote_rm_url=str(REWARD_FILE))
    assert executor.reward_func is not None
    rows = grpo_rows[:2]
    replies = [reply_for(rows[0], correct=True), reply_for(rows[1], correct=False)]
    outputs = rollout(executor, tokenizer, rows, replies)
    assert [o["reward"] for o in outputs] == [
        [pytest.approx(expected_reward(reply, row["label"]))]
        for reply, row in zip(replies, rows, strict=True)
    ]
    assert outputs[0]["reward"] == [1.0]
    with capsys.disabled():
        print(
            f"\nOpenRLHF reward_func file output reward={outputs[1]['reward']} "
            f"extra_logs={outputs[1]['extra_logs']}"
        )


@pytest.mark.parametrize("family", ["chatml", "llama3", "mistral", "gemma"])
def test_reward_file_cuts_the_prompt_by_each_familys_template(
    family: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OpenRLHF re-tokenises the prompt, so the decoded query need not start with the prompt
    text it sends (here: the raw question); the chat template locates the reply."""
    monkeypatch.setenv(TOKENIZER_ENV, str(saved_template_tokenizer(family, tmp_path)))
    tool = {"name": "get_weather", "parameters": {"city": {"type": "str"}}}
    label = {"reference": [{"name": "get_weather", "arguments": {"city": "Oslo"}}], "tools": [tool]}
    example = '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>'
    question = f"Example: {example}. Weather in Oslo?"
    prompt = prompt_text(template_tokenizer(family), [{"role": "user", "content": question}])
    right = '<tool_call>{"name": "get_weather", "arguments": {"city": "Oslo"}}</tool_call>'
    queries = [
        prompt + right + end_of_reply(family),
        prompt + "I don't know." + end_of_reply(family),
    ]
    result = reward_func(queries, [question, question], [label, label])
    assert result["rewards"] == [1.0, 0.0]
    assert result["extra_logs"]["json_parse"] == [1.0, 0.0]


def test_reward_file_without_tokenizer_needs_the_prompt_prefix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(TOKENIZER_ENV, raising=False)
    with pytest.raises(ResponseNotFoundError, match=TOKENIZER_ENV):
        reward_func(["<|im_start|>assistant\nhi"], ["something else"], [[]])
