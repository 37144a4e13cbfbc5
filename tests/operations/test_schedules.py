"""Schedules fire for real: a Prefect server started as `make demo` starts it creates the runs of an
interval schedule, the worker picks them up, they complete on time, and no log holds a traceback.
When the schedule stops (paused here), the watchdog mails the operators once."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import time
from pathlib import Path

import httpx
import pytest
from local_stack import LocalStack

# The watchdog alerts after two intervals without a completed run: 10 s leaves a busy 2-core machine 20 s to
# start the worker and finish the first run before that is a true stall.
INTERVAL = 10


def _prefect_yaml(folder: Path) -> Path:
    path = folder / "prefect.yaml"
    path.write_text(f"""\
name: schedule-check
prefect-version: 3.8.8
deployments:
  - name: tick
    entrypoint: tests/operations/schedule_flows.py:tick
    work_pool: {{name: cpu, work_queue_name: default}}
    schedules:
      - interval: {INTERVAL}
""")
    return path


def _runs(api: str) -> list[dict]:
    response = httpx.post(f"{api}/flow_runs/filter", timeout=30, json={
        "flows": {"name": {"any_": ["tick"]}}, "sort": "EXPECTED_START_TIME_ASC", "limit": 200})
    response.raise_for_status()
    return response.json()


def _seconds(a: str, b: str) -> float:
    return (dt.datetime.fromisoformat(a) - dt.datetime.fromisoformat(b)).total_seconds()


def _operator_mails(home: Path) -> list[email.message.EmailMessage]:
    return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
            for p in sorted((home / "outbox").glob("*.eml"))]


def _pause_schedule(api: str) -> None:
    [deployment] = httpx.post(f"{api}/deployments/filter", json={}, timeout=30).json()
    [schedule] = deployment["schedules"]
    httpx.patch(f"{api}/deployments/{deployment['id']}/schedules/{schedule['id']}", json={"active": False},
                timeout=30).raise_for_status()


def _without_the_pause_race(errors: list[str], deleted: set[str]) -> list[str]:
    """The errors, less the one Prefect's worker logs when pausing deleted a run it had just fetched.

    Pausing a schedule deletes its runs still Scheduled; a worker that fetched one of them an instant
    before fails to move it to Pending (404) and logs that traceback, chained to ObjectNotFound. Only
    an error naming a run the pause deleted is dropped; any other is kept."""
    kept: list[str] = []
    dropped = False
    for error in errors:
        if "404" in error and any(f"/flow_runs/{run_id}/set_state" in error for run_id in deleted):
            dropped = True
        elif dropped and error.startswith("prefect.exceptions.ObjectNotFound"):
            dropped = False
        else:
            dropped = False
            kept.append(error)
    return kept


@pytest.mark.timeout(500)
def test_an_interval_schedule_fires_and_its_runs_complete_on_time(tmp_path: Path) -> None:
    stack = LocalStack(tmp_path / "home", prefect_yaml=_prefect_yaml(tmp_path),
                       extra_env={"NIGHTSHIFT_WATCHDOG_SECONDS": "2"})
    try:
        stack.local("start")
        # Runs due while the worker was still starting are late by the start-up; count those after it.
        up = dt.datetime.now(dt.UTC).isoformat()
        deadline = time.monotonic() + 180
        completed: list[dict] = []
        while time.monotonic() < deadline and len(completed) < 4:
            time.sleep(2)
            runs = [r for r in _runs(stack.api_url) if r["expected_start_time"] >= up]
            completed = [r for r in runs if r["state_type"] == "COMPLETED"]
        assert len(completed) >= 4, f"scheduled runs: {[(r['name'], r['state_type']) for r in runs]}"
        assert all(r["auto_scheduled"] for r in completed), "runs made by the scheduler, not by hand"
        lateness = [_seconds(r["start_time"], r["expected_start_time"]) for r in completed]
        assert max(lateness) <= 30, f"late starts (s): {lateness}"
        spacing = {round(_seconds(b["expected_start_time"], a["expected_start_time"]))
                   for a, b in zip(runs, runs[1:], strict=False)}
        assert spacing == {INTERVAL}, f"scheduled starts {INTERVAL} s apart: {spacing}"
        due = [r for r in runs if r["expected_start_time"] <= completed[-1]["expected_start_time"]]
        assert [r["state_type"] for r in due] == ["COMPLETED"] * len(due), "a run due earlier never completed"
        assert _operator_mails(stack.home) == [], "no alert while the schedule runs"

        # The schedule stops: after twice its interval without a completed run, one mail, and only one.
        scheduled = {r["id"] for r in _runs(stack.api_url) if r["state_type"] == "SCHEDULED"}
        _pause_schedule(stack.api_url)
        paused_at = time.monotonic()
        # Runs already late when the pause came still run (on a busy machine, a few): the stall starts after them.
        while time.monotonic() - paused_at < 150 and not _operator_mails(stack.home):
            time.sleep(1)
        [alert] = _operator_mails(stack.home)
        assert alert["Subject"] == "[nightshift] Schedule stalled: tick/tick"
        body = alert.get_content()
        assert "completed no run since" in body and "Its schedule is paused." in body
        time.sleep(4 * INTERVAL)  # more watchdog passes, still the same stall
        assert len(_operator_mails(stack.home)) == 1
        deleted = scheduled - {r["id"] for r in _runs(stack.api_url)}
        assert deleted, "pausing the schedule deleted its scheduled runs"
    finally:
        stack.stop()
    found = {name: _without_the_pause_race(errors, deleted) for name, errors in stack.tracebacks().items()}
    assert {name: errors for name, errors in found.items() if errors} == {}
    assert sum(stack.count("database is locked").values()) == 0
