"""``toolgrade serve``: options, modes and logs of the real command."""

from __future__ import annotations

import json
import re
import time

import httpx
from typer.testing import CliRunner

from service.cli import app
from tests.fixtures.servers import start_server


def test_help_lists_the_options() -> None:
    result = CliRunner().invoke(app, ["serve", "--help"], terminal_width=200)
    assert result.exit_code == 0
    for option in ("--host", "--port", "--workers", "--no-model", "--log-level"):
        assert option in result.output


def test_no_model_forces_scoring_only_whatever_is_configured() -> None:
    server = start_server(
        {
            "TOOLGRADE_NO_MODEL": "false",
            "TOOLGRADE_MODEL": "/nonexistent/checkpoint",
            "TOOLGRADE_API_KEY": None,
        },
        args=("--no-model",),
        wait_ready=True,
    )
    try:
        ready = httpx.get(f"{server.base_url}/ready", timeout=10).json()
        assert ready == {"status": "scoring-only", "engine": None}
        # Scoring-only start-up never imports the engine (vLLM costs seconds to import).
        assert "vllm" not in server.log_text().lower()
    finally:
        server.stop()


def test_workers_serve_together_and_log_json_lines() -> None:
    server = start_server(
        {"TOOLGRADE_NO_MODEL": "1", "TOOLGRADE_API_KEY": None},
        args=("--workers", "2"),
        wait_ready=True,
        timeout_s=90,
    )
    try:
        body = {"completions": ["no call"], "labels": [[]]}
        for _ in range(8):
            response = httpx.post(f"{server.base_url}/reward", json=body, timeout=30)
            assert response.json()["rewards"] == [1.0]
        deadline = time.monotonic() + 10
        while True:
            lines = [line for line in server.log_text().splitlines() if line.strip()]
            started = {
                match.group(1)
                for line in lines
                if (match := re.search(r"Started server process \[(\d+)\]", line))
            }
            if len(started) >= 3 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    finally:
        server.stop()
    # uvicorn's supervisor and its two workers each report their process.
    assert len(started) >= 2, lines
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    access = [r for r in records if r["logger"] == "toolgrade.access" and r["path"] == "/reward"]
    assert len(access) == 8
    assert all(r["status"] == 200 and len(r["request_id"]) == 32 for r in access)
