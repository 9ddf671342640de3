"""``service.core`` stays pure: no web framework, no torch, no inference engine.

Two independent proofs: a fresh interpreter imports every core module and watches every import
attempt (even one swallowed by ``try/except ImportError``), and a static scan of the sources
finds no import statement or ``import_module("...")`` call naming a forbidden package.
"""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import service.core

FORBIDDEN = ("fastapi", "starlette", "torch", "vllm", "transformers")
CORE_DIR = Path(service.core.__file__).parent
REPO_ROOT = CORE_DIR.parents[1]

# Runs in a fresh interpreter: records every attempt to import a forbidden package, then imports
# every module under service.core and prints what it saw.
PROBE = """
import importlib, json, pkgutil, sys

forbidden = set(sys.argv[1].split(","))
attempts = []

class Recorder:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in forbidden:
            attempts.append(name)
        return None

sys.meta_path.insert(0, Recorder())
import service.core
names = [m.name for m in pkgutil.walk_packages(service.core.__path__, "service.core.")]
for name in names:
    importlib.import_module(name)
loaded = sorted(m for m in sys.modules if m.split(".")[0] in forbidden)
print(json.dumps({"modules": names, "attempts": attempts, "loaded": loaded}))
"""


def _probe(forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    completed = subprocess.run(
        [sys.executable, "-c", PROBE, ",".join(forbidden)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result: dict[str, list[str]] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def test_importing_every_core_module_loads_no_forbidden_package() -> None:
    result = _probe(FORBIDDEN)

    assert {"service.core.metrics", "service.core.rewards"} <= set(result["modules"])
    assert result["attempts"] == []
    assert result["loaded"] == []


def test_probe_detects_a_package_the_core_does_import() -> None:
    # Control: the same probe, told that numpy is forbidden, must see the metrics import it.
    result = _probe(("numpy",))

    assert "numpy" in result["attempts"]
    assert "numpy" in result["loaded"]


def _imported_names(source: str) -> list[str]:
    """Every module a source file names in an import statement or a dynamic import call."""
    names: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
        elif isinstance(node, ast.Call):
            function = node.func
            called = getattr(function, "attr", None) or getattr(function, "id", None)
            if called in ("import_module", "__import__") and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    names.append(first.value)
    return names


@pytest.mark.parametrize(
    "path",
    sorted(CORE_DIR.rglob("*.py")),
    ids=lambda path: str(path.relative_to(CORE_DIR)),
)
def test_core_source_names_no_forbidden_package(path: Path) -> None:
    imported = _imported_names(path.read_text(encoding="utf-8"))

    offending = [name for name in imported if name.split(".")[0] in FORBIDDEN]
    assert offending == [], f"{path} imports {offending}"


def test_source_scan_sees_every_import_form() -> None:
    source = (
        "import torch.nn\n"
        "def f():\n"
        "    from vllm import LLM\n"
        "    importlib.import_module('fastapi')\n"
        "    __import__('starlette.routing')\n"
        "from . import sibling\n"
    )

    assert sorted(_imported_names(source)) == ["fastapi", "starlette.routing", "torch.nn", "vllm"]


def test_every_core_module_is_scanned() -> None:
    scanned = set()
    for path in CORE_DIR.rglob("*.py"):
        parts = path.relative_to(CORE_DIR).with_suffix("").parts
        scanned.add(".".join(("service.core", *parts[: -1 if parts[-1] == "__init__" else None])))
    walked = {m.name for m in pkgutil.walk_packages(service.core.__path__, "service.core.")}

    assert {"service.core.metrics", "service.core.rewards"} <= walked <= scanned
