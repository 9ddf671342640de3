"""``toolgrade serve``: run the HTTP service under uvicorn.

Settings come from the environment (``TOOLGRADE_*``, see :mod:`service.config`); the options
here override the address, the worker count and the mode. ``--workers N`` runs N processes
(each with its own copy of the app and, unless scoring-only, its own engine), so options are
handed to them through the environment, which every worker reads.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

# uvicorn waits this long for in-flight requests on SIGTERM before closing connections.
GRACEFUL_SHUTDOWN_S = 30
# uvicorn kills and replaces a worker that does not answer its ping within this many seconds.
# Its default (5 s) is shorter than a freshly spawned worker needs to import on a busy host (in a
# container on a loaded machine, importing uvicorn alone took 4.6 s), and every replacement then
# dies the same way: with --workers the service never came up.
WORKER_HEALTHCHECK_S = 60


def serve_command(
    host: Annotated[
        str | None, typer.Option(help="Interface to bind (default: TOOLGRADE_HOST or 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(min=0, max=65535, help="Port (default: TOOLGRADE_PORT or 8000)."),
    ] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    no_model: Annotated[
        bool,
        typer.Option("--no-model", help="Scoring-only: /score and /reward, no generation engine."),
    ] = False,
    log_level: Annotated[
        str | None, typer.Option(help="Log level (default: TOOLGRADE_LOG_LEVEL or info).")
    ] = None,
) -> None:
    """Serve /score, /reward, generation (unless --no-model), /health, /ready and /metrics."""
    # Imported here: `toolgrade --help` and the other commands do not need the web stack.
    import uvicorn

    from service.config import Settings
    from service.logging_config import uvicorn_log_config

    if no_model:
        # Through the environment so that every worker process (and the app factory) sees it.
        os.environ["TOOLGRADE_NO_MODEL"] = "true"
    settings = Settings()
    level = (log_level or settings.log_level).lower()
    uvicorn.run(
        "service.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port if port is not None else settings.port,
        workers=workers,
        log_config=uvicorn_log_config(level),
        log_level=level,
        access_log=False,  # toolgrade.access logs each request with its id and duration
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_S,
        server_header=False,
    )
