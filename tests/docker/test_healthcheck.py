"""docker/healthcheck.py (every image's HEALTHCHECK) against real servers on loopback, and the
placeholder key docker/.env.example ships, which the service must refuse."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fixtures.servers import free_port, start_server
from tests.shared import REPO_ROOT

HEALTHCHECK = REPO_ROOT / "docker" / "healthcheck.py"


def run_healthcheck(port: int, path: str = "/ready") -> int:
    env = {**os.environ, "TOOLGRADE_PORT": str(port)}
    return subprocess.run(
        [sys.executable, str(HEALTHCHECK), path], env=env, capture_output=True, timeout=30
    ).returncode


@pytest.mark.slow
def test_health_check_passes_on_a_scoring_service_and_fails_once_it_is_gone() -> None:
    server = start_server({"TOOLGRADE_NO_MODEL": "1", "TOOLGRADE_API_KEY": None}, wait_ready=True)
    try:
        assert run_healthcheck(server.port, "/ready") == 0
        assert run_healthcheck(server.port, "/health") == 0
    finally:
        server.stop()
    assert run_healthcheck(server.port) == 1


def test_health_check_fails_on_a_503(tmp_path: Path) -> None:
    """``/ready`` answers 503 while a model loads: the container must not count as healthy."""
    script = tmp_path / "unready.py"
    script.write_text(
        "import http.server, sys\n"
        "class H(http.server.BaseHTTPRequestHandler):\n"
        "    def do_GET(self):\n"
        "        self.send_response(503 if self.path == '/ready' else 200); self.end_headers()\n"
        "    def log_message(self, *a): pass\n"
        "http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()\n",
        encoding="utf-8",
    )
    port = free_port()
    server = subprocess.Popen([sys.executable, str(script), str(port)])
    try:
        deadline = time.monotonic() + 10
        while run_healthcheck(port, "/health") != 0:
            assert time.monotonic() < deadline, "test server did not start"
            time.sleep(0.1)
        assert run_healthcheck(port, "/ready") == 1
    finally:
        server.kill()
        server.wait(timeout=10)


@pytest.mark.slow
def test_the_example_placeholder_key_is_refused_at_start() -> None:
    example = (REPO_ROOT / "docker" / ".env.example").read_text(encoding="utf-8")
    match = re.search(r"^TOOLGRADE_API_KEY=(.*)$", example, re.M)
    assert match is not None
    with pytest.raises(RuntimeError, match="TOOLGRADE_API_KEY"):
        start_server({"TOOLGRADE_NO_MODEL": "1", "TOOLGRADE_API_KEY": match[1]}, timeout_s=60)
