#!/usr/bin/env python3
"""Print a pip constraints file that pins every dependency to the lowest version pyproject allows.

CI installs the package with it (``PIP_CONSTRAINT=...``) to prove that the lower bounds we
declare really work. Pinned: the runtime dependencies and the optional extras that users
install, plus the test-only libraries our code talks to (fakeredis, psycopg); left free: the
tools that only run the checks (pytest, ruff, Sphinx, Playwright, supervisor).

Usage: scripts/lowest_versions.py [pyproject.toml] > lowest.txt
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

TOOLS = {"pytest", "pytest-django", "ruff", "playwright", "sphinx", "supervisor", "import-linter"}
REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9_.-]+)\s*(?:\[[^\]]*\])?\s*(.*)$")


def lowest_pins(pyproject: Path) -> list[str]:
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    requirements = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        requirements.extend(extra)
    pins: dict[str, str] = {}
    for requirement in requirements:
        match = REQUIREMENT.match(requirement.split(";")[0])
        if match is None:
            raise SystemExit(f"cannot read the requirement {requirement!r}")
        name, spec = match.group(1), match.group(2)
        if name.lower() in TOOLS:
            continue
        lower = [part.strip()[2:].strip() for part in spec.split(",") if ">=" in part]
        if not lower:
            raise SystemExit(f"{requirement!r} has no lower bound (>=): declare the oldest tested")
        # Named twice (an extra and the dev list): the higher floor is the one that holds.
        known = pins.get(name.lower())
        if known is None or version_key(lower[0]) > version_key(known.split("==")[1]):
            pins[name.lower()] = f"{name}=={lower[0]}"
    return sorted(pins.values(), key=str.lower)


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version))


if __name__ == "__main__":
    default = Path(__file__).resolve().parent.parent / "pyproject.toml"
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else default
    print("\n".join(lowest_pins(path)))
