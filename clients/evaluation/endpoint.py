"""How an evaluation item becomes a chat-completions request, and the answer a prediction.

Tool schemas in any supported form are sent as OpenAI function tools built from the core's
normalised JSON Schema, so an xLAM or BFCL dataset runs unchanged against any
OpenAI-compatible endpoint. OpenAI-style APIs only accept names matching
``^[a-zA-Z0-9_-]{1,64}$``, while BFCL uses names such as ``math.factorial``: such names are
sent under a safe alias and mapped back in the answer (BFCL's own OpenAI handler does the same
with ``.`` → ``_``), so the scorer sees the dataset's names.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from service.core.schema import normalise_tools, openai_tool

_API_SAFE_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """The request for one item plus the alias table needed to read its answer."""

    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    dataset_name_of: Mapping[str, str] = field(default_factory=dict)


def build_chat_request(
    messages: Sequence[Mapping[str, Any]], tools: Sequence[Mapping[str, Any]]
) -> ChatRequest:
    """Turn an item's turns and tool schemas into an OpenAI chat request body's parts.

    Example:
        >>> request = build_chat_request(
        ...     [{"role": "user", "content": "5!"}],
        ...     [{"name": "math.factorial", "parameters": {"type": "dict",
        ...       "properties": {"number": {"type": "integer"}}, "required": ["number"]}}],
        ... )
        >>> request.tools[0]["function"]["name"], dict(request.dataset_name_of)
        ('math_factorial', {'math_factorial': 'math.factorial'})
    """
    specs = normalise_tools(list(tools))
    taken = {name for name in specs if _API_SAFE_NAME.match(name)}
    api_tools = []
    dataset_name_of: dict[str, str] = {}
    for name, spec in specs.items():
        api_name = name
        if not _API_SAFE_NAME.match(name):
            api_name = _api_safe_alias(name, taken)
            taken.add(api_name)
            dataset_name_of[api_name] = name
        api_tools.append(openai_tool(spec, name=api_name))
    return ChatRequest(
        messages=[dict(message) for message in messages],
        tools=api_tools,
        dataset_name_of=dataset_name_of,
    )


def prediction_from_message(
    message: Mapping[str, Any], dataset_name_of: Mapping[str, str]
) -> dict[str, Any]:
    """The assistant message as a prediction for the core, with aliased names mapped back.

    Only ``role``, ``content``, the reasoning and ``tool_calls`` are kept: the rest of an SDK
    message (audio, annotations, refusal ...) says nothing about the calls. The reasoning is
    read from ``reasoning`` (vLLM 0.32 and ToolGrade) or ``reasoning_content`` (older servers).

    Example:
        >>> prediction_from_message(
        ...     {"role": "assistant", "content": None, "tool_calls": [{"id": "c1",
        ...      "type": "function", "function": {"name": "math_factorial",
        ...      "arguments": "{\\"number\\": 5}"}}]},
        ...     {"math_factorial": "math.factorial"},
        ... )["tool_calls"][0]["function"]["name"]
        'math.factorial'
    """
    prediction: dict[str, Any] = {"role": "assistant", "content": message.get("content")}
    reasoning = message.get("reasoning") or message.get("reasoning_content")
    if reasoning:
        prediction["reasoning_content"] = reasoning
    tool_calls = message.get("tool_calls")
    if tool_calls:
        prediction["tool_calls"] = [_rename_call(call, dataset_name_of) for call in tool_calls]
    return prediction


def _rename_call(call: Mapping[str, Any], dataset_name_of: Mapping[str, str]) -> dict[str, Any]:
    function = dict(call.get("function") or {})
    name = function.get("name")
    if isinstance(name, str) and name in dataset_name_of:
        function["name"] = dataset_name_of[name]
    renamed = {key: value for key, value in call.items() if key != "function"}
    renamed["function"] = function
    return renamed


def _api_safe_alias(name: str, taken: set[str]) -> str:
    """``math.factorial`` → ``math_factorial``; a stable hash suffix settles clashes/length."""
    alias = re.sub(r"[^a-zA-Z0-9_-]", "_", name)[:64] or "tool"
    if alias not in taken:
        return alias
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    return f"{alias[:55]}_{digest}"
