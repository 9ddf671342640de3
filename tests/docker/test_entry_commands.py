"""The images' entry commands, run outside Docker exactly as compose would run them.

The argv is the image's ENTRYPOINT plus the compose ``command`` (interpolated with the values
of ``.env.example``); the environment is the image's ENV plus the compose ``environment``. Only
what cannot be the same on a shared test machine changes: the listen address (loopback and a
free port instead of 0.0.0.0:8000), the cache folders (a temp dir) and the API key (the example
file holds a placeholder the service refuses — which is tested too). The health check is the
image's own script.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from service.config import REPO_ROOT
from tests.docker.compose_project import (
    dockerfile_stages,
    example_environment,
    interpolate_document,
)

DOCKER_DIR = REPO_ROOT / "docker"
HEALTHCHECK = DOCKER_DIR / "healthcheck.py"
TEST_KEY = "entry-command-test-key-4f1c2b"


@dataclass(frozen=True)
class ServiceCommand:
    argv: list[str]
    env: dict[str, str]


def resolved_compose() -> dict:
    document = yaml.safe_load((DOCKER_DIR / "compose.yaml").read_text(encoding="utf-8"))
    return interpolate_document(document, example_environment(DOCKER_DIR))


def service_command(name: str) -> ServiceCommand:
    """ENTRYPOINT + command and ENV + environment of a compose service, as Docker runs them."""
    service = resolved_compose()["services"][name]
    build = service["build"]
    stage = dockerfile_stages(REPO_ROOT / build["dockerfile"])[build["target"]]
    command = service.get("command", stage.cmd)
    env = {**stage.env, **{key: str(value) for key, value in service["environment"].items()}}
    return ServiceCommand(argv=stage.entrypoint + command, env=env)


def local_argv(argv: list[str]) -> list[str]:
    """The image puts the venv's console scripts first on PATH; so does this interpreter's venv."""
    executable = Path(sys.executable).parent / argv[0]
    return [str(executable), *argv[1:]]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_healthcheck(port: int, path: str = "/ready") -> int:
    env = {**os.environ, "TOOLGRADE_PORT": str(port)}
    return subprocess.run(
        [sys.executable, str(HEALTHCHECK), path], env=env, capture_output=True, timeout=30
    ).returncode


@dataclass
class RunningService:
    process: subprocess.Popen[bytes]
    port: int

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def launch(command: ServiceCommand, tmp_path: Path, **overrides: str) -> RunningService:
    port = free_port()
    env = {
        **os.environ,
        **command.env,
        "TOOLGRADE_HOST": "127.0.0.1",
        "TOOLGRADE_PORT": str(port),
        "TOOLGRADE_CACHE_DIR": str(tmp_path / "toolgrade-cache"),
        "HF_HOME": str(tmp_path / "hf-cache"),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        **overrides,
    }
    process = subprocess.Popen(
        local_argv(command.argv),
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: uvicorn workers die with it
    )
    return RunningService(process=process, port=port)


def stop(service: RunningService) -> None:
    if service.process.poll() is None:
        os.killpg(service.process.pid, signal.SIGTERM)
        try:
            service.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(service.process.pid, signal.SIGKILL)
            service.process.wait(timeout=10)


@pytest.fixture
def reward_service(tmp_path: Path) -> Iterator[RunningService]:
    service = launch(service_command("reward"), tmp_path, TOOLGRADE_API_KEY=TEST_KEY)
    try:
        deadline = time.monotonic() + 90
        while run_healthcheck(service.port) != 0:
            if service.process.poll() is not None:
                output = service.process.stdout.read().decode() if service.process.stdout else ""
                pytest.fail(f"reward command exited with {service.process.returncode}:\n{output}")
            if time.monotonic() > deadline:
                pytest.fail("reward command never became healthy")
            time.sleep(0.3)
        yield service
    finally:
        stop(service)


def test_reward_command_is_the_scoring_only_serve_command() -> None:
    command = service_command("reward")
    assert command.argv == ["toolgrade", "serve", "--no-model", "--workers", "2"]
    assert command.env["TOOLGRADE_HOST"] == "0.0.0.0"
    assert command.env["TOOLGRADE_PORT"] == "8000"
    assert command.env["TOOLGRADE_NO_MODEL"] == "true"


@pytest.mark.slow
def test_reward_command_serves_scoring_only_and_passes_its_health_check(
    reward_service: RunningService,
) -> None:
    ready = httpx.get(f"{reward_service.base_url}/ready", timeout=10)
    assert ready.status_code == 200
    assert ready.json()["status"] == "scoring-only"
    reference = [{"name": "get_weather", "arguments": {"city": "Oslo"}}]
    tools = [{"name": "get_weather", "parameters": {"city": {"type": "str"}}}]
    body = {
        "completions": [
            '<tool_call>{"name": "get_weather", "arguments": {"city": "Oslo"}}</tool_call>',
            "no idea",
        ],
        "labels": [reference, reference],
        "tools": tools,
    }
    unauthorised = httpx.post(f"{reward_service.base_url}/reward", json=body, timeout=10)
    assert unauthorised.status_code == 401
    response = httpx.post(
        f"{reward_service.base_url}/reward",
        json=body,
        headers={"Authorization": f"Bearer {TEST_KEY}"},
        timeout=10,
    )
    assert response.status_code == 200
    assert response.json()["rewards"] == [1.0, 0.0]
    assert run_healthcheck(reward_service.port, "/health") == 0


@pytest.mark.slow
def test_health_check_fails_once_the_service_is_gone(reward_service: RunningService) -> None:
    stop(reward_service)
    assert run_healthcheck(reward_service.port) == 1


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
def test_the_example_placeholder_key_is_refused_at_start(tmp_path: Path) -> None:
    command = service_command("reward")
    assert command.env["TOOLGRADE_API_KEY"] == "changeme"
    service = launch(command, tmp_path)
    try:
        assert service.process.wait(timeout=60) != 0
        output = service.process.stdout.read().decode() if service.process.stdout else ""
        assert "TOOLGRADE_API_KEY" in output
    finally:
        stop(service)


def _help_text(argv: list[str]) -> str:
    env = {**os.environ, "COLUMNS": "240", "TERM": "dumb", "NO_COLOR": "1"}
    result = subprocess.run(
        [*local_argv(argv), "--help"], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _subcommand_and_flags(argv: list[str]) -> tuple[list[str], list[str]]:
    """``["toolgrade", "grpo", "--config", "x"]`` -> (``["toolgrade", "grpo"]``, flags)."""
    words = [word for word in argv[1:] if not word.startswith("-")]
    subcommand = [argv[0], words[0]] if words else argv[:1]
    return subcommand, [word.split("=")[0] for word in argv if word.startswith("--")]


@pytest.mark.parametrize("name", ["api", "reward", "trainer"])
def test_every_flag_a_compose_command_uses_exists(name: str) -> None:
    subcommand, flags = _subcommand_and_flags(service_command(name).argv)
    help_text = _help_text(subcommand)
    for flag in flags:
        assert flag in help_text, f"{' '.join(subcommand)} has no {flag}"


@pytest.mark.parametrize(
    ("dockerfile", "target"),
    [("Dockerfile.cpu", "scoring"), ("Dockerfile.cpu", "cpu"), ("Dockerfile.gpu", "api")],
)
def test_every_image_default_command_exists(dockerfile: str, target: str) -> None:
    stage = dockerfile_stages(DOCKER_DIR / dockerfile)[target]
    subcommand, flags = _subcommand_and_flags(stage.entrypoint + stage.cmd)
    help_text = _help_text(subcommand)
    for flag in flags:
        assert flag in help_text, f"{' '.join(subcommand)} has no {flag}"
