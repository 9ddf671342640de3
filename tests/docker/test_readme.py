"""The README's deployment and usage instructions stay true to the code.

Every ``toolgrade ...`` line in a shell block must parse against the real command line, every
``from x import y`` in a Python block must import, every ``TOOLGRADE_*`` setting must be in the
configuration table with its real default, and the files it names must exist.
"""

from __future__ import annotations

import importlib
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer

from service.cli import app
from service.config import Settings
from tests.shared import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
FENCE = re.compile(r"```(?P<lang>\w*)\n(?P<body>.*?)```", re.S)


def code_blocks(language: str) -> list[str]:
    return [m.group("body") for m in FENCE.finditer(README) if m.group("lang") == language]


def shell_commands(prefix: str) -> list[str]:
    """Commands starting with ``prefix`` in bash blocks (continuations joined, comments cut)."""
    commands = []
    for block in code_blocks("bash"):
        joined = block.replace("\\\n", " ")
        for line in joined.splitlines():
            line = line.split(" #", 1)[0].strip().rstrip("&").strip()
            if line.startswith(prefix):
                commands.append(line)
    return commands


def section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(?P<body>.*?)(?=^## |\Z)", README, re.S | re.M)
    assert match, f"README has no section {title!r}"
    return match.group("body")


def test_the_two_commands_exist_in_the_makefile() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^serve: ", makefile, re.M) and re.search(r"^test: ", makefile, re.M)
    two_commands = section("The two commands")
    assert "make serve" in two_commands and "make test" in two_commands


def test_the_deployment_section_starts_with_compose_up() -> None:
    body = section("Deploying with compose").lstrip()
    assert body.startswith("```bash\ndocker compose -f docker/compose.yaml up\n```")


@pytest.mark.parametrize("command", shell_commands("toolgrade "))
def test_every_toolgrade_command_in_the_readme_parses(command: str) -> None:
    words = shlex.split(command)[1:]
    # Typer ships its own copy of click: use the command objects' methods, not click's classes.
    current: Any = typer.main.get_command(app)
    context = current.make_context("toolgrade", [], resilient_parsing=True)
    while hasattr(current, "get_command"):  # a group: descend into the named subcommand
        name, words = words[0], words[1:]
        current = current.get_command(context, name)
        assert current is not None, f"no command {name!r} in {command!r}"
        context = current.make_context(name, [], parent=context, resilient_parsing=True)
    # The leaf parsed strictly: an unknown option or a missing argument raises.
    current.make_context(name, list(words), parent=context.parent)


def test_the_readme_shows_every_job_of_the_cli() -> None:
    shown = {shlex.split(command)[1] for command in shell_commands("toolgrade ")}
    assert {"prepare", "synth", "sft", "merge", "grpo", "serve", "eval"} <= shown


@pytest.mark.parametrize(
    "statement",
    sorted(
        {
            line.strip()
            for block in code_blocks("python")
            for line in block.splitlines()
            if line.startswith("from ") and " import " in line
        }
    ),
)
def test_every_python_import_in_the_readme_resolves(statement: str) -> None:
    module_name, names = re.match(r"from (\S+) import (.+)", statement).groups()  # type: ignore[union-attr]
    if module_name.split(".")[0] not in {
        "service",
        "clients",
        "training",
        "trl",
    }:
        pytest.skip(f"{module_name} is not installed here")
    module = importlib.import_module(module_name)
    for name in (part.strip() for part in names.split(",")):
        assert hasattr(module, name), f"{module_name} has no {name}"


def test_configuration_table_lists_every_setting_with_its_default() -> None:
    table = section("Configuration")
    rows = dict(re.findall(r"^\| `(TOOLGRADE_[A-Z_]+)` \| ([^|]+) \|", table, re.M))
    defaults = Settings.model_construct()
    for name in Settings.model_fields:
        variable = f"TOOLGRADE_{name.upper()}"
        assert variable in rows, f"{variable} missing from the configuration table"
        default = getattr(defaults, name)
        shown = rows[variable].strip().strip("`")
        if isinstance(default, bool):
            assert shown == str(default).lower(), variable
        elif isinstance(default, int | float | str) and name != "served_model_name":
            assert shown == str(default), variable
        elif default is None:
            assert shown in {"unset", "the model's name"}, variable
        elif isinstance(default, Path):
            assert shown == str(default.relative_to(REPO_ROOT)), variable
    assert set(rows) == {f"TOOLGRADE_{name.upper()}" for name in Settings.model_fields}


def test_files_named_in_the_readme_exist() -> None:
    named = set(
        re.findall(
            r"`((?:docker|training/configs|bench|service|clients|models|toolgrade)/[\w./-]*)`",
            README,
        )
    )
    named |= set(re.findall(r"-f (docker/[\w.-]+)", README))
    named.discard("docker/.env")  # the user's copy of docker/.env.example
    missing = [path for path in sorted(named) if not (REPO_ROOT / path).exists()]
    assert missing == []
