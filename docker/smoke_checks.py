"""The client side of ``docker/smoke.sh``: what a user sees of a running CPU compose stack.

Usage: ``python smoke_checks.py --api URL --reward URL --key KEY``. Prints one ``PASS`` line per
check and exits 1 at the first failure. Calls the services exactly as users do: plain HTTP for
``/ready`` and ``/reward``, the official ``openai`` SDK for a chat completion with tools.
"""

from __future__ import annotations

import argparse
import json
import sys

import httpx
from openai import OpenAI

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city.",
        # strict: the forced call's arguments follow the schema (OpenAI's and vLLM's rule).
        "strict": True,
        "parameters": {
            "type": "object",
            # An enum keeps the forced call short: the call is complete within max_tokens even
            # from the embedded default model, whose weights are random.
            "properties": {
                "city": {"type": "string", "enum": ["Oslo", "Lima"], "description": "The city."}
            },
            "required": ["city"],
        },
    },
}
# Two completions with known rewards under the default profile: the right call earns every
# component (1.0), text where a call was wanted earns none (0.0).
REFERENCE = [{"name": "get_weather", "arguments": {"city": "Oslo"}}]
REWARD_BODY = {
    "completions": [
        '<tool_call>{"name": "get_weather", "arguments": {"city": "Oslo"}}</tool_call>',
        "no idea",
    ],
    "labels": [REFERENCE, REFERENCE],
    "tools": [{"name": "get_weather", "parameters": {"city": {"type": "str"}}}],
}
EXPECTED_REWARDS = [1.0, 0.0]


class CheckFailed(Exception):
    """A check saw something other than what it expects."""


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def check_ready(base_url: str, expected_status: str) -> str:
    response = httpx.get(f"{base_url}/ready", timeout=10)
    expect(response.status_code == 200, f"{base_url}/ready answered {response.status_code}")
    body = response.json()
    expect(body.get("status") == expected_status, f"{base_url}/ready is {body}")
    return f"{base_url}/ready -> {json.dumps(body)}"


def check_reward(base_url: str, key: str) -> str:
    unauthorised = httpx.post(f"{base_url}/reward", json=REWARD_BODY, timeout=30)
    expect(unauthorised.status_code == 401, f"/reward without a key: {unauthorised.status_code}")
    response = httpx.post(
        f"{base_url}/reward",
        json=REWARD_BODY,
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    expect(response.status_code == 200, f"/reward: {response.status_code} {response.text}")
    rewards = response.json()["rewards"]
    expect(rewards == EXPECTED_REWARDS, f"/reward gave {rewards}, expected {EXPECTED_REWARDS}")
    return f"{base_url}/reward -> {rewards} (401 without the key)"


def check_chat_with_tools(base_url: str, key: str) -> str:
    client = OpenAI(base_url=f"{base_url}/v1", api_key=key, timeout=300, max_retries=0)
    model = client.models.list().data[0].id
    response = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "What is the weather in Oslo?"}],
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        max_tokens=64,
        temperature=0,
    )
    choice = response.choices[0]
    calls = choice.message.tool_calls or []
    expect(len(calls) == 1, f"expected one tool call, got {choice.message}")
    call = calls[0]
    expect(call.type == "function", f"tool call of type {call.type}")
    expect(call.function.name == "get_weather", f"called {call.function.name}")
    arguments = json.loads(call.function.arguments)
    expect(isinstance(arguments, dict), f"arguments {call.function.arguments!r} are not an object")
    # A call the request named finishes with "stop", as OpenAI and vLLM answer.
    expect(choice.finish_reason == "stop", f"finish_reason {choice.finish_reason}")
    usage = response.usage
    tokens = f"{usage.prompt_tokens}+{usage.completion_tokens} tokens" if usage else "no usage"
    return (
        f"openai SDK chat.completions with tools on {model!r}: "
        f"get_weather({call.function.arguments}), finish_reason stop, {tokens}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api", required=True, help="Base URL of the generation service.")
    parser.add_argument("--reward", required=True, help="Base URL of the reward service.")
    parser.add_argument("--key", required=True, help="TOOLGRADE_API_KEY of both services.")
    args = parser.parse_args()
    checks = [
        lambda: check_ready(args.api, "ready"),
        lambda: check_ready(args.reward, "scoring-only"),
        lambda: check_reward(args.reward, args.key),
        lambda: check_reward(args.api, args.key),
        lambda: check_chat_with_tools(args.api, args.key),
    ]
    for check in checks:
        try:
            print(f"PASS {check()}", flush=True)
        except (CheckFailed, httpx.HTTPError, ValueError) as error:
            print(f"FAIL {error}", flush=True)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
