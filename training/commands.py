"""CLI commands of the training jobs: ``prepare``, ``synth``, ``sft``, ``merge``, ``grpo``.

Registered on the root ``toolgrade`` app by :func:`register`. Heavy imports (torch, trl, peft,
the core's jsonschema) happen inside the command bodies so ``toolgrade --help`` stays fast.
Every job loads its YAML config (``--config``, ``--set key=value``, dedicated options), shows
progress bars, prints a final summary table and writes the summary as JSON into its output.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from training.errors import TrainingJobError

if TYPE_CHECKING:
    from rich.console import Console


@cache
def _console(*, stderr: bool = False) -> Console:
    """A rich console, made (and rich imported) when a job first prints."""
    from rich.console import Console

    return Console(stderr=stderr)


ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="YAML file merged over training/configs/<job>.yaml."),
]
SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", "-s", help="Override a config key: --set lora.r=16 (repeatable)."),
]


@contextmanager
def job_errors() -> Iterator[None]:
    """Turn a :class:`TrainingJobError` into a one-line message and exit code 2."""
    try:
        yield
    except TrainingJobError as exc:
        _console(stderr=True).print(f"[bold red]error[/] {exc.message} [dim]\\[{exc.label}][/]")
        raise typer.Exit(code=2) from None


def print_summary(title: str, values: Mapping[str, Any]) -> None:
    """A two-column table: what the job did, in numbers."""
    from rich.table import Table

    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for key, value in values.items():
        table.add_row(key, _format_value(value))
    _console().print(table)


def _format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, Mapping):
        return ", ".join(f"{key}={_format_value(item)}" for key, item in value.items()) or "-"
    return str(value)


def prepare_command(
    source: Annotated[
        str | None,
        typer.Argument(help="Local JSON/JSONL/parquet file or hub id (default from the config)."),
    ] = None,
    config: ConfigOption = None,
    overrides: SetOption = None,
    output_dir: Annotated[Path | None, typer.Option(help="Where the outputs go.")] = None,
    tokenizer: Annotated[
        str | None, typer.Option(help="Tokenizer for GRPO prompts (default: the service's model).")
    ] = None,
    max_rows: Annotated[int | None, typer.Option(help="Read only the first N rows.")] = None,
    seed: Annotated[int | None, typer.Option(help="Split seed (default 42).")] = None,
    hf_token: Annotated[
        str | None,
        typer.Option(
            envvar="HF_TOKEN", help="Hugging Face token for gated hub datasets.", show_default=False
        ),
    ] = None,
) -> None:
    """Turn xLAM rows into LLaMA-Factory ShareGPT, TRL messages and GRPO prompts (90/10 split)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from training.config import PrepareConfig, load_job_config
    from training.prepare import prepare_dataset

    with job_errors():
        job = load_job_config(
            PrepareConfig,
            "prepare",
            config,
            overrides or (),
            {
                "source": source,
                "output_dir": output_dir,
                "tokenizer": tokenizer,
                "max_rows": max_rows,
                "seed": seed,
                "hf_token": hf_token,
            },
        )
        with Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=_console()
        ) as progress:
            tasks: dict[str, Any] = {}

            def hook(stage: str, advance: int, total: int | None) -> None:
                if stage not in tasks:
                    tasks[stage] = progress.add_task(f"{stage} rows", total=total)
                progress.update(tasks[stage], advance=advance)

            report = prepare_dataset(job, progress=hook)
    summary = report.to_dict()
    print_summary(
        "prepare",
        {
            "source": summary["source"],
            "read": summary["read"],
            "kept": summary["kept"],
            "rejected": summary["rejected_total"],
            "rejected by reason": summary["rejected"],
            "flagged rows": summary["flagged_rows"],
            "flags": summary["flagged"],
            "categories": summary["categories"],
            "splits": summary["splits"],
            "output": job.output_dir,
        },
    )


def synth_command(
    output: Annotated[Path, typer.Argument(help="JSONL file to write the rows to.")],
    count: Annotated[int, typer.Option(min=1, help="Number of rows.")] = 1000,
    seed: Annotated[int, typer.Option(help="Same seed, same rows.")] = 0,
    max_distractors: Annotated[
        int, typer.Option(min=0, help="Extra tools offered per row, at most.")
    ] = 3,
) -> None:
    """Generate xLAM-format function-calling rows offline (deterministic)."""
    import json
    from collections import Counter

    from rich.progress import track

    from service.core.shapes import call_shape
    from training.synth import SynthOptions, iter_rows, write_jsonl

    options = SynthOptions(count=count, seed=seed, max_distractors=max_distractors)
    rows = list(track(iter_rows(options), total=count, description="generate rows"))
    write_jsonl(rows, output)
    shapes = Counter(call_shape(json.loads(row["answers"])) for row in rows)
    print_summary(
        "synth", {"rows": len(rows), "shapes": dict(sorted(shapes.items())), "output": output}
    )


def sft_command(
    config: ConfigOption = None,
    overrides: SetOption = None,
    model: Annotated[
        str | None, typer.Option(help="Base model path or hub id (default: the service's).")
    ] = None,
    train_file: Annotated[
        Path | None, typer.Option("--data", "--train-file", help="prepare's trl/train.jsonl.")
    ] = None,
    eval_file: Annotated[Path | None, typer.Option(help="prepare's trl/eval.jsonl.")] = None,
    output_dir: Annotated[Path | None, typer.Option(help="Where the adapter goes.")] = None,
    max_steps: Annotated[int | None, typer.Option(help="Stop after N optimizer steps.")] = None,
) -> None:
    """LoRA SFT with TRL + PEFT (defaults: all linear, r32, alpha 64, lr 2e-4, 2x8 batch)."""
    from training.config import SFTJobConfig, load_job_config
    from training.sft import run_sft

    with job_errors():
        job = load_job_config(
            SFTJobConfig,
            "sft",
            config,
            overrides or (),
            {
                "model": model,
                "train_file": train_file,
                "eval_file": eval_file,
                "output_dir": output_dir,
                "max_steps": max_steps,
            },
        )
        result = run_sft(job)
    print_summary(
        "sft",
        {
            "base model": result.base_model,
            "rows": result.train_rows,
            "steps": result.steps,
            "epochs": result.epochs,
            "loss first -> last": f"{result.first_loss} -> {result.last_loss}",
            "eval loss": result.eval_loss,
            "trainable params": f"{result.trainable_parameters:,} / {result.total_parameters:,}",
            "device": f"{result.device} (bf16={result.bf16})",
            "runtime s": result.runtime_s,
            "adapter": result.output_dir,
        },
    )


def merge_command(
    config: ConfigOption = None,
    overrides: SetOption = None,
    adapter: Annotated[Path | None, typer.Option(help="The LoRA adapter folder.")] = None,
    base_model: Annotated[
        str | None, typer.Option(help="Base model (default: the adapter's own).")
    ] = None,
    output_dir: Annotated[Path | None, typer.Option(help="Where the merged model goes.")] = None,
    dtype: Annotated[str | None, typer.Option(help="bfloat16 | float16 | float32.")] = None,
    device_map: Annotated[str | None, typer.Option(help="cpu, auto, cuda:0, ...")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite a non-empty output folder.")] = False,
) -> None:
    """Merge a LoRA adapter into its base model, check the logits, save with the tokenizer."""
    from training.config import MergeConfig, load_job_config
    from training.merge import run_merge

    with job_errors():
        job = load_job_config(
            MergeConfig,
            "merge",
            config,
            overrides or (),
            {
                "adapter": adapter,
                "base_model": base_model,
                "output_dir": output_dir,
                "dtype": dtype,
                "device_map": device_map,
                "force": force or None,
            },
        )
        result = run_merge(job)
    print_summary(
        "merge",
        {
            "base model": result.base_model,
            "adapter": result.adapter,
            "max |merged - adapter| logit (float32)": f"{result.max_abs_logit_diff:.3g}",
            f"max |saved {result.dtype} - adapter| logit": (
                "not checked"
                if result.max_abs_logit_diff_saved is None
                else f"{result.max_abs_logit_diff_saved:.3g}"
            ),
            "probe tokens": result.probe_tokens,
            "runtime s": result.runtime_s,
            "merged model": result.output_dir,
        },
    )


def grpo_command(
    config: ConfigOption = None,
    overrides: SetOption = None,
    model: Annotated[
        str | None, typer.Option(help="Model to train, usually the merged SFT model.")
    ] = None,
    train_file: Annotated[
        Path | None, typer.Option("--data", "--train-file", help="prepare's grpo/train.jsonl.")
    ] = None,
    output_dir: Annotated[Path | None, typer.Option(help="Where the result goes.")] = None,
    reward_url: Annotated[
        str | None, typer.Option(help="Base URL of a running ToolGrade service.")
    ] = None,
    local_reward: Annotated[
        bool, typer.Option("--local-reward", help="Compute the reward in-process instead.")
    ] = False,
    max_steps: Annotated[int | None, typer.Option(help="Stop after N steps.")] = None,
) -> None:
    """GRPO with TRL, rewarded by ToolGrade's /reward (or in-process with --local-reward)."""
    from training.config import GRPOJobConfig, load_job_config
    from training.grpo import run_grpo

    with job_errors():
        job = load_job_config(
            GRPOJobConfig,
            "grpo",
            config,
            overrides or (),
            {
                "model": model,
                "train_file": train_file,
                "output_dir": output_dir,
                "reward.url": reward_url,
                "reward.local": local_reward or None,
                "max_steps": max_steps,
            },
        )
        result = run_grpo(job)
    print_summary(
        "grpo",
        {
            "base model": result.base_model,
            "reward": result.reward_source,
            "prompts": result.prompts,
            "steps": result.steps,
            "reward first -> last": f"{result.first_reward} -> {result.last_reward}",
            "mean components": result.components,
            "trainable params": f"{result.trainable_parameters:,} / {result.total_parameters:,}",
            "device": result.device,
            "runtime s": result.runtime_s,
            "output": result.output_dir,
        },
    )


def register(app: typer.Typer) -> None:
    """Add the training commands to the root ``toolgrade`` app."""
    app.command("prepare")(prepare_command)
    app.command("synth")(synth_command)
    app.command("sft")(sft_command)
    app.command("merge")(merge_command)
    app.command("grpo")(grpo_command)
