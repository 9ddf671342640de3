"""What many test modules share: the repository root, a free port, a weather tool, Hermes text.

Fixtures live in ``tests/fixtures/`` (pytest plugins); plain values and helpers live here.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent

# The tool most tests call: an OpenAI function with one required and one enumerated argument.
WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["c", "f"]},
            },
            "required": ["city"],
        },
    },
}


def hermes(*calls: Any) -> str:
    """Qwen3/Hermes text: one ``<tool_call>`` block per call, laid out as Qwen3's template does."""
    return "\n".join(f"<tool_call>\n{json.dumps(call)}\n</tool_call>" for call in calls)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
