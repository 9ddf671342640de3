"""Generation throughput: the embedded vLLM engine vs transformers ``generate``, side by side.

Same model (the embedded default model unless ``--model``), same dtype, same chat prompts
(tool-calling conversations rendered with the model's chat template), greedy decoding, the
same ``--max-tokens`` per request, in one run:

* **concurrency 1** — requests one after another: vLLM's engine one request at a time, and
  ``model.generate`` on a batch of one;
* **concurrency 32** — 32 requests in flight: vLLM's continuous batching (the service's path:
  :class:`service.engine.vllm_engine.VLLMEngine`, embedded in this process's event loop), and
  transformers' static batching (one left-padded batch of 32 through ``model.generate``).

Tokens/s counts generated tokens (up to and including an end-of-turn token) over wall time.
Both engines stay loaded and are measured alternately, round after round, so that both see the
same machine load (shared CPUs are noisy); the median round is reported.
Target: vLLM ≥ 1.5× transformers at concurrency 32.

With ``--vs-vllm-server`` it races ToolGrade's ``/v1/chat/completions`` against stock vLLM's
OpenAI server instead (:mod:`bench.vllm_server_race`): throughput at concurrency 32 (target
≥ 0.95×), time to first token and to the first call delta at concurrency 1 (target within
10 %).

Usage::

    python -m bench.generate [--model DIR] [--dtype float32] [--max-tokens 64] [--rounds 3]
    python -m bench.generate --vs-vllm-server [--model DIR] [--requests 8 64] [--rounds 3]
        [--no-thinking]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from service.config import Settings
from service.core.schema import normalise_tools, openai_tool
from training.synth import TOOL_LIBRARY

CONCURRENCIES = (1, 32)
QUESTIONS = [
    "What's the weather in {city} today?",
    "Book a table for two in {city} tonight.",
    "How far is {city} from the sea?",
    "Convert 100 euros to the currency used in {city}.",
]
CITIES = ["Paris", "Oslo", "Lima", "Kyoto", "Cairo", "Quito", "Perth", "Turin"]
# Two tools of the shipped model's own library, as a client sends them (OpenAI form): it calls
# them for the weather and currency questions and answers the other two in text.
TOOLS = [
    openai_tool(spec)
    for spec in normalise_tools(
        [tool.schema() for tool in TOOL_LIBRARY if tool.name in ("get_weather", "convert_currency")]
    ).values()
]


@dataclass
class Measurement:
    engine: str
    concurrency: int
    requests: int
    tokens: int
    seconds: float

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds


def chat_prompts(tokenizer: Any, count: int) -> list[list[int]]:
    """``count`` tokenised tool-calling conversations (the chat template with tools)."""
    prompts = []
    for index in range(count):
        question = QUESTIONS[index % len(QUESTIONS)].format(city=CITIES[index % len(CITIES)])
        text = tokenizer.render_chat([{"role": "user", "content": question}], tools=TOOLS)
        prompts.append(tokenizer.encode(text))
    return prompts


def generated_length(token_ids: list[int], stop_ids: set[int]) -> int:
    """Tokens generated up to and including the first end-of-turn token."""
    for position, token in enumerate(token_ids):
        if token in stop_ids:
            return position + 1
    return len(token_ids)


class TransformersRunner:
    """``model.generate`` on left-padded batches of ``concurrency`` prompts."""

    def __init__(self, model_dir: str, dtype: str, max_tokens: int, stop_ids: set[int]) -> None:
        import torch
        from transformers import AutoModelForCausalLM

        self._torch = torch
        self._model = AutoModelForCausalLM.from_pretrained(
            model_dir, dtype=getattr(torch, dtype)
        ).eval()
        self._pad = min(stop_ids)
        self._stop_ids = stop_ids
        self._kwargs: dict[str, Any] = {
            "max_new_tokens": max_tokens,
            "do_sample": False,
            "eos_token_id": sorted(stop_ids),
            "pad_token_id": self._pad,
        }

    def run(self, prompts: list[list[int]], concurrency: int) -> int:
        return sum(
            self._batch(prompts[start : start + concurrency])
            for start in range(0, len(prompts), concurrency)
        )

    def _batch(self, batch: list[list[int]]) -> int:
        torch, pad = self._torch, self._pad
        width = max(len(ids) for ids in batch)
        input_ids = torch.tensor([[pad] * (width - len(ids)) + ids for ids in batch])
        attention = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for ids in batch])
        with torch.no_grad():
            output = self._model.generate(input_ids, attention_mask=attention, **self._kwargs)
        return sum(generated_length(row[width:].tolist(), self._stop_ids) for row in output)


class VLLMRunner:
    """The service's vLLM engine, ``concurrency`` requests in flight."""

    def __init__(self, engine: Any, max_tokens: int, stop_ids: set[int]) -> None:
        from service.engine.base import SamplingOptions

        self._engine = engine
        self._options = SamplingOptions(max_tokens=max_tokens, temperature=0)
        self._stop_ids = stop_ids

    async def run(self, prompts: list[list[int]], concurrency: int) -> int:
        from service.engine.base import GenerationInput

        limiter = asyncio.Semaphore(concurrency)

        async def one(prompt: list[int]) -> int:
            async with limiter:
                result = await self._engine.generate(GenerationInput(tuple(prompt), self._options))
            return generated_length(list(result.completions[0].token_ids), self._stop_ids)

        return sum(await asyncio.gather(*(one(prompt) for prompt in prompts)))


async def measure(args: argparse.Namespace, model_dir: str) -> list[Measurement]:
    """Alternate the engines, round after round, so both see the same machine load."""
    from service.engine.tokenizer import ChatTokenizer
    from service.engine.vllm_engine import VLLMEngine

    tokenizer = ChatTokenizer.load(model_dir)
    stop_ids = set(tokenizer.eos_token_ids)
    prompts = {
        concurrency: chat_prompts(tokenizer, requests)
        for concurrency, requests in zip(CONCURRENCIES, args.requests, strict=True)
    }
    print(
        f"model {model_dir} ({args.dtype}); ≤{args.max_tokens} new tokens per request; "
        f"requests per measurement {dict(zip(CONCURRENCIES, args.requests, strict=True))}; "
        f"{args.rounds} rounds, medians reported"
    )
    transformers = TransformersRunner(model_dir, args.dtype, args.max_tokens, stop_ids)
    settings = Settings(model=model_dir, dtype=args.dtype, max_model_len=2048)
    engine = await VLLMEngine.create(settings, model_dir, "bench")
    vllm = VLLMRunner(engine, args.max_tokens, stop_ids)
    try:
        transformers.run(prompts[1][:2], 2)  # warm-up
        await vllm.run(prompts[1][:2], 2)
        samples: dict[tuple[str, int], list[Measurement]] = {}
        for _ in range(args.rounds):
            for concurrency in CONCURRENCIES:
                batch = prompts[concurrency]
                started = time.perf_counter()
                tokens = transformers.run(batch, concurrency)
                seconds = time.perf_counter() - started
                samples.setdefault(("transformers", concurrency), []).append(
                    Measurement("transformers", concurrency, len(batch), tokens, seconds)
                )
                started = time.perf_counter()
                tokens = await vllm.run(batch, concurrency)
                seconds = time.perf_counter() - started
                samples.setdefault(("vllm", concurrency), []).append(
                    Measurement("vllm", concurrency, len(batch), tokens, seconds)
                )
    finally:
        await engine.close()
    return [
        sorted(runs, key=lambda m: m.tokens_per_second)[len(runs) // 2] for runs in samples.values()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="Checkpoint directory (default: the embedded model).")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument(
        "--requests",
        type=int,
        nargs=2,
        default=[8, 64],
        metavar=("AT_1", "AT_32"),
        help="Requests per measurement at concurrency 1 and 32.",
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path, help="Also write the figures to this file.")
    parser.add_argument(
        "--vs-vllm-server",
        action="store_true",
        help="Race ToolGrade's /v1/chat/completions against stock vLLM's OpenAI server.",
    )
    parser.add_argument(
        "--no-thinking",
        action="store_true",
        help="With --vs-vllm-server: ask for answers without a think block (enable_thinking "
        "false), so the first generated chunk of a call is its name on both servers.",
    )
    args = parser.parse_args()

    from service.models.default_model import ensure_default_model

    model_dir = args.model or str(ensure_default_model(Settings().cache_dir))
    if args.vs_vllm_server:
        race_servers(args, Path(model_dir))
        return
    measurements = asyncio.run(measure(args, model_dir))

    print(f"\n{'engine':<14}{'concurrency':>12}{'tokens':>9}{'seconds':>10}{'tok/s':>10}")
    for m in sorted(measurements, key=lambda m: (m.concurrency, m.engine)):
        print(
            f"{m.engine:<14}{m.concurrency:>12}{m.tokens:>9}{m.seconds:>10.2f}"
            f"{m.tokens_per_second:>10.1f}"
        )
    by_key = {(m.engine, m.concurrency): m.tokens_per_second for m in measurements}
    print()
    for concurrency in CONCURRENCIES:
        ratio = by_key["vllm", concurrency] / by_key["transformers", concurrency]
        print(f"vLLM / transformers at concurrency {concurrency:>2}: {ratio:.2f}×")
    if args.json:
        figures = [asdict(m) | {"tokens_per_second": m.tokens_per_second} for m in measurements]
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


def race_servers(args: argparse.Namespace, model_dir: Path) -> None:
    """``--vs-vllm-server``: print both servers' figures and the target ratios."""
    from bench.vllm_server_race import race

    prompts = [question.format(city=city) for question in QUESTIONS for city in CITIES]
    print(
        f"model {model_dir}; ≤{args.max_tokens} new tokens per request; requests per "
        f"measurement {dict(zip(CONCURRENCIES, args.requests, strict=True))}; {args.rounds} "
        "rounds alternating the servers, medians reported; thinking "
        + ("off" if args.no_thinking else "on")
    )
    result = race(
        model_dir,
        prompts,
        TOOLS,
        max_tokens=args.max_tokens,
        requests=tuple(args.requests),
        rounds=args.rounds,
        thinking=not args.no_thinking,
    )
    print(
        f"\n{'server':<12}{'concurrency':>12}{'tokens':>9}{'seconds':>10}{'tok/s':>10}{'TTFT s':>9}"
        f"{'call s':>9}"
    )
    for key, figures in sorted(result["medians"].items(), key=lambda item: item[0][::-1]):
        name, concurrency = key.split("@")
        print(
            f"{name:<12}{concurrency:>12}{figures['tokens']:>9}{figures['seconds']:>10.2f}"
            f"{figures['tokens_per_second']:>10.1f}{figures['ttft_median_s']:>9.3f}"
            f"{figures['first_call_median_s']:>9.3f}"
        )
    print(
        f"\nToolGrade / vLLM throughput at concurrency 32: {result['throughput_ratio_at_32']:.2f}×"
    )
    print(
        f"ToolGrade / vLLM time to first token at concurrency 1: {result['ttft_ratio_at_1']:.2f}×"
    )
    print(
        "ToolGrade / vLLM time to the first call delta at concurrency 1: "
        f"{result['first_call_ratio_at_1']:.2f}×"
    )
    print(f"machine load average (1, 5, 15 min): {result['load_average']}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":  # vLLM's engine core is spawned: never start it at import
    main()
