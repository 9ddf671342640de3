"""``POST /generate`` over HTTP: the live vLLM engine, request errors, scoring-only mode."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from service.core.schema import normalise_tool, validate_arguments
from tests.fixtures.models import requires_vllm

# An xLAM-style tool (Python type strings): /generate takes any form the scorer understands.
XLAM_TOOL = {
    "name": "set_volume",
    "description": "Set the speaker volume",
    "parameters": {
        "level": {"type": "int", "description": "0 to 10"},
        "muted": {"type": "bool, optional", "default": False},
    },
}
MESSAGES = [{"role": "user", "content": "Turn the volume up."}]


def _post(server: Any, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{server.base_url}/generate", json=body, timeout=120)


@requires_vllm
@pytest.mark.slow
def test_required_call_with_an_xlam_tool_comes_back_decoded(engine_server: Any) -> None:
    response = _post(
        engine_server,
        {
            "messages": MESSAGES,
            "tools": [XLAM_TOOL],
            "tool_choice": "required",
            "max_tokens": 48,
            "temperature": 0,
        },
    )
    assert response.status_code == 200, response.text
    (output,) = response.json()["outputs"]
    assert output["finish_reason"] == "tool_calls"
    assert output["parse_error"] is None
    assert output["text"].startswith('<tool_call>\n{"name":"set_volume","arguments":')
    assert output["text"].endswith("}\n</tool_call>")
    (call,) = output["tool_calls"]
    assert call["name"] == "set_volume"
    assert isinstance(call["arguments"]["level"], int)  # decoded, ready for /score
    assert validate_arguments(normalise_tool(XLAM_TOOL), call["arguments"]) is None


@requires_vllm
@pytest.mark.slow
@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"prompt": "hi", "messages": MESSAGES}, 400, "request:value_error"),
        ({"prompt": "hi", "lora": "missing-adapter"}, 400, "request:unknown_model"),
        ({"prompt": "hi " * 3000, "max_tokens": 8}, 400, "request:context_length_exceeded"),
        ({"prompt": "hi", "n": 2, "temperature": 0}, 400, "request:greedy_with_n"),
        (
            {"messages": MESSAGES, "tools": [{"name": "f", "parameters": 5}]},
            400,
            "schema:invalid_parameters",
        ),
    ],
)
def test_bad_requests_are_400_in_the_openai_envelope(
    engine_server: Any, body: dict[str, Any], status: int, code: str
) -> None:
    response = _post(engine_server, body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["type"] == "invalid_request_error"


def test_scoring_only_mode_answers_503(scoring_server: Any) -> None:
    response = _post(scoring_server, {"prompt": "hi"})
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "engine:scoring_only"
    chat = httpx.post(
        f"{scoring_server.base_url}/v1/chat/completions",
        json={"model": "x", "messages": MESSAGES},
        timeout=30,
    )
    assert chat.status_code == 503
