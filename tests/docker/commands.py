"""The options each ``toolgrade`` subcommand accepts, read from the real command line (Typer)."""

from __future__ import annotations

from typing import Any

import typer

from service.cli import app


def cli_flags(subcommand: str) -> set[str]:
    """Every ``--option`` of ``toolgrade <subcommand>``, including ``--no-x`` forms."""
    group: Any = typer.main.get_command(app)
    context = group.make_context("toolgrade", [], resilient_parsing=True)
    command = group.get_command(context, subcommand)
    assert command is not None, f"toolgrade has no subcommand {subcommand!r}"
    return {
        option
        for param in command.params
        for option in (*param.opts, *param.secondary_opts)
        if option.startswith("--")
    } | {"--help"}
