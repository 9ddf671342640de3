"""Print the pinned requirements of named groups from ``pyproject.toml``, one a line.

Usage: ``python requirements.py GROUP [GROUP ...] > requirements.txt`` beside
``pyproject.toml``, where a group is ``core`` (the ``[project]`` dependencies) or an extra
(``serve``, ``cpu``, ...). The images install these lists before copying the sources, so a
source change rebuilds only the last layer; and the heavy extras (torch, vLLM) in a layer of
their own, below the light ones, so a new light dependency does not reinstall torch.
Standard library only (``tomllib``).
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

CORE = "core"


def requirements(pyproject: Path, groups: list[str]) -> list[str]:
    """The requirements of ``groups`` (``core`` or extras), in order, without repeats."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    known = {CORE: project["dependencies"], **project.get("optional-dependencies", {})}
    unknown = [group for group in groups if group not in known] or ([] if groups else ["<none>"])
    if unknown:
        choices = ", ".join(known)
        raise SystemExit(
            f"requirements: unknown group {', '.join(unknown)} (choose from {choices})"
        )
    return list(dict.fromkeys(req for group in groups for req in known[group]))


if __name__ == "__main__":
    print("\n".join(requirements(Path("pyproject.toml"), sys.argv[1:])))
