"""``/generate``: completions as text and as the core parser reads them."""

from __future__ import annotations

from service.engine.base import GenerationEngine
from service.protocol.generate import (
    GenerateOutput,
    GenerateRequest,
    GenerateResponse,
    GenerateUsage,
)
from service.protocol.score import CallOut
from service.serving.generation import (
    completion_budget,
    generation_input,
    new_request_id,
    prepare_chat_prompt,
    prepare_raw_prompt,
    sampling_options,
)
from service.serving.tool_choice import request_tools


class GenerateService:
    """``/generate`` on one engine (cheap to create: one per request is fine)."""

    def __init__(self, engine: GenerationEngine) -> None:
        self.engine = engine

    async def generate(self, request: GenerateRequest) -> GenerateResponse:
        """Generate ``n`` completions and parse each for tool calls.

        A raw ``prompt`` is sent as is and its completions are always parsed; ``messages``
        go through the chat template with ``tools`` and ``tool_choice`` as in chat completions.
        """
        adapter = self.engine.resolve_adapter(request.lora or request.model)
        if request.messages is not None:
            prompt = prepare_chat_prompt(
                self.engine,
                request.messages,
                tools=request_tools(request.tools),
                tool_choice=request.tool_choice,
                enable_thinking=request.enable_thinking,
                # One forced call whose arguments validate, ready for /score.
                strict_arguments=True,
            )
        else:
            prompt = prepare_raw_prompt(self.engine.tokenizer, request.prompt or "")
        max_tokens = completion_budget(
            self.engine, len(prompt.token_ids), request.max_tokens, param="max_tokens"
        )
        options = sampling_options(
            prompt.plan,
            max_tokens=max_tokens,
            temperature=request.temperature,
            top_p=request.top_p,
            top_k=request.top_k,
            n=request.n,
            seed=request.seed,
            stop=request.stop,
        )
        result = await self.engine.generate(
            generation_input(prompt, options, adapter, new_request_id("gen"))
        )
        outputs = []
        for completion in result.completions:
            output = prompt.read(
                completion.text, finished_cleanly=completion.finish_reason == "stop"
            )
            outputs.append(
                GenerateOutput(
                    index=completion.index,
                    text=output.text,
                    content=output.content,
                    reasoning=output.reasoning,
                    tool_calls=[
                        CallOut(name=call.name, arguments=dict(call.arguments))
                        for call in output.calls
                    ],
                    parse_error=output.parse_error,
                    finish_reason="tool_calls" if output.calls else completion.finish_reason,
                    token_ids=list(completion.token_ids) if request.return_token_ids else None,
                )
            )
        return GenerateResponse(
            model=request.lora or request.model or self.engine.model_name,
            outputs=outputs,
            usage=GenerateUsage(
                prompt_tokens=result.prompt_token_count,
                completion_tokens=result.completion_token_count,
                total_tokens=result.prompt_token_count + result.completion_token_count,
            ),
        )
