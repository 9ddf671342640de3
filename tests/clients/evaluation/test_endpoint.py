"""Items become OpenAI chat requests; answers become predictions in the dataset's names."""

from __future__ import annotations

from clients.evaluation.endpoint import build_chat_request, prediction_from_message

XLAM_TOOL = {
    "name": "sum_list",
    "description": "Sum numbers.",
    "parameters": {
        "xs": {"type": "List[int]", "description": "numbers"},
        "start": {"type": "int, optional", "default": "0"},
    },
}


def test_xlam_tool_is_sent_as_an_openai_function_with_json_schema() -> None:
    request = build_chat_request([{"role": "user", "content": "sum 1 2"}], [XLAM_TOOL])
    assert request.tools == [
        {
            "type": "function",
            "function": {
                "name": "sum_list",
                "description": "Sum numbers.",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "xs": {
                            "type": "array",
                            "items": {"type": "integer"},
                            "description": "numbers",
                        },
                        "start": {"type": "integer", "default": "0"},
                    },
                    "required": ["xs"],
                    "additionalProperties": False,
                },
            },
        }
    ]
    assert request.messages == [{"role": "user", "content": "sum 1 2"}]
    assert request.dataset_name_of == {}


def test_openai_tool_keeps_its_name_and_parameters() -> None:
    tool = {
        "type": "function",
        "function": {
            "name": "get-weather_2",
            "description": "w",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
    (sent,) = build_chat_request([], [tool]).tools
    assert sent["function"]["name"] == "get-weather_2"
    assert sent["function"]["parameters"]["properties"] == {"city": {"type": "string"}}
    assert sent["function"]["parameters"]["required"] == ["city"]


def test_aliases_never_collide_with_declared_names() -> None:
    tools = [
        {"name": "a.b", "parameters": {"type": "dict", "properties": {}}},
        {"name": "a_b", "parameters": {"type": "dict", "properties": {}}},
    ]
    request = build_chat_request([], tools)
    names = [tool["function"]["name"] for tool in request.tools]
    assert names[1] == "a_b"
    assert names[0].startswith("a_b_") and len(names[0]) == len("a_b_") + 8
    assert request.dataset_name_of == {names[0]: "a.b"}


def test_long_names_are_shortened_to_the_api_limit() -> None:
    name = "x." + "y" * 80
    request = build_chat_request([], [{"name": name, "parameters": {"type": "dict"}}])
    alias = request.tools[0]["function"]["name"]
    assert len(alias) == 64
    assert request.dataset_name_of == {alias: name}


def test_prediction_keeps_content_reasoning_and_calls_only() -> None:
    message = {
        "role": "assistant",
        "content": "thinking done",
        "reasoning_content": "because",
        "refusal": None,
        "annotations": [],
        "tool_calls": [
            {"id": "c", "type": "function", "function": {"name": "a_b", "arguments": "{}"}}
        ],
    }
    assert prediction_from_message(message, {"a_b": "a.b"}) == {
        "role": "assistant",
        "content": "thinking done",
        "reasoning_content": "because",
        "tool_calls": [
            {"id": "c", "type": "function", "function": {"name": "a.b", "arguments": "{}"}}
        ],
    }
    assert prediction_from_message({"role": "assistant", "content": "hi"}, {}) == {
        "role": "assistant",
        "content": "hi",
    }


def test_reasoning_is_read_under_vllms_name_too() -> None:
    vllm_message = {"role": "assistant", "content": "hi", "reasoning": "because"}
    assert prediction_from_message(vllm_message, {})["reasoning_content"] == "because"
