"""The ``toolgrade`` command line: one entry point for scoring, serving, training and eval.

This module is the composition root: it alone imports the serving layer, the training jobs and
the clients together, so none of them needs to import another to be on the command line.

Each command lives in its own module and imports heavy dependencies (torch, vllm, trl) inside
the command body, so ``toolgrade --help`` and ``toolgrade score`` stay fast.
"""

from __future__ import annotations

import typer

from clients.evaluation import command as eval_commands
from service.commands import audit, model, score, serve
from training.commands import register as register_training_commands

app = typer.Typer(
    name="toolgrade",
    help="Evaluation and reward service for LLM function calling.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)

# Command registrations: one line per command module (kept sorted).
app.command("audit")(audit.audit_command)
app.add_typer(eval_commands.app, name="eval")
app.add_typer(model.app, name="model")
app.command("score")(score.score_command)
app.command("serve")(serve.serve_command)
register_training_commands(app)  # prepare, synth, sft, merge, grpo


def main() -> None:
    app()


if __name__ == "__main__":
    main()
