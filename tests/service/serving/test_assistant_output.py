"""Reading an assistant's text back: reasoning, content, calls, and the streaming hold-back."""

from __future__ import annotations

import doctest

import pytest

from service.serving import assistant_output
from service.serving.assistant_output import AssistantStream, interpret_output, split_reasoning


def test_docstring_examples_run() -> None:
    result = doctest.testmod(assistant_output)
    assert result.failed == 0 and result.attempted >= 5


@pytest.mark.parametrize(
    ("text", "starts_in_reasoning", "expected"),
    [
        ("<think>\na\n</think>\n\nb", False, ("a", "b")),
        ("  <think>a</think>b  ", False, ("a", "b")),
        ("<think>\n\n</think>\n\nb", False, (None, "b")),
        ("<think>cut short", False, ("cut short", "")),
        ("a</think>\n\nb", True, ("a", "b")),
        ("b <think>not leading</think>", False, (None, "b <think>not leading</think>")),
    ],
)
def test_split_reasoning(
    text: str, starts_in_reasoning: bool, expected: tuple[str | None, str]
) -> None:
    assert split_reasoning(text, starts_in_reasoning=starts_in_reasoning) == expected


def test_calls_are_only_read_when_asked_for() -> None:
    text = '<tool_call>\n{"name": "f", "arguments": {"x": 1}}\n</tool_call>'
    assert interpret_output(text, parse_tool_calls=False).calls == ()
    assert interpret_output(text, parse_tool_calls=False).content == text
    read = interpret_output(text, parse_tool_calls=True)
    assert [(c.name, dict(c.arguments)) for c in read.calls] == [("f", {"x": 1})]
    assert (read.content, read.parse_error) == (None, None)


def _feed_all(stream: AssistantStream, pieces: list[str]) -> tuple[list[str], list[str]]:
    reasoning, content = [], []
    for piece in pieces:
        delta = stream.feed(piece)
        reasoning.append(delta.reasoning)
        content.append(delta.content)
    return reasoning, content


def test_stream_holds_a_partial_closing_tag_and_trailing_space() -> None:
    stream = AssistantStream(parse_tool_calls=True)
    reasoning, content = _feed_all(
        stream, ["<thi", "nk>\nstep one ", "</thi", "nk>\n\nThe ans", "wer. "]
    )
    assert reasoning == ["", "step one", "", "", ""]
    assert content == ["", "", "", "The ans", "wer."]  # trailing space held back
    rest, output = stream.finish()
    assert (rest.reasoning, rest.content) == ("", "")
    assert (output.reasoning, output.content) == ("step one", "The answer.")
    # A lone word might be the start of a Python-style call: held until it cannot be.
    lone = AssistantStream(parse_tool_calls=True)
    assert _feed_all(lone, ["Paris", " is sunny"])[1] == ["", "Paris is sunny"]


def test_stream_holds_possible_calls_until_the_end() -> None:
    stream = AssistantStream(parse_tool_calls=True)
    _, content = _feed_all(stream, ["Sure. ", '<tool_call>\n{"name": "f", ', '"arguments": {}}'])
    assert "".join(content) == "Sure."
    rest, output = stream.finish()
    assert rest.content == ""  # the call is not content
    assert [call.name for call in output.calls] == ["f"]
    text_only = AssistantStream(parse_tool_calls=False)
    _, content = _feed_all(text_only, ["Sure. ", "<tool_call>{"])
    assert "".join(content) == "Sure. <tool_call>{"
