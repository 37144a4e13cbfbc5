"""requirements.lock pins what pyproject.toml asks for, and the check notices when they drift apart."""

from __future__ import annotations

import copy
import importlib.util
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("check_lock", ROOT / ".ci" / "check_lock.py")
check_lock = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
spec.loader.exec_module(check_lock)  # type: ignore[union-attr]

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
LOCK = (ROOT / "requirements.lock").read_text()


def test_the_lock_pins_every_dependency_with_hashes() -> None:
    assert check_lock.disagreements(PYPROJECT, LOCK) == []
    pins = check_lock.pins(LOCK)
    assert str(pins["sqlalchemy"]).startswith("2.0."), "Prefect 3.8's scheduler needs SQLAlchemy 2.0"
    assert str(pins["torch"]).startswith("2.13.0")
    assert "nvidia-cudnn-cu12" not in pins and "triton" not in pins  # the CPU build of torch


def test_a_dependency_the_lock_does_not_pin_is_reported() -> None:
    changed = copy.deepcopy(PYPROJECT)
    changed["project"]["dependencies"].append("left-pad==1.0")
    assert check_lock.disagreements(changed, LOCK) == ["left-pad: in pyproject.toml, not in requirements.lock"]


def test_a_range_the_pinned_version_falls_outside_is_reported() -> None:
    changed = copy.deepcopy(PYPROJECT)
    deps = changed["project"]["dependencies"]
    deps[:] = [("sqlalchemy>=2.1" if d.startswith("sqlalchemy") else d) for d in deps]
    [problem] = check_lock.disagreements(changed, LOCK)
    assert problem.startswith("sqlalchemy: pyproject.toml wants >=2.1, the lock pins 2.0.")


def test_every_imported_package_is_declared() -> None:
    assert check_lock.undeclared_imports(ROOT, PYPROJECT) == []


def test_an_import_that_only_arrives_through_another_package_is_reported(tmp_path: Path) -> None:
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "step.py").write_text(
        "import json\nimport numpy\nfrom starlette.requests import Request\nfrom tasks import other\n"
        "try:\n    import unstructured_inference\nexcept ImportError:\n    pass\n"
    )
    without = copy.deepcopy(PYPROJECT)
    deps = without["project"]["dependencies"]
    deps[:] = [d for d in deps if not d.startswith("starlette")]
    assert check_lock.undeclared_imports(tmp_path, without) == [
        "starlette: imported by tasks/step.py, not declared in pyproject.toml"
    ]
