"""The extraction evaluation, run as a user runs it: the offline extractor meets its goals on the main set
in every language it has rules for, and the table names each language."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_offline_extractor_meets_its_goals_on_the_main_set(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "bench/extraction_eval.py", "--set", "main"], cwd=ROOT,
                          capture_output=True, text=True, timeout=240,
                          env={**os.environ, "NIGHTSHIFT_HOME": str(tmp_path)}, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = [line.split() for line in done.stdout.splitlines() if line.startswith("offline ") and "goals" not in line]
    assert [row[1] for row in rows] == ["de", "en", "es", "fr", "it", "all"]
    assert all(row[-1] == "met" for row in rows[:-1])
    assert "met in every language with rules" in done.stdout
