"""``toolgrade model build-default``: build the embedded default model ahead of time.

``toolgrade serve`` builds it on first use anyway; building it in an image layer (or before a
demo) moves those seconds out of start-up.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    name="model",
    help="The embedded default model (a tiny Qwen3 with the real Qwen vocabulary).",
    no_args_is_help=True,
)


@app.command("build-default")
def build_default_command(
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            help="Directory to write (default: <TOOLGRADE_CACHE_DIR>/models/toolgrade-default).",
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the random weights.")] = 0,
) -> None:
    """Build the tiny Qwen3 default model offline (reused when already built)."""
    from service.config import Settings
    from service.models.default_model import DEFAULT_MODEL_NAME, ensure_tiny_qwen3

    target = output or Settings().cache_dir / "models" / DEFAULT_MODEL_NAME
    built = ensure_tiny_qwen3(target, seed=seed)
    typer.echo(str(built))
