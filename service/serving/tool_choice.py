"""``tool_choice`` as a generation plan: what to add to the prompt, how to constrain decoding,
and whether to parse calls out of the output.

* ``auto`` (the default with tools): tools in the prompt, the output parsed by the core parser.
* ``none``: tools stay in the prompt (the model knows them) but the ``<tool_call>`` token is
  banned and nothing is parsed: the answer is text.
* ``required`` / a named function: calls are forced — one or more for ``required`` (one with
  ``parallel_tool_calls: false``), exactly one for a named function, as OpenAI and vLLM do. On
  engines with structured outputs (vLLM) and a Hermes template, decoding follows the structural
  tag stock vLLM's Hermes parser builds (:func:`hermes_calls_tag`: ``<tool_call>`` blocks naming
  the allowed tools; arguments follow the schema for ``strict`` tools), so both servers write
  the same calls. Other engines skip reasoning (an empty ``<think>`` block pre-filled where the
  template supports it), end the prompt with the ``<tool_call>`` opener and, with a JSON-schema
  constraint, get one ``{"name", "arguments"}`` object; without one, a longer forced prefix (the
  function name for a named choice) and a ``</tool_call>`` stop.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from service.core.parsing.hermes import TOOL_CALL_CLOSE, TOOL_CALL_OPEN
from service.core.schema import normalise_tools, openai_tool
from service.core.types import ToolSpec
from service.engine.errors import InvalidChatRequestError
from service.engine.tokenizer import ChatTokenizer

ToolChoiceMode = Literal["none", "auto", "required", "named"]
_STRING_MODES: dict[str, ToolChoiceMode] = {"none": "none", "auto": "auto", "required": "required"}


@dataclass(frozen=True, slots=True)
class ToolChoicePlan:
    """How one request is generated and read back.

    ``forced_prefix`` is appended to the rendered prompt *and* counted as the start of the
    assistant's text; ``closing_suffix`` completes a forced call that ended cleanly.
    """

    mode: ToolChoiceMode
    parse_calls: bool
    forced_prefix: str = ""
    closing_suffix: str = ""
    json_schema: Mapping[str, Any] | None = None
    structural_tag: Mapping[str, Any] | None = None
    stop: tuple[str, ...] = ()
    banned_token_ids: tuple[int, ...] = ()
    enable_thinking: bool | None = None


@dataclass(frozen=True, slots=True)
class RequestTools:
    """A request's tools, normalised once where the request enters serving.

    ``specs`` (by name) drive the tool-choice plan; ``template`` is what the chat template
    renders (``None`` without tools).
    """

    specs: Mapping[str, ToolSpec]
    template: list[dict[str, Any]] | None

    def __bool__(self) -> bool:
        return bool(self.specs)


NO_TOOLS = RequestTools(specs={}, template=None)


def request_tools(tools: Any) -> RequestTools:
    """Normalise a request's tools: a list in any form the core reads, a single tool, or a JSON
    string of them (as xLAM rows carry them); ``None`` or empty for none.

    OpenAI-form tools reach the template exactly as the client sent them; BFCL and xLAM tools
    are rendered in OpenAI's form from their normalised JSON Schema.

    Args:
        tools: The request's ``tools`` field, in any form the core reads.

    Returns:
        The specs by name and the template's tool list, computed once for the whole request.

    Raises:
        InvalidToolSchemaError: Not tools in any supported form (400).

    Example:
        >>> tools = request_tools('[{"name": "add", "parameters": {"a": {"type": "int"}}}]')
        >>> list(tools.specs), tools.template[0]["function"]["parameters"]["required"]
        (['add'], ['a'])
        >>> bool(request_tools(None)), request_tools([]).template
        (False, None)
    """
    specs = normalise_tools(tools)  # validates every tool, whatever its form
    if not specs:
        return NO_TOOLS
    decoded = json.loads(tools) if isinstance(tools, str) else tools
    listed = [decoded] if isinstance(decoded, Mapping) else decoded
    template = [
        dict(tool)
        if isinstance(tool.get("function"), Mapping)
        else openai_tool(specs[str(tool.get("name"))])
        for tool in listed
    ]
    return RequestTools(specs=specs, template=template)


def plan_tool_choice(
    tool_choice: Any,
    tools: RequestTools,
    tokenizer: ChatTokenizer,
    *,
    supports_json_schema: bool,
    parallel: bool = True,
    strict_arguments: bool = False,
) -> ToolChoicePlan:
    """The plan for ``tool_choice`` (a string, a named-function object/dict, or None);
    ``parallel`` false allows one call at most (``parallel_tool_calls``). ``strict_arguments``
    forces exactly one call whose arguments follow its tool's schema, whatever ``strict`` says,
    through a JSON-schema constraint (whose whitespace the engine limits: with the structural
    tag an untrained model can fill a string with whitespace).

    Raises:
        InvalidChatRequestError: ``required`` or a named function without tools, or a name
            that is not among the tools (400, ``param="tool_choice"``).
    """
    mode, function_name = _mode(tool_choice, has_tools=bool(tools))
    if mode == "auto":
        return ToolChoicePlan(mode="auto", parse_calls=bool(tools))
    if mode == "none":
        banned = tokenizer.single_token_id(TOOL_CALL_OPEN) if tools else None
        return ToolChoicePlan(
            mode="none", parse_calls=False, banned_token_ids=(banned,) if banned else ()
        )
    if not tools:
        raise InvalidChatRequestError(
            f"tool_choice {tool_choice!r} needs tools",
            label="request:tool_choice_without_tools",
            param="tool_choice",
        )
    specs = tools.specs
    if function_name is not None and function_name not in specs:
        raise InvalidChatRequestError(
            f"tool_choice names {function_name!r}, which is not among the tools "
            f"({', '.join(sorted(specs))})",
            label="request:unknown_tool_choice",
            param="tool_choice",
        )
    chosen = [specs[function_name]] if function_name is not None else list(specs.values())
    return _forced_call_plan(
        mode,
        chosen,
        tokenizer.writes_hermes_tool_calls,
        supports_json_schema=supports_json_schema,
        strict_names=strict_tool_names(tools.template),
        parallel=parallel,
        one_json_call=strict_arguments,
    )


def _mode(tool_choice: Any, *, has_tools: bool) -> tuple[ToolChoiceMode, str | None]:
    if tool_choice is None:
        return ("auto" if has_tools else "none"), None
    if isinstance(tool_choice, str):
        mode = _STRING_MODES.get(tool_choice)
        if mode is not None:
            return mode, None
        raise InvalidChatRequestError(
            f"tool_choice must be none, auto, required or a function, not {tool_choice!r}",
            label="request:invalid_tool_choice",
            param="tool_choice",
        )
    function = getattr(tool_choice, "function", None)
    if function is None and isinstance(tool_choice, Mapping):
        function = tool_choice.get("function")
    name = getattr(function, "name", None)
    if name is None and isinstance(function, Mapping):
        name = function.get("name")
    if not isinstance(name, str):
        raise InvalidChatRequestError(
            'a named tool_choice is {"type": "function", "function": {"name": ...}}',
            label="request:invalid_tool_choice",
            param="tool_choice",
        )
    return "named", name


def call_schema(spec: ToolSpec) -> dict[str, Any]:
    """JSON Schema of one call object ``{"name": spec.name, "arguments": {...}}``."""
    return {
        "type": "object",
        "properties": {
            "name": {"type": "string", "enum": [spec.name]},
            "arguments": dict(spec.json_schema),
        },
        "required": ["name", "arguments"],
        "additionalProperties": False,
    }


def hermes_calls_tag(
    specs: Sequence[ToolSpec], strict_names: frozenset[str], *, at_most_one: bool
) -> dict[str, Any]:
    """The xgrammar structural tag vLLM's Hermes parser builds for a forced choice.

    One or more ``<tool_call>`` blocks (exactly one when ``at_most_one``), each naming one of
    ``specs``; a tool's arguments follow its schema only when the tool is ``strict`` (OpenAI's
    meaning of the flag), otherwise any JSON value. Token for token what stock vLLM
    constrains, so the same model writes the same calls behind both servers.

    Example:
        >>> from service.core.schema import normalise_tools
        >>> spec = normalise_tools([{"name": "f", "parameters": {"x": {"type": "int"}}}])["f"]
        >>> tag = hermes_calls_tag([spec], frozenset(), at_most_one=True)
        >>> tag["format"]["tags"][0]["begin"], tag["format"]["stop_after_first"]
        ('<tool_call>\\n{"name": "f", "arguments": ', True)
    """
    tags = []
    for spec in specs:
        arguments = dict(spec.json_schema) if spec.name in strict_names else True
        for begin, end in (
            (f"{TOOL_CALL_OPEN}\n", f"}}\n{TOOL_CALL_CLOSE}"),
            (TOOL_CALL_OPEN, f"}}{TOOL_CALL_CLOSE}"),
        ):
            tags.append(
                {
                    "type": "tag",
                    "begin": f'{begin}{{"name": {json.dumps(spec.name)}, "arguments": ',
                    "content": {"type": "json_schema", "json_schema": arguments},
                    "end": end,
                }
            )
    return {
        "type": "structural_tag",
        "format": {
            "type": "tags_with_separator",
            "tags": tags,
            "separator": "",
            "at_least_one": True,
            "stop_after_first": at_most_one,
        },
    }


def strict_tool_names(tools: Sequence[Mapping[str, Any]] | None) -> frozenset[str]:
    """Names of the OpenAI-form tools sent with ``"strict": true``."""
    names = set()
    for tool in tools or ():
        function = tool.get("function")
        if isinstance(function, Mapping) and function.get("strict") is True:
            names.add(str(function.get("name")))
    return frozenset(names)


def _forced_call_plan(
    mode: ToolChoiceMode,
    specs: Sequence[ToolSpec],
    hermes: bool,
    *,
    supports_json_schema: bool,
    strict_names: frozenset[str] = frozenset(),
    parallel: bool = True,
    one_json_call: bool = False,
) -> ToolChoicePlan:
    if supports_json_schema and hermes and not one_json_call:
        # The grammar writes the whole call, tags included, as stock vLLM's does. It starts
        # at the first generated token, so a forced call has no room to reason: the prompt
        # closes an empty think block first, as the template does with thinking off, which is
        # how a Qwen3 model answers without reasoning (stock vLLM leaves the block to the
        # model and forces "<tool_call>" where it would write "<think>").
        tag = hermes_calls_tag(specs, strict_names, at_most_one=mode == "named" or not parallel)
        return ToolChoicePlan(
            mode=mode, parse_calls=True, structural_tag=tag, enable_thinking=False
        )
    opener = f"{TOOL_CALL_OPEN}\n" if hermes else ""
    if supports_json_schema:
        schemas = [call_schema(spec) for spec in specs]
        return ToolChoicePlan(
            mode=mode,
            parse_calls=True,
            forced_prefix=opener,
            closing_suffix=f"\n{TOOL_CALL_CLOSE}" if hermes else "",
            json_schema=schemas[0] if len(schemas) == 1 else {"anyOf": schemas},
            enable_thinking=False,
        )
    # No grammar: write as much of the call as is known and let the model continue.
    prefix = opener
    if mode == "named":
        prefix += f'{{"name": {json.dumps(specs[0].name)}, "arguments": '
    return ToolChoicePlan(
        mode=mode,
        parse_calls=True,
        forced_prefix=prefix,
        closing_suffix=TOOL_CALL_CLOSE if hermes else "",
        stop=(TOOL_CALL_CLOSE,) if hermes else (),
        enable_thinking=False,
    )
