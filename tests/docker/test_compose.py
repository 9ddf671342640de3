"""The compose files, checked without Docker: the real Compose schema, and what users copy.

The schema is the Compose Specification's own, as vendored by ``check-jsonschema`` (run as its
CLI). ``docker/smoke.sh`` builds the images and runs the CPU stack for real; these checks are
the part ``make test`` can afford.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from service.config import Settings
from tests.docker.commands import cli_flags
from tests.shared import REPO_ROOT

DOCKER_DIR = REPO_ROOT / "docker"
COMPOSE_FILES = [DOCKER_DIR / "compose.yaml", DOCKER_DIR / "compose.cpu.yaml"]
# ${NAME}, ${NAME:-default}, ${NAME:?message}, ... : the variable and whether it is required.
VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-?+])?")
EXAMPLE_LINE = re.compile(r"^(?P<comment># )?(?P<name>[A-Z][A-Z0-9_]*)=", re.M)


def check_compose_schema(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec"]
        + [str(path) for path in paths],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def services(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))["services"]


def strings(node: Any) -> Iterator[str]:
    """Every string in a YAML document, keys included (compose interpolates both)."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from strings(key)
            yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)


def compose_variables() -> dict[str, bool]:
    """Every ``${VAR}`` the compose files read -> whether one of them requires it (``:?``)."""
    found: dict[str, bool] = {}
    for path in COMPOSE_FILES:
        for text in strings(yaml.safe_load(path.read_text(encoding="utf-8"))):
            for match in VARIABLE.finditer(text):
                required = "?" in (match["op"] or "")
                found[match["name"]] = found.get(match["name"], False) or required
    return found


def test_compose_files_pass_the_compose_specification_schema() -> None:
    result = check_compose_schema(*COMPOSE_FILES)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_reports_a_misspelt_key(tmp_path: Path) -> None:
    broken = tmp_path / "compose.yaml"
    text = (DOCKER_DIR / "compose.yaml").read_text(encoding="utf-8")
    broken.write_text(text.replace("    healthcheck:", "    helthcheck:", 1), encoding="utf-8")
    result = check_compose_schema(broken)
    assert result.returncode == 1
    assert "helthcheck" in result.stdout


def test_compose_v1_can_read_the_files() -> None:
    """docker-compose 1.29 (no Compose v2 here) rejects a top-level ``name`` and long env_file."""
    for path in COMPOSE_FILES:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert "name" not in document, path.name
        for service in document["services"].values():
            assert all(isinstance(entry, str) for entry in service.get("env_file", [])), path.name


def test_env_example_sets_every_required_variable_and_documents_the_rest() -> None:
    example = (DOCKER_DIR / ".env.example").read_text(encoding="utf-8")
    entries = {match["name"]: not match["comment"] for match in EXAMPLE_LINE.finditer(example)}
    settings = {f"TOOLGRADE_{name.upper()}" for name in Settings.model_fields}
    for name, required in compose_variables().items():
        assert name in entries, f".env.example does not document ${{{name}}}"
        assert entries[name] or not required, f".env.example must set required {name}"
    for name in entries:
        assert (
            name in compose_variables() or name in settings or not name.startswith("TOOLGRADE_")
        ), f".env.example documents {name}, which nothing reads"


def test_the_gpu_services_reserve_a_gpu_and_the_cpu_override_runs_none_of_them() -> None:
    gpu, cpu = services(COMPOSE_FILES[0]), services(COMPOSE_FILES[1])
    reserving = {
        name for name, service in gpu.items() if "devices" in str(service.get("deploy", {}))
    }
    assert reserving == {"api", "trainer"}
    # An override cannot remove a reservation: the CPU file scales those services to zero, and
    # points them at the CPU image (compose v1 checks every service's image, even at scale 0).
    assert {name for name, service in cpu.items() if service.get("scale") == 0} == reserving
    assert {cpu[name]["build"]["target"] for name in reserving} == {"cpu"}
    running = {name: service for name, service in cpu.items() if service.get("scale") != 0}
    assert set(running) == {"api-cpu", "trainer-cpu"}
    assert all("deploy" not in service for service in running.values())
    assert {service["build"]["target"] for service in running.values()} == {"cpu"}
    assert "--no-model" in gpu["reward"]["command"]


@pytest.mark.parametrize(("file", "name"), [(0, "trainer"), (1, "trainer-cpu")])
def test_trainers_wait_for_the_reward_service_and_use_it(file: int, name: str) -> None:
    trainer = services(COMPOSE_FILES[file])[name]
    assert trainer["profiles"] == ["train"]
    assert trainer["depends_on"] == {"reward": {"condition": "service_healthy"}}
    command = trainer["command"]
    assert command[0] == "grpo"
    assert command[command.index("--reward-url") + 1] == "http://reward:8000"


@pytest.mark.parametrize(
    ("path", "name"),
    [
        (path, name)
        for path in COMPOSE_FILES
        for name, service in services(path).items()
        if "command" in service
    ],
    ids=lambda value: value.name if isinstance(value, Path) else value,
)
def test_every_flag_a_compose_command_uses_exists(path: Path, name: str) -> None:
    command = services(path)[name]["command"]
    subcommand = command[0]
    flags = [word.split("=")[0] for word in command if word.startswith("--")]
    assert set(flags) <= cli_flags(subcommand), f"{name}: toolgrade {subcommand}"
