"""Imports point inward, towards ``service.core``: every allowed arrow between the parts.

The parts, innermost first, and what each may import of the repository:

=====================  ===================================================================
part                   may import
=====================  ===================================================================
``service.core``       nothing (pure: no web framework, no torch, no inference engine)
``service.models``     nothing (the default model's builder; reads no settings)
``service.protocol``   core
``service.config``     models (the server's settings)
``service.engine``     core, config, models
serving (``service``)  core, protocol, config, engine, models
``clients``            core, protocol
``training``           core, models, clients (its own settings: never ``service.config``)
``service.cli``        every part but bench and tests (the CLI's composition root)
``bench``              every part but tests and the composition root
``tests``              everything
=====================  ===================================================================

Two independent proofs keep the core pure: a fresh interpreter imports every core module and
watches every import attempt (even one swallowed by ``try/except ImportError``), and a static
scan finds no import naming a forbidden package. The arrows between parts are checked by the same
static scan over every module; controls show the scan catching a wrong import in a synthetic
source.
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
from tests.shared import REPO_ROOT

FORBIDDEN = ("fastapi", "starlette", "torch", "vllm", "transformers")
CORE_DIR = Path(service.core.__file__).parent

# Each part is named by its module prefix; a module belongs to the longest prefix it starts with.
ALLOWED: dict[str, frozenset[str]] = {
    "service.core": frozenset(),
    "service.models": frozenset(),
    "service.protocol": frozenset({"service.core"}),
    "service.config": frozenset({"service.models"}),
    "service.engine": frozenset({"service.core", "service.config", "service.models"}),
    "service": frozenset(
        {"service.core", "service.protocol", "service.config", "service.engine", "service.models"}
    ),
    "clients": frozenset({"service.core", "service.protocol"}),
    "training": frozenset({"service.core", "service.models", "clients"}),
}
_INNER_PARTS = frozenset(ALLOWED)
# The composition root: the `toolgrade` command line alone assembles serving, training and clients.
ALLOWED["service.cli"] = _INNER_PARTS
ALLOWED["service.__main__"] = _INNER_PARTS | {"service.cli"}
ALLOWED["bench"] = _INNER_PARTS
ALLOWED["tests"] = _INNER_PARTS | {"service.cli", "bench"}
TOP_LEVEL_PARTS = sorted({part.split(".")[0] for part in ALLOWED})

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
    # Control: the same probe, told that jsonschema_rs is forbidden, must see the schema
    # module import it.
    result = _probe(("jsonschema_rs",))

    assert "jsonschema_rs" in result["attempts"]
    assert "jsonschema_rs" in result["loaded"]


def _imported_names(source: str, module: str = "") -> list[str]:
    """Every module (or module attribute) a source names in an import or a dynamic import call.

    ``from a.b import c`` gives ``a.b.c`` (``c`` may be a submodule); relative imports are resolved
    against ``module``, the dotted name of the source's own module.
    """
    names: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")[: -node.level]
                base = ".".join([*anchor, base] if base else anchor)
            names.extend(f"{base}.{alias.name}" if base else alias.name for alias in node.names)
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
        "from ..engine import base\n"
    )

    assert sorted(_imported_names(source, "service.core.parsing.hermes")) == [
        "fastapi",
        "service.core.engine.base",
        "service.core.parsing.sibling",
        "starlette.routing",
        "torch.nn",
        "vllm.LLM",
    ]


def test_every_core_module_is_scanned() -> None:
    scanned = set()
    for path in CORE_DIR.rglob("*.py"):
        parts = path.relative_to(CORE_DIR).with_suffix("").parts
        scanned.add(".".join(("service.core", *parts[: -1 if parts[-1] == "__init__" else None])))
    walked = {m.name for m in pkgutil.walk_packages(service.core.__path__, "service.core.")}

    assert {"service.core.metrics", "service.core.rewards"} <= walked <= scanned


def part_of(module: str) -> str | None:
    """The part a dotted module name belongs to: the longest prefix in ``ALLOWED``."""
    matches = [part for part in ALLOWED if module == part or module.startswith(part + ".")]
    return max(matches, key=len, default=None)


def wrong_arrows(module: str, source: str) -> list[str]:
    """The imports in ``source`` (the text of ``module``) that its part may not make."""
    own = part_of(module)
    assert own is not None, f"{module} belongs to no part"
    wrong = []
    for name in _imported_names(source, module):
        target = part_of(name)
        if target is not None and target != own and target not in ALLOWED[own]:
            wrong.append(f"{module} imports {name} ({own} -> {target})")
    return wrong


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _sources(top_level: str) -> list[Path]:
    return sorted((REPO_ROOT / top_level).rglob("*.py"))


@pytest.mark.parametrize("top_level", TOP_LEVEL_PARTS)
def test_every_import_follows_an_allowed_arrow(top_level: str) -> None:
    sources = _sources(top_level)
    wrong = [
        arrow
        for path in sources
        for arrow in wrong_arrows(_module_name(path), path.read_text(encoding="utf-8"))
    ]

    assert sources, f"nothing scanned under {top_level}/"
    assert wrong == []


def test_every_package_of_the_repository_has_a_part() -> None:
    packages = {
        path.parent.name
        for path in REPO_ROOT.glob("*/__init__.py")
        if not path.parent.name.startswith(".")
    }

    assert packages == set(TOP_LEVEL_PARTS)


@pytest.mark.parametrize(
    ("module", "source", "arrow"),
    [
        # A training job reading the server's settings, hidden in a function body.
        (
            "training.job",
            "def run():\n    from service.config import get_settings\n",
            "training -> service.config",
        ),
        # The core reaching out to the serving layer through a relative import.
        (
            "service.core.parsing.text",
            "from ...serving import scoring\n",
            "service.core -> service",
        ),
        # The engine importing a client; a client importing the serving layer.
        ("service.engine.base", "import clients.http\n", "service.engine -> clients"),
        ("clients.trl", "from service import deps\n", "clients -> service"),
        # The model builder reading server settings; bench importing test helpers.
        (
            "service.models.default_model",
            "from service.config import Settings\n",
            "service.models -> service.config",
        ),
        ("bench.generate", "from tests.fixtures import servers\n", "bench -> tests"),
    ],
)
def test_a_wrong_import_is_caught(module: str, source: str, arrow: str) -> None:
    # Controls: each synthetic source makes one import its part may not make.
    wrong = wrong_arrows(module, source)

    assert len(wrong) == 1
    assert wrong[0].endswith(f"({arrow})")


def test_allowed_imports_pass() -> None:
    source = (
        "from service.core.metrics import score_item\n"
        "from service.models.default_model import ensure_default_model\n"
        "from clients.trl import make_reward_function\n"
        "import json, torch\n"
        "from training.config import SFTJobConfig\n"
    )

    assert wrong_arrows("training.sft", source) == []
