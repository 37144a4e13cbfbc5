"""Production-shaped run, small: Prefect on PostgreSQL + Redis, two workers, the Jobs API, a worker killed.

The full 1,000-job version is bench/jobs_soak.py; this one submits a few dozen jobs through the same code.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.jobs_soak import DEPLOYMENTS, FINAL, soak
from bench.prefect_stack import Stack

JOBS = 25  # one of each kind: sweep, failing extraction, document update, daily e-mail, extractions


@pytest.mark.postgres
@pytest.mark.timeout(420)
def test_every_job_ends_none_is_lost_nothing_doubles(tmp_path: Path) -> None:
    silence = {"NIGHTSHIFT_ZOMBIE_AFTER_SECONDS": "35", "NIGHTSHIFT_STUCK_PENDING_AFTER_SECONDS": "35"}
    with Stack(tmp_path, workers=2, extra_env=silence, redis_db=8, deployments=DEPLOYMENTS) as stack:
        report = soak(stack, JOBS, kill_after=0.3, timeout=240)
    print(report)
    assert report["unique jobs"] == JOBS
    assert report["idempotent repeats (same id)"] == report["idempotent repeats"] > 0
    assert "worker killed after final jobs" in report
    assert report["lost (not final or not listed)"] == 0
    assert set(report["statuses"]) <= FINAL
    # A crashed job resubmitted completes, unless it is one of the jobs meant to fail.
    assert set(report.get("resubmitted statuses", {})) <= {"completed", "failed"}
    assert report.get("resubmitted failed (other)", 0) == 0
    # The jobs meant to fail fail, whether first time or after their worker was killed and they were resubmitted.
    on_purpose = report["failed (missing execution, on purpose)"] + report.get("resubmitted failed (on purpose)", 0)
    assert on_purpose >= 1 and report["failed (other)"] == 0
    assert report["duplicates"] == dict.fromkeys(report["duplicates"], 0)
    per_execution = {k: v for k, v in report["todos per execution"].items() if k != "unmarked executions"}
    assert len(per_execution) == 1 and next(iter(per_execution)) > 0, per_execution  # same todos, each once
    assert report["todos per execution"]["unmarked executions"] == 0
    assert report["operator mails"] >= on_purpose
    mails = report["daily e-mails"]
    assert mails["users"] >= 1 and mails["users with exactly one e-mail"] == mails["users"], mails
    assert mails["users with more than one e-mail"] == 0 and mails.get("events sent") == mails["users"], mails
    documents = report["documents"]
    assert documents["documents ready"] >= 1 and documents["chunks in the database"] > 0, documents
    assert documents["chunks that differ"] == 0, documents
