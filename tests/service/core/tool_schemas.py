"""Tool schemas shared by the metrics and reward tests: one in OpenAI form, one plain."""

from __future__ import annotations

from typing import Any

# OpenAI form, two required parameters and one optional.
GET_USER: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_user",
        "description": "Look a user up.",
        "parameters": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "age": {"type": "integer"},
                "city": {"type": "string"},
            },
            "required": ["name", "age"],
        },
    },
}


def get_weather(object_type: str = "object") -> dict[str, Any]:
    """A plain (BFCL-style) schema; ``object_type="dict"`` gives BFCL's own spelling."""
    return {
        "name": "get_weather",
        "description": "Weather for a city.",
        "parameters": {
            "type": object_type,
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    }
