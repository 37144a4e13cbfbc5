"""Fail when pyproject.toml and requirements.lock disagree.

Every dependency of pyproject.toml (and of its test extra) must be pinned in the lock at a version
its specifier admits, and the lock must pin nothing that no longer comes from pyproject.toml's
resolution (checked by `pip check` at install and by the header naming the command that wrote it).
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent


def pins(lock_text: str) -> dict[str, Version]:
    """Name → pinned version of every `name==version` line of a pip-compile lock."""
    found = {}
    for match in re.finditer(r"^([A-Za-z0-9_.\-]+)==([^\s\\;]+)", lock_text, re.MULTILINE):
        found[canonicalize_name(match.group(1))] = Version(match.group(2))
    return found


def disagreements(pyproject: dict, lock_text: str) -> list[str]:
    """What pyproject.toml asks for that the lock does not give, one line each."""
    project = pyproject["project"]
    wanted = list(project["dependencies"]) + list(project["optional-dependencies"].get("test", []))
    pinned = pins(lock_text)
    problems = []
    for line in wanted:
        req = Requirement(line)
        name = canonicalize_name(req.name)
        if name not in pinned:
            problems.append(f"{req.name}: in pyproject.toml, not in requirements.lock")
        elif not req.specifier.contains(pinned[name], prereleases=True):
            problems.append(f"{req.name}: pyproject.toml wants {req.specifier}, the lock pins {pinned[name]}")
    unhashed = re.findall(r"^([A-Za-z0-9_.\-]+)==[^\s\\]+\s*$", lock_text, re.MULTILINE)
    problems += [f"{name}: pinned without a hash" for name in unhashed]
    return problems


def main() -> int:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    problems = disagreements(pyproject, (ROOT / "requirements.lock").read_text())
    for problem in problems:
        print(f"lock: {problem}", file=sys.stderr)
    if problems:
        print("pyproject.toml and requirements.lock disagree: run `make lock` and commit the lock.", file=sys.stderr)
        return 1
    print("lock: requirements.lock pins every dependency of pyproject.toml")
    return 0


if __name__ == "__main__":
    sys.exit(main())
