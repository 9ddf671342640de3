"""A scripted OpenAI-compatible chat server on loopback, for the runner's retry and concurrency
tests only (the end-to-end eval tests use the real ToolGrade service and engine).

Each request is answered by the :class:`Script` registered for its last user message: fail the
first ``failures`` attempts with ``status``, wait ``delay_s``, then reply with ``reply``.
The server records every request body and the highest number of requests in flight.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.shared import free_port


@dataclass
class Script:
    """How the stub answers one prompt."""

    reply: dict[str, Any] = field(default_factory=lambda: {"role": "assistant", "content": "ok"})
    failures: int = 0
    status: int = 503
    delay_s: float = 0.0
    finish_reason: str = "stop"


@dataclass
class StubState:
    scripts: dict[str, Script] = field(default_factory=dict)
    attempts: Counter[str] = field(default_factory=Counter)
    bodies: list[dict[str, Any]] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0


class OpenAIStub:
    """Run with ``with OpenAIStub() as stub:``; ``stub.base_url`` ends in ``/v1``."""

    def __init__(self) -> None:
        self.state = StubState()
        app = Starlette(
            routes=[
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/v1/models", self._models, methods=["GET"]),
            ]
        )
        self.port = free_port()
        self._server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> OpenAIStub:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("stub server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    async def _models(self, request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "object": "list",
                "data": [{"id": "stub-model", "object": "model", "created": 0, "owned_by": "test"}],
            }
        )

    async def _chat(self, request: Request) -> JSONResponse:
        body = await request.json()
        state = self.state
        state.bodies.append(body)
        prompt = next(m["content"] for m in reversed(body["messages"]) if m["role"] == "user")
        script = state.scripts.get(prompt, Script())
        state.attempts[prompt] += 1
        state.in_flight += 1
        state.max_in_flight = max(state.max_in_flight, state.in_flight)
        try:
            await asyncio.sleep(script.delay_s)
        finally:
            state.in_flight -= 1
        if state.attempts[prompt] <= script.failures:
            return JSONResponse(
                {
                    "error": {
                        "message": f"scripted {script.status}",
                        "type": "server_error",
                        "param": None,
                        "code": None,
                    }
                },
                status_code=script.status,
            )
        return JSONResponse(
            {
                "id": f"chatcmpl-{len(state.bodies)}",
                "object": "chat.completion",
                "created": 0,
                "model": body["model"],
                "choices": [
                    {"index": 0, "message": script.reply, "finish_reason": script.finish_reason}
                ],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
            }
        )
