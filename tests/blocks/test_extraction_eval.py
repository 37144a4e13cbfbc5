"""The extraction evaluation, run as a user runs it: the offline extractor meets its goals on the main set
in every language it has rules for, and the table names each language; on the held-out set (written apart
from the rules) it does no worse than the figures the README publishes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The held-out set's figures as the README publishes them, rounded down: a rule that wins on the main set
# by losing on text it was not written for fails here instead of passing unseen.
HOLDOUT_FLOOR = {"precision": 0.55, "recall": 0.46, "duplicates": 3, "dates": 0.91}


def _run(tmp_path: Path, which: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "bench/extraction_eval.py", "--set", which], cwd=ROOT,
                          capture_output=True, text=True, timeout=240,
                          env={**os.environ, "NIGHTSHIFT_HOME": str(tmp_path)}, check=False)


def _offline_rows(stdout: str) -> list[list[str]]:
    return [line.split() for line in stdout.splitlines() if line.startswith("offline ") and "goals" not in line]


def test_the_offline_extractor_meets_its_goals_on_the_main_set(tmp_path: Path) -> None:
    done = _run(tmp_path, "main")
    assert done.returncode == 0, done.stdout + done.stderr
    rows = _offline_rows(done.stdout)
    assert [row[1] for row in rows] == ["de", "en", "es", "fr", "it", "all"]
    assert all(row[-1] == "met" for row in rows[:-1])
    assert "met in every language with rules" in done.stdout


def test_the_held_out_figures_do_not_fall_below_the_published_ones(tmp_path: Path) -> None:
    done = _run(tmp_path, "holdout")
    assert "Traceback" not in done.stderr, done.stderr
    # Its goals are not met there (the README says so): exit code 1 is the expected verdict, not an error.
    assert done.returncode == 1, done.stdout + done.stderr
    rows = _offline_rows(done.stdout)
    assert [row[1] for row in rows] == ["de", "en", "es", "fr", "it", "all"]
    *_, precision, recall, duplicates, dates = rows[-1]
    figures = {"precision": float(precision), "recall": float(recall), "duplicates": int(duplicates),
               "dates": float(dates)}
    assert figures["precision"] >= HOLDOUT_FLOOR["precision"], figures
    assert figures["recall"] >= HOLDOUT_FLOOR["recall"], figures
    assert figures["duplicates"] <= HOLDOUT_FLOOR["duplicates"], figures
    assert figures["dates"] >= HOLDOUT_FLOOR["dates"], figures
