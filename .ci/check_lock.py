"""Fail when pyproject.toml and requirements.lock disagree.

Every dependency of pyproject.toml (and of its test extra) must be pinned in the lock at a version
its specifier admits, and the lock must pin nothing that no longer comes from pyproject.toml's
resolution (checked by `pip check` at install and by the header naming the command that wrote it).
Every package the code imports must be declared there too, not merely arrive through another one: a
change in that other package could otherwise remove it silently.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
# Where nightshift's own code lives: the code layers, the deployments, the benches, the tests, CI.
SOURCES = ("flows", "tasks", "blocks", "store", "deployments", "bench", "tests", ".ci")


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


def _declared(pyproject: dict) -> set[str]:
    project = pyproject["project"]
    wanted = list(project["dependencies"]) + list(project["optional-dependencies"].get("test", []))
    return {canonicalize_name(Requirement(line).name) for line in wanted}


def _optional(tree: ast.AST) -> set[int]:
    """Line numbers of imports inside `try: … except ImportError`: features that work without them."""
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(
            isinstance(h.type, ast.Name) and h.type.id in ("ImportError", "ModuleNotFoundError") for h in node.handlers
        ):
            lines |= {n.lineno for stmt in node.body for n in ast.walk(stmt) if isinstance(n, ast.Import | ast.ImportFrom)}
    return lines


def undeclared_imports(root: Path, pyproject: dict) -> list[str]:
    """Third-party modules imported by our code whose distribution pyproject.toml does not declare."""
    files = [f for folder in SOURCES for f in sorted((root / folder).rglob("*.py"))]
    ours = {p.name for p in root.iterdir()} | {f.stem for f in files} | {f.parent.name for f in files}
    owners = packages_distributions()
    declared = _declared(pyproject)
    missing: dict[str, str] = {}
    for path in files:
        tree = ast.parse(path.read_text(), str(path))
        optional = _optional(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top in sys.stdlib_module_names or top in ours or node.lineno in optional:
                    continue
                if not {canonicalize_name(d) for d in owners.get(top, [])} & declared:
                    missing.setdefault(top, str(path.relative_to(root)))
    return [f"{module}: imported by {path}, not declared in pyproject.toml" for module, path in sorted(missing.items())]


def main() -> int:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    problems = disagreements(pyproject, (ROOT / "requirements.lock").read_text())
    problems += undeclared_imports(ROOT, pyproject)
    for problem in problems:
        print(f"lock: {problem}", file=sys.stderr)
    if problems:
        print("pyproject.toml and requirements.lock disagree: run `make lock` and commit the lock.", file=sys.stderr)
        return 1
    print("lock: requirements.lock pins every dependency of pyproject.toml, which declares every package imported")
    return 0


if __name__ == "__main__":
    sys.exit(main())
