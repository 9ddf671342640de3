"""``service.serving.scoring``: how OpenRLHF queries become completions, and batch limits."""

from __future__ import annotations

import pytest

from service.config import Settings
from service.core.errors import ToolGradeError
from service.errors import BatchTooLargeError
from service.protocol.reward import RewardRequest
from service.serving.scoring import (
    ScoringService,
    completion_from_query,
    resolve_completions,
)
from service.serving.telemetry import Telemetry

PROMPT = "<|im_start|>user\nWeather?<|im_end|>\n<|im_start|>assistant\n"


@pytest.mark.parametrize(
    ("query", "prompt", "expected"),
    [
        # The prompt is a prefix: everything after it, end-of-turn tokens dropped.
        (PROMPT + "It is sunny.<|im_end|>", PROMPT, "It is sunny."),
        (PROMPT + "It is sunny.<|im_end|>\n<|endoftext|>", PROMPT, "It is sunny."),
        # Decoding changed the prompt (or prompts were chat messages): the last header wins.
        (PROMPT + "Answer<|im_end|>", "a different rendering", "Answer"),
        (PROMPT + "Answer", [{"role": "user", "content": "Weather?"}], "Answer"),
        (PROMPT + "Answer", None, "Answer"),
        # Only the last assistant turn is the response.
        (PROMPT + "first<|im_end|>\n<|im_start|>assistant\nsecond", None, "second"),
        # Whitespace inside the answer is kept; only trailing markers go.
        (PROMPT + "  spaced  ", PROMPT, "  spaced  "),
        ("Q: 2+2? A: 4</s>", "Q: 2+2? A:", " 4"),
    ],
)
def test_completion_from_query(query: str, prompt: object, expected: str) -> None:
    assert completion_from_query(query, prompt) == expected


def test_query_without_prompt_or_header_is_refused() -> None:
    with pytest.raises(ToolGradeError) as refused:
        completion_from_query("just some text", "another prompt", index=3)
    assert refused.value.label == "reward:no_response_in_query"
    assert refused.value.param == "query.3"


def test_given_completions_win_over_query() -> None:
    request = RewardRequest(completions=["c"], query=["q"], labels=[[]])
    assert resolve_completions(request) == ["c"]


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"completions": ["a", "b"]}, "completions"),
        ({"query": [PROMPT + "a", PROMPT + "b"]}, "query"),
        ({"query": [PROMPT + "a"], "prompts": [PROMPT, PROMPT]}, "prompts"),
    ],
)
def test_lengths_must_match_the_labels(fields: dict[str, object], param: str) -> None:
    with pytest.raises(ToolGradeError) as refused:
        resolve_completions(RewardRequest(labels=[[]], **fields))
    assert (refused.value.label, refused.value.param) == ("reward:length_mismatch", param)


async def test_batch_limit_is_checked_before_scoring() -> None:
    service = ScoringService(Settings(no_model=True, max_batch_items=2), Telemetry.create())
    assert (await service.reward(RewardRequest(completions=["x"] * 2, labels=[[]] * 2))).rewards
    with pytest.raises(BatchTooLargeError) as refused:
        await service.reward(RewardRequest(completions=["x"] * 3, labels=[[]] * 3))
    assert refused.value.param == "labels"
