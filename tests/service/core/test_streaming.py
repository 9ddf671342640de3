"""Reading a Hermes block while it is written: every settled prefix is a prefix of what the
finished call renders, whatever the spacing, nesting and escapes of the model's JSON."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from service.core.parsing import parse_answer
from service.core.parsing.streaming import OpenCall, arguments_json, open_hermes_call
from tests.service.core.test_matching import JSON_VALUES


@settings(max_examples=150, deadline=None)
@given(
    arguments=st.dictionaries(st.text(max_size=6), JSON_VALUES, max_size=4),
    compact=st.booleans(),
    ascii_only=st.booleans(),
    name=st.from_regex(r"[A-Za-z_][A-Za-z0-9_.]{0,10}", fullmatch=True),
)
def test_every_settled_prefix_starts_the_finished_calls_arguments(
    arguments: dict[str, Any], compact: bool, ascii_only: bool, name: str
) -> None:
    separators = (",", ":") if compact else (", ", ": ")
    body = json.dumps(
        {"name": name, "arguments": arguments}, separators=separators, ensure_ascii=ascii_only
    )
    text = f"Sure.\n<tool_call>\n{body}\n</tool_call>"
    (call,) = parse_answer(text).calls
    final = arguments_json(call.arguments)
    seen_name = False
    settled = ""
    for end in range(len(text)):
        open_call = open_hermes_call(text[:end])
        if open_call is None:
            assert not seen_name or "</tool_call>" in text[:end]
            continue
        seen_name = True
        assert (open_call.position, open_call.name) == (0, name)
        assert final.startswith(open_call.arguments)
        assert open_call.arguments.startswith(settled)  # settled text never moves back
        settled = open_call.arguments
    assert seen_name
    if len(arguments) > 1:
        assert settled  # all but the last argument settled before the block closed


def test_only_the_last_unclosed_block_is_open_and_it_counts_the_blocks_before() -> None:
    text = '<tool_call>{"name": "f", "arguments": {}}</tool_call>\n<tool_call>{"name": "g", '
    assert open_hermes_call(text) == OpenCall(position=1, name="g", arguments="")
    assert open_hermes_call(text + '"arguments": {}}</tool_call>') is None
    assert open_hermes_call('<tool_call>{"name": " ", ') is None  # a blank name is no name
    assert open_hermes_call('<tool_call>{"arguments": {"a": 1}, "name": "f", ') is None
