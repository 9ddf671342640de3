"""Static checks of docker/: the compose file, its variables, the Dockerfiles it builds.

No Docker engine is needed. :func:`find_problems` returns a list of human-readable problems
(empty when the project is consistent); the tests assert on it for the real tree and for
broken temporary copies. The compose file is validated against the Compose Specification's
JSON schema as vendored by the ``check-jsonschema`` package (Apache-2.0, from
github.com/compose-spec/compose-spec), so no network is used.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

COMPOSE_FILE = "compose.yaml"
ENV_EXAMPLE = ".env.example"

# ${NAME}, ${NAME:-x}, ${NAME-x}, ${NAME:?x}, ${NAME?x}, ${NAME:+x}, ${NAME+x}, or $NAME.
_BRACED = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-?+])?")
_BARE = re.compile(r"\$(?P<name>[A-Za-z_][A-Za-z0-9_]*)")
_EXPRESSION = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-?+])?(?P<rest>.*)$", re.S)
_ENV_LINE = re.compile(r"^(?P<comment>#\s*)?(?P<name>[A-Z][A-Z0-9_]*)=(?P<value>.*)$")


class InterpolationError(ValueError):
    """A ``${VAR:?message}`` whose variable is unset or empty."""


def compose_schema() -> dict[str, Any]:
    """The Compose Specification JSON schema shipped inside ``check-jsonschema``."""
    vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    return json.loads((vendor / "compose-spec.json").read_text(encoding="utf-8"))


def schema_errors(document: Any) -> list[str]:
    """Every violation of the Compose Specification, as ``path: message`` lines."""
    validator = jsonschema.Draft202012Validator(compose_schema())
    return sorted(
        f"{'/'.join(str(part) for part in error.absolute_path) or '<root>'}: {error.message}"
        for error in validator.iter_errors(document)
    )


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's variable interpolation (``$$`` escapes a dollar; defaults may nest).

    Example:
        >>> interpolate("${A:-x}-${B-y}-${C:+z}-$$D", {"B": "", "C": "1"})
        'x--z-$D'
    """
    out: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char != "$":
            out.append(char)
            index += 1
            continue
        following = text[index + 1 : index + 2]
        if following == "$":
            out.append("$")
            index += 2
        elif following == "{":
            end = _closing_brace(text, index + 1)
            out.append(_substitute(text[index + 2 : end], env))
            index = end + 1
        else:
            match = _BARE.match(text, index)
            if match is None:
                out.append(char)
                index += 1
            else:
                out.append(env.get(match.group("name"), ""))
                index = match.end()
    return "".join(out)


def interpolate_document(value: Any, env: dict[str, str]) -> Any:
    """Interpolate every string of a loaded YAML document (keys included)."""
    if isinstance(value, str):
        return interpolate(value, env)
    if isinstance(value, list):
        return [interpolate_document(item, env) for item in value]
    if isinstance(value, dict):
        return {
            interpolate_document(key, env): interpolate_document(item, env)
            for key, item in value.items()
        }
    return value


@dataclass(frozen=True)
class VariableUse:
    """How the compose file uses one variable."""

    name: str
    required: bool
    has_default: bool


def compose_variables(document: Any) -> dict[str, VariableUse]:
    """Every variable a loaded compose document interpolates, with whether it is required.

    Comments are not part of the document, so a ``${VAR}`` written in one is not a use.
    """
    uses: dict[str, VariableUse] = {}
    unescaped = "\n".join(_strings(document)).replace("$$", "")
    for match in _BRACED.finditer(unescaped):
        name, op = match.group("name"), match.group("op") or ""
        previous = uses.get(name)
        uses[name] = VariableUse(
            name=name,
            required=op.endswith("?") or (previous.required if previous else False),
            has_default=op.endswith("-") or (previous.has_default if previous else False),
        )
    for match in _BARE.finditer(unescaped):
        uses.setdefault(match.group("name"), VariableUse(match.group("name"), False, False))
    return uses


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    if isinstance(value, dict):
        return [text for pair in value.items() for item in pair for text in _strings(item)]
    return []


def env_example_entries(path: Path) -> dict[str, str | None]:
    """``NAME -> value`` for set lines and ``NAME -> None`` for documented, commented ones."""
    entries: dict[str, str | None] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _ENV_LINE.match(line.strip())
        if match:
            entries[match.group("name")] = None if match.group("comment") else match.group("value")
    return entries


def example_environment(docker_dir: Path) -> dict[str, str]:
    """The variables a user gets by copying ``.env.example`` to ``.env`` unchanged."""
    entries = env_example_entries(docker_dir / ENV_EXAMPLE)
    return {name: value for name, value in entries.items() if value is not None}


@dataclass
class Stage:
    """What one Dockerfile stage ends up with (inherited from its base stages)."""

    name: str
    base: str
    env: dict[str, str] = field(default_factory=dict)
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    healthcheck: list[str] | None = None
    copy_sources: list[str] = field(default_factory=list)
    copy_destinations: list[str] = field(default_factory=list)
    user: str | None = None


def dockerfile_stages(path: Path) -> dict[str, Stage]:
    """Stages of a Dockerfile by name, each with the settings it inherits from its base."""
    stages: dict[str, Stage] = {}
    current: Stage | None = None
    for instruction, arguments in _instructions(path.read_text(encoding="utf-8")):
        if instruction == "FROM":
            words = arguments.split()
            base = words[0]
            name = words[2] if len(words) >= 3 and words[1].lower() == "as" else f"#{len(stages)}"
            parent = stages.get(base)
            current = Stage(name=name, base=base)
            if parent is not None:
                current.env = dict(parent.env)
                current.entrypoint = list(parent.entrypoint)
                current.cmd = list(parent.cmd)
                current.healthcheck = parent.healthcheck
                current.copy_destinations = list(parent.copy_destinations)
                current.user = parent.user
            stages[name] = current
        elif current is None:
            continue
        elif instruction == "ENV":
            current.env.update(_env_pairs(arguments))
        elif instruction == "ENTRYPOINT":
            current.entrypoint = _exec_form(arguments)
            current.cmd = []  # Docker resets CMD when ENTRYPOINT changes
        elif instruction == "CMD":
            current.cmd = _exec_form(arguments)
        elif instruction == "HEALTHCHECK":
            current.healthcheck = _healthcheck_command(arguments)
        elif instruction == "USER":
            current.user = arguments.strip()
        elif instruction in ("COPY", "ADD"):
            words = [w for w in shlex.split(arguments) if not w.startswith("--")]
            from_stage = "--from=" in arguments
            *sources, destination = words
            if not from_stage:
                current.copy_sources.extend(sources)
            current.copy_destinations.append(destination)
    return stages


def find_problems(docker_dir: Path, known_settings: set[str]) -> list[str]:
    """Everything inconsistent in ``docker_dir`` (compose, ``.env.example``, Dockerfiles).

    Args:
        docker_dir: the folder holding ``compose.yaml``, ``.env.example`` and the Dockerfiles.
        known_settings: ``TOOLGRADE_*`` variable names the service reads (from ``Settings``);
            ``.env.example`` may document those even when compose does not interpolate them
            (they reach the container through ``env_file``).
    """
    problems: list[str] = []
    compose_path = docker_dir / COMPOSE_FILE
    env_path = docker_dir / ENV_EXAMPLE
    for required_file in (compose_path, env_path):
        if not required_file.is_file():
            return [f"missing file: {required_file}"]
    text = compose_path.read_text(encoding="utf-8")
    document = yaml.safe_load(text)
    problems += [f"compose schema: {error}" for error in schema_errors(document)]

    uses = compose_variables(document)
    documented = env_example_entries(env_path)
    for name, use in sorted(uses.items()):
        if name not in documented:
            problems.append(f"{ENV_EXAMPLE} does not document ${{{name}}}")
        elif use.required and documented[name] is None:
            problems.append(f"{ENV_EXAMPLE} must set required ${{{name}}} (not commented out)")
    for name in sorted(documented):
        if name not in uses and name not in known_settings:
            problems.append(f"{ENV_EXAMPLE} documents {name}, which nothing reads")

    try:
        resolved = interpolate_document(document, example_environment(docker_dir))
    except InterpolationError as error:
        problems.append(f"with {ENV_EXAMPLE} values: {error}")
        return problems
    problems += [f"compose schema after interpolation: {e}" for e in schema_errors(resolved)]
    problems += _service_problems(resolved, compose_path.parent)
    return problems


def _service_problems(document: dict[str, Any], base: Path) -> list[str]:
    problems: list[str] = []
    services: dict[str, Any] = document.get("services") or {}
    named_volumes = set(document.get("volumes") or {})
    for service_name, service in services.items():
        where = f"service {service_name}"
        stage = None
        build = service.get("build")
        if isinstance(build, dict):
            context = (base / build.get("context", ".")).resolve()
            dockerfile = context / build.get("dockerfile", "Dockerfile")
            if not context.is_dir():
                problems.append(f"{where}: build context {context} does not exist")
                continue
            if not dockerfile.is_file():
                problems.append(f"{where}: Dockerfile {dockerfile} does not exist")
                continue
            stages = dockerfile_stages(dockerfile)
            target = build.get("target")
            if target is not None and target not in stages:
                problems.append(f"{where}: target {target!r} is not a stage of {dockerfile.name}")
                continue
            stage = stages[target] if target else list(stages.values())[-1]
            ignore_file = dockerfile.with_name(dockerfile.name + ".dockerignore")
            patterns = dockerignore_patterns(ignore_file) if ignore_file.is_file() else None
            if patterns is None:
                problems.append(
                    f"{where}: {ignore_file.name} is missing (the context is sent whole)"
                )
            for name, each in stages.items():
                for source in each.copy_sources:
                    if not (context / source).exists():
                        problems.append(
                            f"{dockerfile.name} stage {name}: COPY source {source} is missing"
                        )
                    elif patterns is not None and not dockerignore_admits(patterns, source):
                        problems.append(
                            f"{dockerfile.name} stage {name}: COPY source {source} is excluded "
                            f"by {ignore_file.name}"
                        )
            if stage.user in (None, "root", "0", "0:0"):
                problems.append(f"{where}: image stage {stage.name} runs as root")
        for entry in service.get("env_file") or []:
            path = entry if isinstance(entry, str) else entry.get("path")
            required = True if isinstance(entry, str) else entry.get("required", True)
            if required and not (base / path).is_file():
                problems.append(f"{where}: env_file {path} does not exist")
        for volume in service.get("volumes") or []:
            source = volume.split(":")[0] if isinstance(volume, str) else volume.get("source")
            if source and not source.startswith((".", "/", "~")) and source not in named_volumes:
                problems.append(f"{where}: volume {source!r} is not declared under volumes:")
        healthcheck = service.get("healthcheck", {}).get("test")
        if healthcheck and stage is not None:
            problems += _healthcheck_problems(where, healthcheck, stage)
        for dependency, condition in (service.get("depends_on") or {}).items():
            if dependency not in services:
                problems.append(f"{where}: depends on unknown service {dependency}")
            elif condition.get("condition") == "service_healthy" and not _has_healthcheck(
                services[dependency], base
            ):
                problems.append(f"{where}: waits for {dependency} to be healthy; it has no check")
    return problems


def dockerignore_patterns(path: Path) -> list[str]:
    """The patterns of a ``.dockerignore`` file, in order (comments and blanks dropped)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def dockerignore_admits(patterns: list[str], source: str) -> bool:
    """Whether a path reaches the build context: the last matching pattern decides.

    Example:
        >>> dockerignore_admits(["*", "!service/", "**/__pycache__"], "service")
        True
        >>> dockerignore_admits(["*", "!service/"], "docker/healthcheck.py")
        False
    """
    path = source.strip("/")
    prefixes = [path] + ["/".join(path.split("/")[:n]) for n in range(1, path.count("/") + 1)]
    admitted = True
    for raw in patterns:
        negated = raw.startswith("!")
        pattern = raw.lstrip("!").strip("/")
        if any(fnmatch.fnmatchcase(prefix, pattern) for prefix in prefixes):
            admitted = negated
    return admitted


def _healthcheck_problems(where: str, test: list[str], stage: Stage) -> list[str]:
    """A health check must run a file the image actually contains."""
    scripts = [word for word in test[1:] if word.endswith(".py")]
    return [
        f"{where}: health check runs {script}, which the image does not contain"
        for script in scripts
        if script not in stage.copy_destinations
    ]


def _has_healthcheck(service: dict[str, Any], base: Path) -> bool:
    if service.get("healthcheck", {}).get("test"):
        return not service["healthcheck"].get("disable", False)
    build = service.get("build")
    if not isinstance(build, dict):
        return False
    context = (base / build.get("context", ".")).resolve()
    stages = dockerfile_stages(context / build.get("dockerfile", "Dockerfile"))
    stage = stages.get(build.get("target", ""), list(stages.values())[-1])
    return bool(stage.healthcheck)


def _closing_brace(text: str, opening: int) -> int:
    depth = 0
    for index in range(opening, len(text)):
        if text[index] == "{":
            depth += 1
        elif text[index] == "}":
            depth -= 1
            if depth == 0:
                return index
    raise ValueError(f"unclosed ${{ at {opening}: {text[opening - 1 : opening + 30]!r}")


def _substitute(expression: str, env: dict[str, str]) -> str:
    match = _EXPRESSION.match(expression)
    if match is None:
        raise ValueError(f"invalid interpolation ${{{expression}}}")
    name, op, rest = match.group("name"), match.group("op"), match.group("rest")
    value = env.get(name)
    empty_counts = op is not None and op.startswith(":")
    is_set = value is not None and (value != "" or not empty_counts)
    if op is None:
        return value or ""
    if op.endswith("-"):
        return value if is_set and value is not None else interpolate(rest, env)
    if op.endswith("?"):
        if not is_set or value is None:
            raise InterpolationError(f"required variable {name} is missing: {rest}")
        return value
    return interpolate(rest, env) if is_set else ""


def _instructions(text: str) -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` pairs with continuations joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or (line.startswith("#") and not pending):
            continue
        if line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = pending + line
        pending = ""
        keyword, _, arguments = full.partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
    return instructions


def _env_pairs(arguments: str) -> dict[str, str]:
    pairs = {}
    for word in shlex.split(arguments):
        key, _, value = word.partition("=")
        pairs[key] = value
    return pairs


def _exec_form(arguments: str) -> list[str]:
    arguments = arguments.strip()
    if arguments.startswith("["):
        return list(json.loads(arguments))
    return ["/bin/sh", "-c", arguments]


def _healthcheck_command(arguments: str) -> list[str] | None:
    if arguments.strip().upper() == "NONE":
        return None
    _, _, command = arguments.partition("CMD")
    return _exec_form(command)
