"""OpenRLHF reward file: ToolGrade's reward in-process, no service to run.

Pass this file's path as OpenRLHF's remote reward::

    --reward.remote_url "$(python -c 'import clients.openrlhf_reward as m; print(m.__file__)')"

OpenRLHF loads a ``.py`` remote reward by path and calls ``reward_func(queries, prompts,
labels)`` (one sample per call, in a worker thread), where a query is the prompt and the
response decoded together with special tokens kept, a prompt is the chat-templated prompt text
and a label comes from the dataset column named by ``--data.label_key``. The answer has the
shape ``/reward`` returns: ``{"rewards", "scores", "extra_logs": {component: [...]}}``.

The reply is cut out of the query by the policy's chat template
(:class:`clients.prompt_stripping.PromptStripper`), which works for every model family; set
``TOOLGRADE_REWARD_TOKENIZER`` to the policy's tokenizer (``--actor.model_name_or_path``).
Without it only a query that starts with its prompt can be split. Also read from the
environment:
``TOOLGRADE_REWARD_PROFILE`` (``weighted``, ``strict``, ``toolrl``) and ``TOOLGRADE_REWARD_WEIGHTS``
(a JSON object of component weights).

A label the core cannot read, or a query whose reply cannot be located, raises: OpenRLHF logs
the error and leaves that sample without a reward instead of training on a made-up 0.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

from clients.prompt_stripping import ResponseNotFoundError, prompt_stripper_for
from clients.trl import DEFAULT_PROFILE
from service.core.rewards import REWARD_COMPONENTS, compute_rewards

TOKENIZER_ENV = "TOOLGRADE_REWARD_TOKENIZER"
PROFILE_ENV = "TOOLGRADE_REWARD_PROFILE"
WEIGHTS_ENV = "TOOLGRADE_REWARD_WEIGHTS"


def reward_func(
    queries: Sequence[str], prompts: Sequence[str], labels: Sequence[Any]
) -> dict[str, Any]:
    """Reward OpenRLHF samples in-process.

    Args:
        queries: Prompt + response, decoded together (special tokens kept).
        prompts: The prompts (cut off the queries they start).
        labels: One label each: a reference or ``{"answers"|"reference", "tools"}``.

    Returns:
        ``{"rewards": [...], "scores": [...], "extra_logs": {component: [...]}}``.

    Raises:
        ToolGradeError: A label is malformed.
        ResponseNotFoundError: A reply cannot be told from its prompt.

    Example:
        >>> prompt = "<|im_start|>user\\nIs 7 prime?<|im_end|>\\n<|im_start|>assistant\\n"
        >>> reply = '<tool_call>{"name": "is_prime", "arguments": {"n": 7}}</tool_call>'
        >>> label = {"answers": [{"name": "is_prime", "arguments": {"n": 7}}],
        ...          "tools": [{"name": "is_prime", "parameters": {"n": {"type": "int"}}}]}
        >>> reward_func([prompt + reply], [prompt], [label])["rewards"]
        [1.0]
    """
    tokenizer = os.environ.get(TOKENIZER_ENV) or None
    completions = [
        response_text(query, prompt, tokenizer)
        for query, prompt in zip(queries, prompts, strict=True)
    ]
    weights_json = os.environ.get(WEIGHTS_ENV)
    breakdowns = compute_rewards(
        completions,
        list(labels),
        weights=json.loads(weights_json) if weights_json else None,
        profile=os.environ.get(PROFILE_ENV) or DEFAULT_PROFILE,
    )
    rewards = [b.reward for b in breakdowns]
    return {
        "rewards": rewards,
        "scores": list(rewards),
        "extra_logs": {c: [getattr(b, c) for b in breakdowns] for c in REWARD_COMPONENTS},
    }


def response_text(query: str, prompt: str | None, tokenizer: str | None) -> str:
    """The reply inside an OpenRLHF query.

    Args:
        query: Prompt + response decoded together.
        prompt: The prompt text.
        tokenizer: The policy's tokenizer (name or path) whose chat template marks the reply.

    Returns:
        The reply, without end-of-turn tokens when the tokenizer is known.

    Raises:
        ResponseNotFoundError: Neither the prompt nor the chat template locates the reply.

    Example:
        >>> response_text("Q: 2+2? A: 4", "Q: 2+2? A:", None)
        ' 4'
    """
    if tokenizer is not None:
        return prompt_stripper_for(tokenizer).response(query, prompt)
    if prompt and query.startswith(prompt):
        return query[len(prompt) :]
    raise ResponseNotFoundError(
        f"the query does not start with its prompt; set {TOKENIZER_ENV} to the policy's "
        "tokenizer so its chat template can locate the reply"
    )
