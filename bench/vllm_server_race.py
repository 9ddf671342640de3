"""ToolGrade's ``/v1/chat/completions`` against stock vLLM's OpenAI server, side by side.

Both servers run the same model (the embedded default model unless ``--model``) with the same
settings (float32, eager, 2,048-token context, 1 GiB KV cache, vLLM's in-process engine core),
as separate processes started by this script and stopped with their process groups. Every
request is the same tool-calling chat (greedy, ``--max-tokens``, streamed with usage) to both.
Rounds alternate the servers so both see the same machine load; medians are reported.

* **throughput** at concurrency 32: generated tokens (``usage.completion_tokens``) over wall
  time — target ToolGrade ≥ 0.95× stock vLLM;
* **time to first token** at concurrency 1: from sending the request to the first chunk that
  carries generated text, reasoning or a call — target within 10 % of stock vLLM;
* **time to the first call delta** at concurrency 1 (requests whose answer streams a call):
  when the client learns a call's name. With thinking on (the template's default), the
  default model opens every answer with an empty think block (``<think>``, ``\n\n``,
  ``</think>``, ``\n\n``): stock vLLM without a reasoning parser sends those tags as content
  from the first token, while ToolGrade splits them off (an empty think block is no
  reasoning), so the first figure differs by those tokens between the servers while this one
  does not. ``--no-thinking`` asks both servers for answers without a think block (the
  template pre-fills an empty one in the prompt).

Run as ``python -m bench.generate --vs-vllm-server``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]
STARTUP_TIMEOUT_S = 900.0
SERVER_ENV = {
    "VLLM_CPU_KVCACHE_SPACE": "1",
    "VLLM_ENABLE_V1_MULTIPROCESSING": "0",
    "VLLM_CPU_OMP_THREADS_BIND": "nobind",
    "PYTHONUNBUFFERED": "1",
}


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signum)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=20)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _launch(name: str, command: list[str], env: dict[str, str], port: int) -> Server:
    log = Path(tempfile.mkstemp(prefix=f"bench-{name}-", suffix=".log")[1])
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env={**os.environ, **SERVER_ENV, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Server(name, process, port, log)


def _wait(server: Server) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited:\n{server.log.read_text()[-3000:]}")
        with contextlib.suppress(httpx.TransportError):
            # ToolGrade answers /v1/models while its engine loads; /ready waits for the engine.
            ready = "/ready" if server.name == "toolgrade" else "/v1/models"
            if httpx.get(f"{server.url}{ready}", timeout=2).status_code == 200:
                return
        time.sleep(0.5)
    raise TimeoutError(f"{server.name} did not start:\n{server.log.read_text()[-3000:]}")


def stock_vllm_command(model_dir: Path, port: int, parser_args: tuple[str, ...]) -> list[str]:
    """Stock vLLM's OpenAI server on CPU with the settings ToolGrade's engine uses (float32,
    eager, 2,048-token context, in-process engine core, seed 0), serving the model under its
    directory's name as ToolGrade does."""
    return [
        sys.executable,
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        str(model_dir),
        "--served-model-name",
        model_dir.name,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--dtype",
        "float32",
        "--max-model-len",
        "2048",
        "--enforce-eager",
        "--distributed-executor-backend",
        "uni",
        "--seed",
        "0",
        *parser_args,
    ]


@contextlib.contextmanager
def servers(model_dir: Path) -> Iterator[dict[str, Server]]:
    """ToolGrade and stock vLLM on ``model_dir``, started together, stopped together."""
    toolgrade_port, vllm_port = _free_port(), _free_port()
    started = {
        "toolgrade": _launch(
            "toolgrade",
            [
                sys.executable,
                "-m",
                "service",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(toolgrade_port),
            ],
            {
                "TOOLGRADE_MODEL": str(model_dir),
                "TOOLGRADE_ENGINE": "vllm",
                "TOOLGRADE_DTYPE": "float32",
                "TOOLGRADE_MAX_MODEL_LEN": "2048",
                "TOOLGRADE_KV_CACHE_GIB": "1",
            },
            toolgrade_port,
        ),
        "vllm": _launch(
            "vllm",
            stock_vllm_command(
                model_dir, vllm_port, ("--enable-auto-tool-choice", "--tool-call-parser", "hermes")
            ),
            {},
            vllm_port,
        ),
    }
    try:
        for server in started.values():
            _wait(server)
        yield started
    finally:
        for server in started.values():
            server.stop()
            server.log.unlink(missing_ok=True)


async def _one(
    client: httpx.AsyncClient, body: dict[str, Any]
) -> tuple[float | None, float | None, int]:
    """(seconds to the first generated chunk, seconds to the first call delta, completion
    tokens) of one streamed request."""
    started = time.perf_counter()
    first: float | None = None
    first_call: float | None = None
    tokens = 0
    async with client.stream("POST", "/v1/chat/completions", json=body) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[len("data: ") :])
            if chunk.get("usage"):
                tokens = chunk["usage"]["completion_tokens"]
            for choice in chunk.get("choices", []):
                delta = choice.get("delta", {})
                generated = (
                    delta.get("content") or delta.get("reasoning") or delta.get("tool_calls")
                )
                if first is None and generated:
                    first = time.perf_counter() - started
                if first_call is None and delta.get("tool_calls"):
                    first_call = time.perf_counter() - started
    return first, first_call, tokens


async def _run(url: str, bodies: list[dict[str, Any]], concurrency: int) -> dict[str, float]:
    limit = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=600) as client:

        async def bounded(body: dict[str, Any]) -> tuple[float | None, float | None, int]:
            async with limit:
                return await _one(client, body)

        started = time.perf_counter()
        results = await asyncio.gather(*(bounded(body) for body in bodies))
        seconds = time.perf_counter() - started
    firsts = [first for first, _, _ in results if first is not None]
    first_calls = [first_call for _, first_call, _ in results if first_call is not None]
    tokens = sum(count for _, _, count in results)
    return {
        "tokens": tokens,
        "seconds": seconds,
        "tokens_per_second": tokens / seconds,
        "ttft_median_s": statistics.median(firsts) if firsts else float("nan"),
        "first_call_median_s": statistics.median(first_calls) if first_calls else float("nan"),
    }


def race(
    model_dir: Path,
    prompts: list[str],
    tools: list[dict[str, Any]],
    *,
    max_tokens: int,
    requests: tuple[int, int],
    rounds: int,
    thinking: bool = True,
) -> dict[str, Any]:
    """Median figures per (server, concurrency) and the target ratios."""

    def bodies(count: int) -> list[dict[str, Any]]:
        return [
            {
                "model": model_dir.name,
                "messages": [{"role": "user", "content": prompts[i % len(prompts)]}],
                "tools": tools,
                "max_tokens": max_tokens,
                "temperature": 0,
                "stream": True,
                "stream_options": {"include_usage": True},
                **({} if thinking else {"chat_template_kwargs": {"enable_thinking": False}}),
            }
            for i in range(count)
        ]

    samples: dict[tuple[str, int], list[dict[str, float]]] = {}
    with servers(model_dir) as running:
        for server in running.values():  # warm-up: first requests compile grammars, fill caches
            asyncio.run(_run(server.url, bodies(2), 2))
        for _ in range(rounds):
            for concurrency, count in zip((1, 32), requests, strict=True):
                for name, server in running.items():
                    figures = asyncio.run(_run(server.url, bodies(count), concurrency))
                    samples.setdefault((name, concurrency), []).append(figures)
    medians = {
        key: sorted(runs, key=lambda f: f["tokens_per_second"])[len(runs) // 2]
        | {
            "ttft_median_s": statistics.median(r["ttft_median_s"] for r in runs),
            "first_call_median_s": statistics.median(r["first_call_median_s"] for r in runs),
        }
        for key, runs in samples.items()
    }
    return {
        "medians": {
            f"{name}@{concurrency}": value for (name, concurrency), value in medians.items()
        },
        "throughput_ratio_at_32": medians["toolgrade", 32]["tokens_per_second"]
        / medians["vllm", 32]["tokens_per_second"],
        "ttft_ratio_at_1": medians["toolgrade", 1]["ttft_median_s"]
        / medians["vllm", 1]["ttft_median_s"],
        "first_call_ratio_at_1": medians["toolgrade", 1]["first_call_median_s"]
        / medians["vllm", 1]["first_call_median_s"],
        "rounds": rounds,
        "thinking": thinking,
        "load_average": os.getloadavg(),
    }
