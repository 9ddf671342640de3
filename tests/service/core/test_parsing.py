"""parse_calls: every prediction form, every label, and properties (hypothesis)."""

from __future__ import annotations

import json
import keyword
from collections import OrderedDict
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from service.core.parsing import labels, parse_answer, parse_calls, split_reasoning
from service.core.parsing.embedded import MAX_FAILED_DECODES, bracket_pairs
from service.core.types import ParseResult, ToolCall
from tests.shared import hermes

WEATHER = {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}
WEATHER_CALL = ToolCall("get_weather", {"city": "Paris", "unit": "celsius"})
TIME_CALL = ToolCall("get_time", {"zone": "UTC"})


def calls_of(prediction: Any) -> list[tuple[str, dict[str, Any]]]:
    result = parse_calls(prediction)
    assert result.error is None, result
    return [(call.name, dict(call.arguments)) for call in result.calls]


def error_of(prediction: Any) -> str | None:
    result = parse_calls(prediction)
    if result.error is not None:
        assert result.calls == ()  # malformed markup never yields calls (no partial credit)
    return result.error


# --- Hermes / Qwen3 ---------------------------------------------------------------------------


def test_one_hermes_block() -> None:
    result = parse_calls(hermes(WEATHER))

    assert result == ParseResult(calls=(WEATHER_CALL,), form="hermes")


def test_several_hermes_blocks_with_text_around_them() -> None:
    text = "Let me check.\n" + hermes(WEATHER, {"name": "get_time", "arguments": {"zone": "UTC"}})

    result = parse_calls(text + "\nDone.")

    assert result.calls == (WEATHER_CALL, TIME_CALL)
    assert (result.form, result.content) == ("hermes", "Let me check.\n\n\nDone.")


def test_hermes_after_think_block_keeps_the_reasoning_apart() -> None:
    text = "<think>\nThe user wants the weather.\n</think>\n\n" + hermes(WEATHER)

    result = parse_calls(text)

    assert result.calls == (WEATHER_CALL,)
    assert (result.reasoning, result.content, result.form) == (
        "The user wants the weather.",
        None,
        "hermes",
    )


def test_qwen3_empty_think_block_from_non_thinking_mode() -> None:
    result = parse_calls("<think>\n\n</think>\n\n" + hermes(WEATHER))

    assert (result.calls, result.reasoning) == ((WEATHER_CALL,), "")


def test_prefilled_think_tag_leaves_only_the_closing_tag() -> None:
    result = parse_calls("Paris, so get_weather.\n</think>\n" + hermes(WEATHER))

    assert (result.calls, result.reasoning) == ((WEATHER_CALL,), "Paris, so get_weather.")


@pytest.mark.parametrize(
    ("starts_in_reasoning", "expected"),
    [
        (None, ("Paris.", "\nanswer")),  # unknown prompt: a lone tag closes a pre-filled block
        (True, ("Paris.", "\nanswer")),  # the prompt opened the block
        (False, (None, "Paris.</think>\nanswer")),  # it did not: the tag is answer text
    ],
)
def test_a_lone_closing_think_tag_follows_what_is_known_of_the_prompt(
    starts_in_reasoning: bool | None, expected: tuple[str | None, str]
) -> None:
    text = "Paris.</think>\nanswer"
    assert split_reasoning(text, starts_in_reasoning=starts_in_reasoning) == expected


def test_an_unclosed_block_opened_by_the_prompt_is_all_reasoning() -> None:
    assert split_reasoning("still thinking", starts_in_reasoning=True) == ("still thinking", "")
    assert split_reasoning("still thinking") == (None, "still thinking")


def test_parse_answer_does_not_split_reasoning_again() -> None:
    reasoning, answer = split_reasoning("<think>a</think><think>b</think>" + hermes(WEATHER))
    result = parse_answer(answer, reasoning=reasoning)
    assert result == parse_calls("<think>a</think><think>b</think>" + hermes(WEATHER))
    assert (result.reasoning, result.content) == ("a", "<think>b</think>")
    assert result.calls == (WEATHER_CALL,)


def test_tool_call_markup_inside_reasoning_is_not_a_call() -> None:
    result = parse_calls("<think>maybe <tool_call>{oops</tool_call>?</think>No tool fits.")

    assert result == ParseResult(
        calls=(),
        form="text",
        content="No tool fits.",
        reasoning="maybe <tool_call>{oops</tool_call>?",
    )


def test_unterminated_think_is_all_reasoning() -> None:
    result = parse_calls("<think>still thinking about " + hermes(WEATHER)[:20])

    assert (result.ok, result.calls, result.content) == (True, (), None)
    assert result.reasoning == 'still thinking about <tool_call>\n{"name":'


def test_parseable_unterminated_last_block_counts() -> None:
    # Generation stopped on "</tool_call>" as a stop string: vLLM's parser accepts this too.
    text = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}'

    assert parse_calls(text) == ParseResult(calls=(WEATHER_CALL,), form="hermes")
    assert calls_of(hermes(WEATHER) + "\n" + text) == [
        ("get_weather", {"city": "Paris", "unit": "celsius"}),
        ("get_weather", {"city": "Paris", "unit": "celsius"}),
    ]


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ('<tool_call>{"name": "get_weather", "arguments": {"city": "Par', "unterminated_tool_call"),
        ("<tool_call>\n", "unterminated_tool_call"),
        # a block cut short by the next block is never accepted, even with valid JSON
        (
            '<tool_call>{"name": "f", "arguments": {}}\n<tool_call>{"name": "g", "arguments": {}}'
            "</tool_call>",
            "unterminated_tool_call",
        ),
        ("<tool_call>{not json}</tool_call>", "invalid_json"),
        ("<tool_call>{'name': 'f', 'arguments': {}}</tool_call>", "invalid_json"),
        ('<tool_call>{"name": "f", "arguments": {"x": NaN}}</tool_call>', "invalid_json"),
        ("<tool_call> \n </tool_call>", "empty_tool_call"),
        ('{"name": "f", "arguments": {}}</tool_call>', "unmatched_tool_call_tag"),
        ('<tool_call>[{"name": "f", "arguments": {}}]</tool_call>', "not_a_call_object"),
        ('<tool_call>{"name": "f"}</tool_call>', "not_a_call_object"),
        ('<tool_call>"get_weather"</tool_call>', "not_a_call_object"),
        ('<tool_call>{"name": 7, "arguments": {}}</tool_call>', "invalid_name"),
        ('<tool_call>{"name": " ", "arguments": {}}</tool_call>', "invalid_name"),
        ('<tool_call>{"name": "f", "arguments": [1]}</tool_call>', "invalid_arguments"),
        ('<tool_call>{"name": "f", "arguments": "{x: 1}"}</tool_call>', "invalid_arguments"),
        ('<tool_call>{"name": "f", "arguments": "[1]"}</tool_call>', "invalid_arguments"),
    ],
)
def test_malformed_hermes_markup_is_labelled(text: str, label: str) -> None:
    result = parse_calls(text)

    assert (result.error, result.form, result.calls) == (f"parse:{label}", "hermes", ())


def test_one_bad_block_fails_the_whole_prediction() -> None:
    text = hermes(WEATHER) + "<tool_call>{broken</tool_call>"

    assert error_of(text) == labels.INVALID_JSON


def test_hermes_arguments_as_json_string_and_raw_control_characters() -> None:
    double_encoded = {"name": "f", "arguments": json.dumps({"x": [1, 2]})}
    raw_tab = '<tool_call>{"name": "f", "arguments": {"text": "a\tb"}}</tool_call>'

    assert calls_of(hermes(double_encoded)) == [("f", {"x": [1, 2]})]
    assert calls_of(raw_tab) == [("f", {"text": "a\tb"})]


def test_parameters_key_is_read_as_arguments_and_arguments_win() -> None:
    toolrl = {"name": "f", "parameters": {"x": 1}}
    both = {"name": "f", "arguments": {"x": 1}, "parameters": {"x": 2}}

    assert calls_of(hermes(toolrl)) == [("f", {"x": 1})]
    assert calls_of(hermes(both)) == [("f", {"x": 1})]


# --- bare JSON ----------------------------------------------------------------------------------


def test_bare_json_object_and_list() -> None:
    two = [WEATHER, {"name": "get_time", "parameters": {"zone": "UTC"}}]

    assert parse_calls(json.dumps(WEATHER)) == ParseResult(calls=(WEATHER_CALL,), form="json")
    assert parse_calls(json.dumps(two)) == ParseResult(calls=(WEATHER_CALL, TIME_CALL), form="json")
    assert parse_calls("  \n" + json.dumps(two, indent=2) + "\n") == parse_calls(json.dumps(two))


def test_empty_json_list_is_a_well_formed_empty_call_list() -> None:
    assert parse_calls("[]") == ParseResult(calls=(), form="json")


@pytest.mark.parametrize("text", ['{"answer": 42}', "[1, 2, 3]", '["Paris", "Rome"]', "42", "null"])
def test_json_without_call_keys_is_a_plain_answer(text: str) -> None:
    result = parse_calls(text)

    assert (result.error, result.calls, result.form, result.content) == (None, (), "text", text)


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ('{"name": "get_user", "arguments": {"name": "Ann", "age": 30}', "invalid_json"),
        ('[{"name": "f", "arguments": {}},', "invalid_json"),
        ('{"name": "Ann", "age": 30}', "not_a_call_object"),
        ('[{"name": "f", "arguments": {}}, 3]', "not_a_call_object"),
        ('[{"name": "f", "arguments": {}}, {"tool": "g"}]', "not_a_call_object"),
        ('{"name": null, "arguments": {}}', "invalid_name"),
        ('{"name": "f", "arguments": "not json"}', "invalid_arguments"),
        ('{"name": "f", "arguments": 5}', "invalid_arguments"),
    ],
)
def test_malformed_bare_json_is_labelled(text: str, label: str) -> None:
    result = parse_calls(text)

    assert (result.error, result.form) == (f"parse:{label}", "json")


def test_bare_json_with_trailing_prose_is_read_by_the_scan() -> None:
    result = parse_calls(json.dumps(WEATHER) + "\nI will report back.")

    assert (result.calls, result.form, result.content) == (
        (WEATHER_CALL,),
        "json",
        "I will report back.",
    )


def test_huge_integers_stay_exact() -> None:
    big = 10**30 + 1  # orjson alone would turn this into a float

    assert calls_of(json.dumps({"name": "f", "arguments": {"n": big}})) == [("f", {"n": big})]
    assert calls_of(hermes({"name": "f", "arguments": {"n": -big}})) == [("f", {"n": -big})]


def test_integers_past_pythons_digit_limit_are_invalid_json() -> None:
    digits = "9" * 5000  # int("9" * 5000) exceeds sys.get_int_max_str_digits()

    assert error_of(f'<tool_call>{{"name": "f", "arguments": {{"n": {digits}}}}}</tool_call>') == (
        labels.INVALID_JSON
    )


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_numbers_are_not_json(number: str) -> None:
    assert error_of(f'{{"name": "f", "arguments": {{"x": {number}}}}}') == labels.INVALID_JSON


# --- JSON embedded in prose or fences ---------------------------------------------------------


def test_json_call_in_prose() -> None:
    result = parse_calls(f"Sure! I'll look it up: {json.dumps(WEATHER)} (one moment)")

    assert (result.calls, result.form, result.content) == (
        (WEATHER_CALL,),
        "json",
        "Sure! I'll look it up:  (one moment)",
    )


def test_json_fence() -> None:
    text = f"Here is the call:\n```json\n{json.dumps([WEATHER], indent=2)}\n```\nThanks."

    result = parse_calls(text)

    assert (result.calls, result.form, result.content) == (
        (WEATHER_CALL,),
        "json",
        "Here is the call:\n\nThanks.",
    )


def test_several_calls_in_prose_where_the_seed_span_fails() -> None:
    # The first-"{"-to-last-"}" span covers both objects and the words between them.
    text = (
        f'First {json.dumps(WEATHER)}, then {{"name": "get_time", "arguments": {{"zone": "UTC"}}}}.'
    )

    assert parse_calls(text).calls == (WEATHER_CALL, TIME_CALL)


def test_braces_inside_strings_and_in_prose_do_not_confuse_the_scan() -> None:
    tricky = {"name": "f", "arguments": {"pattern": '}{]"[', "set": "{a}"}}
    text = 'Use {curly} braces and "quotes]" freely: ' + json.dumps(tricky) + " done }"

    assert calls_of(text) == [("f", {"pattern": '}{]"[', "set": "{a}"})]


def test_call_nested_in_a_non_call_object_is_data() -> None:
    text = 'Result: {"data": {"name": "f", "arguments": {}}}'

    assert parse_calls(text) == ParseResult(calls=(), form="text", content=text)


def test_a_person_record_in_prose_is_a_plain_answer() -> None:
    text = 'The user is {"name": "Ann", "age": 30}.'

    assert parse_calls(text) == ParseResult(calls=(), form="text", content=text)


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ('Calling {"name": "get_weather", "arguments": {"city": "Paris"', "invalid_json"),
        ("Calling {'name': 'get_weather', 'arguments': {'city': 'Paris'}}", "invalid_json"),
        ('Calling {"name": "f", "arguments": [1, 2]} now', "invalid_arguments"),
        ('Ok {"name": "f", "arguments": {}} and {"name": 3, "arguments": {}}', "invalid_name"),
    ],
)
def test_malformed_calls_in_prose_are_labelled(text: str, label: str) -> None:
    assert (parse_calls(text).error, parse_calls(text).form) == (f"parse:{label}", "json")


def test_seed_span_fallback_reads_what_the_seed_read() -> None:
    # An unbalanced quote inside an earlier bracket derails the balanced scan (the string
    # swallows the rest of the text); the first-"{"-to-last-"}" span still decodes.
    text = 'Note [he said "no] ' + json.dumps(WEATHER)

    assert calls_of(text) == [("get_weather", {"city": "Paris", "unit": "celsius"})]


def test_bracket_pairs_are_string_aware_and_forgive_mismatches() -> None:
    assert bracket_pairs('x "q" {"a": "}", "b": [1, {"c": "]"}]}') == {
        6: 37,
        22: 36,
        26: 35,
    }
    assert bracket_pairs("{ [ } ]") == {0: 4}  # "}" closes "{", leaving "[" unpaired
    assert bracket_pairs('"{" ]') == {}  # quotes outside brackets are prose


def test_adversarial_nesting_is_bounded() -> None:
    nested = "[" * 50_000 + '{"name": "f", "arguments": {}}' + "]" * 50_000

    result = parse_calls("x " + nested)

    # Each enclosing span is too deep to decode; after MAX_FAILED_DECODES of them the scan
    # stops (instead of decoding 50,000 spans of ~100 KB), and the first-to-last span finds the
    # call.
    assert MAX_FAILED_DECODES < 50_000
    assert (result.error, result.calls) == (None, (ToolCall("f", {}),))


# --- Python call syntax ---------------------------------------------------------------------------


def test_python_call_and_list_of_calls() -> None:
    assert parse_calls('get_weather(city="Paris", unit="celsius")') == ParseResult(
        calls=(WEATHER_CALL,), form="python"
    )
    assert calls_of("[get_weather(city='Paris', unit='celsius'), get_time(zone='UTC')]") == [
        ("get_weather", {"city": "Paris", "unit": "celsius"}),
        ("get_time", {"zone": "UTC"}),
    ]


def test_python_values_convert_to_json_shapes() -> None:
    text = (
        "math.factorial(n=5, xs=[1, -2.5, (3, 4)], d={'a': None, 'b': True}, s={7}, "
        "unit=celsius, c=math.pi, e=..., neg=-3, pos=+4, big=123456789012345678901234567890)"
    )

    assert calls_of(text) == [
        (
            "math.factorial",
            {
                "n": 5,
                "xs": [1, -2.5, [3, 4]],
                "d": {"a": None, "b": True},
                "s": [7],
                "unit": "celsius",  # a bare name is its source text, as in BFCL
                "c": "math.pi",
                "e": "...",
                "neg": -3,
                "pos": 4,
                "big": 123456789012345678901234567890,
            },
        )
    ]


def test_nested_calls_follow_bfcl() -> None:
    text = "f(when=datetime.now(), where=geo(lat=1.5, lon=2))"

    assert calls_of(text) == [
        ("f", {"when": "datetime.now()", "where": {"geo": {"lat": 1.5, "lon": 2}}})
    ]


def test_one_python_call_per_line() -> None:
    assert parse_calls("get_weather(city='Paris', unit='celsius')\nget_time(zone='UTC')") == (
        ParseResult(calls=(WEATHER_CALL, TIME_CALL), form="python")
    )


def test_zero_argument_call_and_python_in_a_fence() -> None:
    assert calls_of("get_time()") == [("get_time", {})]
    assert parse_calls("Calling:\n```python\nget_time(zone='UTC')\n```").calls == (TIME_CALL,)


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("f(x=1+2)", "invalid_python_call"),
        ("f(x=lambda y: y)", "invalid_python_call"),
        ("f(x=[i for i in range(3)])", "invalid_python_call"),
        ("f(**{'x': 1})", "invalid_python_call"),
        ("f(x=1, x=2)", "invalid_python_call"),
        ("f(x=1e999)", "invalid_python_call"),
        ("f(x=b'raw')", "invalid_python_call"),
        ("f(x=1j)", "invalid_python_call"),
        ("f(x={1: 'a'})", "invalid_python_call"),
        ("f(x=-True)", "invalid_python_call"),
        ("f(x=__import__('os').system('true'))", "invalid_python_call"),
        ("f(x=1))", "invalid_python_call"),
        ("[f(x=1), g(y=]", "invalid_python_call"),
        ("f(1, x=2)", "positional_argument"),
        ("[f(x=1), g(2)]", "positional_argument"),
    ],
)
def test_malformed_python_calls_are_labelled(text: str, label: str) -> None:
    result = parse_calls(text)

    assert (result.error, result.form) == (f"parse:{label}", "python")


@pytest.mark.parametrize(
    "text", ["Paris (France)", "Sure (I can help)", "f(x) is nice", "Note(this)", "f(x="]
)
def test_prose_that_resembles_a_call_is_a_plain_answer(text: str) -> None:
    assert parse_calls(text) == ParseResult(calls=(), form="text", content=text)


def test_python_is_never_evaluated(tmp_path: Any) -> None:
    marker = tmp_path / "pwned"
    text = f"f(x=open({str(marker)!r}, 'w').write('x'))"

    assert error_of(text) == labels.INVALID_PYTHON_CALL
    assert not marker.exists()


# --- structured inputs ----------------------------------------------------------------------------


def test_structured_list_with_dict_or_json_string_arguments() -> None:
    prediction = [
        {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}},
        {"name": "get_time", "arguments": '{"zone": "UTC"}'},
    ]

    assert parse_calls(prediction) == ParseResult(
        calls=(WEATHER_CALL, TIME_CALL), form="structured"
    )


def test_structured_arguments_are_copied_not_shared() -> None:
    arguments = {"city": "Paris"}

    result = parse_calls([{"name": "get_weather", "arguments": arguments}])
    arguments["city"] = "Rome"

    assert result.calls[0].arguments == {"city": "Paris"}


def test_openai_tool_calls_and_assistant_message() -> None:
    tool_calls = [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": json.dumps(WEATHER["arguments"])},
        }
    ]
    message = {
        "role": "assistant",
        "content": None,
        "tool_calls": tool_calls,
        "reasoning_content": "Weather needed.",
    }

    assert parse_calls(tool_calls) == ParseResult(calls=(WEATHER_CALL,), form="openai")
    assert parse_calls(message) == ParseResult(
        calls=(WEATHER_CALL,), form="openai", reasoning="Weather needed."
    )
    assert parse_calls(json.dumps(message)).calls == (WEATHER_CALL,)


def test_assistant_message_text_content_is_parsed_as_text() -> None:
    trl_style = {"role": "assistant", "content": hermes(WEATHER)}
    plain = {
        "role": "assistant",
        "content": [{"type": "text", "text": "It is "}, {"text": "sunny."}],
    }
    legacy = {
        "role": "assistant",
        "function_call": {"name": "get_time", "arguments": '{"zone": "UTC"}'},
    }

    assert parse_calls(trl_style) == ParseResult(calls=(WEATHER_CALL,), form="hermes")
    assert parse_calls(plain) == ParseResult(calls=(), form="text", content="It is sunny.")
    assert parse_calls(legacy).calls == (TIME_CALL,)
    assert parse_calls({"role": "assistant", "content": None}) == ParseResult(
        calls=(), form="openai"
    )


def test_chat_messages_contribute_every_assistant_turn() -> None:
    messages = [
        {"role": "user", "content": hermes({"name": "ignored", "arguments": {}})},
        {"role": "assistant", "content": hermes(WEATHER)},
        {"role": "tool", "content": "sunny"},
        {
            "role": "assistant",
            "tool_calls": [
                {"type": "function", "function": {"name": "get_time", "arguments": {"zone": "UTC"}}}
            ],
        },
        {"role": "assistant", "content": "Sunny, and it is noon."},
    ]

    assert parse_calls(messages) == ParseResult(calls=(WEATHER_CALL, TIME_CALL), form="messages")
    broken = [*messages, {"role": "assistant", "content": "<tool_call>{"}]
    assert parse_calls(broken) == ParseResult(
        calls=(), error=labels.UNTERMINATED_TOOL_CALL, form="messages"
    )


def test_bfcl_decoded_output_and_single_call_objects() -> None:
    assert calls_of([{"get_weather": {"city": "Paris", "unit": "celsius"}}]) == [
        ("get_weather", {"city": "Paris", "unit": "celsius"})
    ]
    assert calls_of({"name": "get_time"}) == [("get_time", {})]  # data: arguments optional
    assert calls_of(OrderedDict(name="get_time", arguments=OrderedDict(zone="UTC"))) == [
        ("get_time", {"zone": "UTC"})
    ]
    assert calls_of(({"name": "get_time", "arguments": None},)) == [("get_time", {})]


@pytest.mark.parametrize(
    ("prediction", "label"),
    [
        (["get_weather(city='Paris')"], "not_a_call_object"),
        ([WEATHER, 3], "not_a_call_object"),
        ([{"role": "assistant", "content": "hi"}, 3], "not_a_call_object"),
        ([{"arguments": {}}], "not_a_call_object"),
        ([{"a": 1, "b": 2}], "not_a_call_object"),
        ([{"type": "custom", "function": {"name": "f", "arguments": "{}"}}], "not_a_call_object"),
        ({"role": "assistant", "tool_calls": "f()"}, "not_a_call_object"),
        ([{"name": ["f"], "arguments": {}}], "invalid_name"),
        ([{"name": "f", "arguments": "{bad"}], "invalid_arguments"),
        ([{"name": "f", "arguments": {1: "x"}}], "invalid_arguments"),
        ([{"name": "f", "arguments": ["x"]}], "invalid_arguments"),
        (12, "unsupported_type"),
        (3.5, "unsupported_type"),
        (object(), "unsupported_type"),
    ],
)
def test_malformed_structured_predictions_are_labelled(prediction: Any, label: str) -> None:
    assert error_of(prediction) == f"parse:{label}"


# --- plain answers and odd inputs ---------------------------------------------------------


@pytest.mark.parametrize("prediction", ["", "   \n", None, []])
def test_empty_predictions_are_call_free(prediction: Any) -> None:
    result = parse_calls(prediction)

    assert (result.ok, result.calls, result.content) == (True, (), None)


def test_plain_answer() -> None:
    assert parse_calls("  It is 21 °C in Paris.\n") == ParseResult(
        calls=(), form="text", content="It is 21 °C in Paris."
    )


def test_bytes_are_decoded_as_utf8() -> None:
    assert parse_calls(hermes(WEATHER).encode()).calls == (WEATHER_CALL,)
    assert parse_calls(b"\xff\xfe caf\xc3\xa9").content == "\ufffd\ufffd café"


def test_lone_surrogates_and_nul_bytes() -> None:
    text = '<tool_call>{"name": "f", "arguments": {"s": "\ud800\u0000"}}</tool_call>'

    assert calls_of(text) == [("f", {"s": "\ud800\u0000"})]
    assert error_of("f(x='\x00')") == labels.INVALID_PYTHON_CALL  # ast refuses NUL bytes


# --- properties ---------------------------------------------------------------------------

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=20,
)
IDENTIFIERS = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,11}", fullmatch=True).filter(
    lambda name: not keyword.iskeyword(name)
)
CALLS = st.lists(
    st.tuples(
        st.one_of(IDENTIFIERS, st.builds(lambda a, b: f"{a}.{b}", IDENTIFIERS, IDENTIFIERS)),
        st.dictionaries(IDENTIFIERS, JSON_VALUES, max_size=4),
    ),
    min_size=1,
    max_size=3,
)
# Characters that drive the parsers' decisions, mixed with anything.
MARKUP_TEXT = st.lists(
    st.sampled_from(
        [
            "<tool_call>",
            "</tool_call>",
            "<think>",
            "</think>",
            "{",
            "}",
            "[",
            "]",
            "(",
            ")",
            '"',
            "'",
            "\\",
            ":",
            ",",
            "=",
            "```",
            "```json\n",
            '"name"',
            '"arguments"',
            "name",
            "f",
            "1",
            "-",
            ".",
            " ",
            "\n",
            "null",
            "NaN",
            "1e999",
            "9" * 25,
            "\ud800",
            "\x00",
        ]
    )
    | st.text(max_size=3),
    max_size=40,
).map("".join)

PROPERTY_SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def assert_well_formed(result: ParseResult) -> None:
    assert isinstance(result, ParseResult)
    assert result.error != labels.INTERNAL_ERROR
    assert result.error is None or result.error.startswith("parse:")
    if result.error is not None:
        assert result.calls == ()
    for call in result.calls:
        assert isinstance(call.name, str) and call.name.strip()
        assert isinstance(call.arguments, dict)
        assert all(isinstance(key, str) for key in call.arguments)


@PROPERTY_SETTINGS
@given(st.text())
def test_any_text_parses_without_raising(text: str) -> None:
    assert_well_formed(parse_calls(text))


@PROPERTY_SETTINGS
@given(MARKUP_TEXT)
def test_markup_soup_parses_without_raising_and_deterministically(text: str) -> None:
    first = parse_calls(text)

    assert_well_formed(first)
    assert parse_calls(text) == first


@PROPERTY_SETTINGS
@given(st.binary())
def test_any_bytes_parse_without_raising(data: bytes) -> None:
    assert_well_formed(parse_calls(data))


@PROPERTY_SETTINGS
@given(JSON_VALUES)
def test_any_json_value_as_data_or_text_parses_without_raising(value: Any) -> None:
    assert_well_formed(parse_calls(value))
    assert_well_formed(parse_calls(json.dumps(value)))
    assert_well_formed(parse_calls(hermes(value)))
    assert_well_formed(parse_calls([{"name": "f", "arguments": value}]))


@settings(PROPERTY_SETTINGS, max_examples=100)
@given(CALLS)
def test_every_form_round_trips_the_same_calls(calls: list[tuple[str, dict[str, Any]]]) -> None:
    objects = [{"name": name, "arguments": arguments} for name, arguments in calls]
    # Tags inside argument strings end a block early, in vLLM's parser and in ours.
    assume(not any(tag in json.dumps(objects) for tag in ("tool_call>", "think>")))
    openai = [
        {"type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}
        for name, arguments in calls
    ]
    renderings = [
        hermes(*objects),
        "<think>plan</think>\n" + hermes(*objects)[: -len("</tool_call>")],
        json.dumps(objects),
        f"Calls:\n```json\n{json.dumps(objects, indent=1)}\n```",
        objects,
        openai,
        {"role": "assistant", "tool_calls": openai},
    ]
    if all(
        isinstance(v, str | int | float | bool | type(None)) for _, a in calls for v in a.values()
    ):
        renderings.append("[" + ", ".join(python_call(name, a) for name, a in calls) + "]")

    for rendering in renderings:
        result = parse_calls(rendering)
        assert result.error is None, (rendering, result)
        assert [(c.name, c.arguments) for c in result.calls] == calls


def python_call(name: str, arguments: dict[str, Any]) -> str:
    return f"{name}({', '.join(f'{key}={value!r}' for key, value in arguments.items())})"


@pytest.mark.parametrize("depth", [1_000, 100_000])
@pytest.mark.parametrize("opener", ["[", "{", "(", '{"name": "f", "arguments": ', "<tool_call>"])
def test_deep_nesting_never_raises(opener: str, depth: int) -> None:
    closer = {"[": "]", "{": "}", "(": ")", "<tool_call>": "</tool_call>"}.get(opener, "}")
    for text in (opener * depth, opener * depth + closer * depth, "f(x=" + opener * depth):
        result = parse_calls(text)
        assert_well_formed(result)
        assert result.calls == ()


def test_deeply_nested_structured_data_never_raises() -> None:
    nested: Any = []
    for _ in range(100_000):
        nested = [nested]
    deep_arguments: Any = {}
    for _ in range(10_000):
        deep_arguments = {"a": deep_arguments}

    assert parse_calls(nested).error == labels.NOT_A_CALL_OBJECT
    assert parse_calls([{"name": "f", "arguments": deep_arguments}]).calls[0].name == "f"


@PROPERTY_SETTINGS
@given(st.integers(min_value=-(10**200), max_value=10**200))
def test_any_integer_within_the_digit_limit_is_kept_exactly(number: int) -> None:
    text = hermes({"name": "f", "arguments": {"n": number}})

    assert calls_of(text) == [("f", {"n": number})]
