"""Stock vLLM OpenAI servers on the default model, to compare ToolGrade's ``/v1`` with.

vLLM's own ``api_server`` with ``--enable-auto-tool-choice --tool-call-parser hermes`` (what
Qwen3 users run today), and the same with ToolGrade's tool-parser plugin (``--tool-parser-plugin
clients/vllm_tool_parser.py --tool-call-parser toolgrade``). Both use the settings of
ToolGrade's shared engine server (float32, 2,048-token context, eager, seed 0) and serve the
model under its directory's name, as ToolGrade does, so greedy answers line up token for token.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from bench.vllm_server_race import stock_vllm_command
from tests.fixtures.servers import LiveServer
from tests.shared import REPO_ROOT, free_port

STOCK_STARTUP_TIMEOUT_S = 600.0
PLUGIN_PATH = REPO_ROOT / "clients" / "vllm_tool_parser.py"
HERMES_ARGS = ("--enable-auto-tool-choice", "--tool-call-parser", "hermes")
PLUGIN_ARGS = (
    "--enable-auto-tool-choice",
    "--tool-parser-plugin",
    str(PLUGIN_PATH),
    "--tool-call-parser",
    "toolgrade",
)


def launch_stock_vllm(model_dir: Path, parser_args: tuple[str, ...]) -> LiveServer:
    """Start a stock vLLM server in its own process group (not waiting for it)."""
    port = free_port()
    log_fd, log_name = tempfile.mkstemp(prefix=f"stock-vllm-{port}-", suffix=".log")
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "VLLM_CPU_KVCACHE_SPACE": "1",
        "VLLM_ENABLE_V1_MULTIPROCESSING": "0",
        "VLLM_CPU_OMP_THREADS_BIND": "nobind",
    }
    with os.fdopen(log_fd, "wb") as log:
        process = subprocess.Popen(
            stock_vllm_command(model_dir, port, parser_args),
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return LiveServer(process=process, port=port, log_path=Path(log_name), env=env)


def wait_until_serving(server: LiveServer, timeout_s: float) -> None:
    """Wait for ``/v1/models`` to answer 200 (the engine is up)."""
    deadline = time.monotonic() + timeout_s
    while True:
        if not server.is_running():
            raise RuntimeError(f"stock vLLM exited:\n{server.log_tail()}")
        try:
            if httpx.get(server.base_url + "/v1/models", timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"stock vLLM not serving after {timeout_s:.0f}s:\n{server.log_tail()}"
            )
        time.sleep(0.5)
