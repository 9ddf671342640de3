"""Reading an assistant's text back: reasoning, content, calls, and the streaming hold-back."""

from __future__ import annotations

import doctest

import pytest

from service.serving import assistant_output
from service.serving.assistant_output import AssistantStream, interpret_output


def test_docstring_examples_run() -> None:
    result = doctest.testmod(assistant_output)
    assert result.failed == 0 and result.attempted >= 3


@pytest.mark.parametrize(
    ("text", "starts_in_reasoning", "expected"),
    [
        ("<think>\na\n</think>\n\nb", False, ("a", "b")),
        ("  <think>a</think>b  ", False, ("a", "b")),
        ("<think>\n\n</think>\n\nb", False, (None, "b")),
        ("<think>cut short", False, ("cut short", None)),
        ("a</think>\n\nb", True, ("a", "b")),
        ("cut short", True, ("cut short", None)),
        ("b <think>not leading</think>", False, (None, "b <think>not leading</think>")),
        # The prompt did not open a block: a lone closing tag is part of the answer.
        ("a</think>b", False, (None, "a</think>b")),
    ],
)
@pytest.mark.parametrize("parse_tool_calls", [False, True])
def test_reasoning_and_content(
    text: str,
    starts_in_reasoning: bool,
    expected: tuple[str | None, str | None],
    parse_tool_calls: bool,
) -> None:
    output = interpret_output(
        text, parse_tool_calls=parse_tool_calls, starts_in_reasoning=starts_in_reasoning
    )
    assert (output.reasoning, output.content) == expected


def test_a_lone_closing_tag_before_a_call_keeps_the_text_before_it() -> None:
    # The reasoning split runs once: the parser must not split the answer again and lose
    # "Paris?" (read neither as reasoning nor as content).
    call = '<tool_call>\n{"name": "f", "arguments": {}}\n</tool_call>'
    output = interpret_output("Paris?</think>\n" + call, parse_tool_calls=True)
    assert [c.name for c in output.calls] == ["f"]
    assert (output.reasoning, output.content) == (None, "Paris?</think>")
    prefilled = interpret_output(
        "Paris?</think>\n" + call, parse_tool_calls=True, starts_in_reasoning=True
    )
    assert [c.name for c in prefilled.calls] == ["f"]
    assert (prefilled.reasoning, prefilled.content) == ("Paris?", None)


@pytest.mark.parametrize("starts_in_reasoning", [False, True])
def test_stream_with_a_lone_closing_tag_matches_the_whole_read(starts_in_reasoning: bool) -> None:
    pieces = ["Paris", " is far", "</think>", "\n\nSunny", " today."]
    stream = AssistantStream(parse_tool_calls=False, starts_in_reasoning=starts_in_reasoning)
    reasoning, content = _feed_all(stream, pieces)
    rest, output = stream.finish()
    assert "".join([*reasoning, rest.reasoning]) == (output.reasoning or "")
    assert "".join([*content, rest.content]) == (output.content or "")
    whole = interpret_output(
        "".join(pieces), parse_tool_calls=False, starts_in_reasoning=starts_in_reasoning
    )
    assert (output.reasoning, output.content) == (whole.reasoning, whole.content)


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
