"""Small jobs handed over in batches, on the embedded default as `make demo` starts it (real Prefect server
on SQLite, a real worker, the Jobs API and its dispatcher): each job runs once, keeps its own status and
result, fails alone, and a batch that ends before its jobs hands them back."""

from __future__ import annotations

import datetime as dt
import os
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from factories import make_execution
from local_stack import LocalStack
from sqlalchemy import func, select

from deployments.api import batches
from store.db import session_scope
from store.models import JobRecord, Todo

FINAL = {"completed", "failed", "cancelled", "crashed"}
MISSING_EXECUTION = 999_999  # no such task execution: its extraction fails


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    local = LocalStack(tmp_path_factory.mktemp("batches") / "home")
    try:
        local.local("start")
        yield local
    finally:
        local.stop()


@pytest.fixture(scope="module")
def jobs_api(stack: LocalStack) -> Iterator[httpx.Client]:
    token = stack.local("token").stdout.strip()
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=stack.jobs_api, headers=headers, timeout=60) as client:
        yield client


def _app_url(stack: LocalStack) -> str:
    return f"sqlite:///{stack.home / 'nightshift.db'}"


def _fresh_execution(stack: LocalStack) -> int:
    """An execution whose produced text is new: the stack's own sweep (every 10 minutes, quiet executions only)
    leaves it to the jobs under test instead of extracting it first."""
    return make_execution(_app_url(stack), produced_at=dt.datetime.now(dt.UTC))


def _post(client: httpx.Client, execution_id: int) -> str:
    body = {"type": "extract_todos", "params": {"task_execution_id": execution_id}}
    response = client.post("/jobs", json=body)
    assert response.status_code == 202, response.text
    return response.json()["id"]


def _post_all(client: httpx.Client, executions: list[int]) -> list[str]:
    """POST the jobs at once, as a burst of callers would."""
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda e: _post(client, e), executions))


def _wait_final(client: httpx.Client, ids: list[str], timeout: float = 300) -> dict[str, dict]:
    deadline, jobs = time.monotonic() + timeout, {}
    while time.monotonic() < deadline:
        jobs = {i: client.get(f"/jobs/{i}").json() for i in ids}
        if all(j["status"] in FINAL for j in jobs.values()):
            return jobs
        time.sleep(1)
    raise AssertionError(f"not final after {timeout} s: {[j['status'] for j in jobs.values()]}")


def _todo_counts(stack: LocalStack, executions: list[int]) -> dict[int, int]:
    with session_scope(_app_url(stack)) as session:
        rows = session.execute(select(Todo.task_execution_id, func.count()).where(
            Todo.task_execution_id.in_(executions)).group_by(Todo.task_execution_id)).all()
    return dict(rows)


@pytest.mark.timeout(900)
def test_a_burst_runs_in_few_batches_each_job_once_and_a_failure_fails_alone(stack: LocalStack,
                                                                           jobs_api: httpx.Client) -> None:
    executions = [_fresh_execution(stack) for _ in range(12)]
    *ids, bad = _post_all(jobs_api, [*executions, MISSING_EXECUTION])
    jobs = _wait_final(jobs_api, [*ids, bad])

    assert [jobs[i]["status"] for i in ids] == ["completed"] * len(ids)
    assert jobs[bad]["status"] == "failed" and jobs[bad]["error"], jobs[bad]
    batch_runs = {j["flow_run_id"] for j in jobs.values()}
    assert None not in batch_runs and len(batch_runs) <= 3, batch_runs  # 13 jobs, not 13 flow runs
    # extract-todos has a bulk form: a batch extracts its jobs' executions in one task, not 3 task runs a job.
    task_runs = httpx.post(f"{stack.api_url}/task_runs/filter", timeout=30, json={
        "flow_runs": {"id": {"any_": sorted(batch_runs)}}}).json()
    assert len(task_runs) <= 4 * len(batch_runs), sorted(t["name"] for t in task_runs)
    assert any(t["name"].startswith("extract-todos-") and "-more" in t["name"] for t in task_runs)
    # Each job's own result, from the ledger; 409 for the failed one.
    results = [jobs_api.get(f"/jobs/{i}/results").json() for i in ids]
    assert [r["task_execution_id"] for r in results] == executions
    assert all(r["status"] == "extracted" and r["saved"] for r in results), results[0]
    assert jobs_api.get(f"/jobs/{bad}/results").status_code == 409
    # Nothing doubled: each execution has exactly the todos its job reports saved.
    assert _todo_counts(stack, executions) == {r["task_execution_id"]: len(r["saved"]) for r in results}
    # The batch with the failed job ended Failed, so the operators get one mail for it.
    deadline = time.monotonic() + 120
    while not (mails := list((stack.home / "outbox").glob("*.eml"))) and time.monotonic() < deadline:
        time.sleep(2)
    assert any("run-job-batch" in m.read_text(errors="replace") for m in mails), [m.name for m in mails]


@pytest.mark.timeout(900)
def test_jobs_of_a_batch_that_ended_before_they_ran_are_handed_back_and_run_once(
        stack: LocalStack, jobs_api: httpx.Client) -> None:
    worker_pid = int((stack.run_folder / "worker-cpu.pid").read_text())
    os.kill(worker_pid, signal.SIGTERM)  # no worker: the batch run waits, scheduled
    deadline = time.monotonic() + 30
    while _alive(worker_pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    executions = [_fresh_execution(stack) for _ in range(4)]
    ids = _post_all(jobs_api, executions)
    first = _batches_of(jobs_api, ids)
    # An operator cancels the waiting batch run: its jobs are handed back and go into a new batch.
    for run_id in first:
        cancelled = {"state": {"type": "CANCELLED", "name": "Cancelled"}, "force": True}
        url = f"{stack.api_url}/flow_runs/{run_id}/set_state"
        httpx.post(url, json=cancelled, timeout=30).raise_for_status()
    second = _batches_of(jobs_api, ids, other_than=first)
    stack.local("start")  # the worker again
    jobs = _wait_final(jobs_api, ids)
    assert [jobs[i]["status"] for i in ids] == ["completed"] * len(ids)
    assert {j["flow_run_id"] for j in jobs.values()} == second
    results = [jobs_api.get(f"/jobs/{i}/results").json() for i in ids]
    assert _todo_counts(stack, executions) == {r["task_execution_id"]: len(r["saved"]) for r in results}
    with session_scope(_app_url(stack)) as session:
        attempts = session.scalars(select(JobRecord.dispatch_attempts).where(JobRecord.id.in_(ids))).all()
    assert attempts == [1] * len(ids)  # handed back once, by the dispatcher


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _batches_of(client: httpx.Client, ids: list[str], other_than: frozenset[str] = frozenset(),
                timeout: float = 90) -> frozenset[str]:
    """The batch runs these jobs were handed to, once each has one (none of `other_than`)."""
    deadline, runs = time.monotonic() + timeout, set()
    while time.monotonic() < deadline:
        runs = {client.get(f"/jobs/{i}").json()["flow_run_id"] for i in ids}
        if None not in runs and not runs & other_than:
            return frozenset(runs)
        time.sleep(0.5)
    raise AssertionError(f"jobs not handed over in {timeout} s: {runs}")


def test_small_groups_wait_for_more_jobs_but_not_for_long() -> None:
    now = dt.datetime(2026, 12, 1, 12, tzinfo=dt.UTC)
    wait = dt.timedelta(seconds=batches.BATCH_WAIT_SECONDS)

    def job(i: int, deployment: str, accepted: dt.datetime) -> JobRecord:
        return JobRecord(id=f"job-{i}", type="t", deployment_id=deployment, params={},
                         next_attempt_at=accepted)

    routes = {"small": "batch-flow"}
    arriving = [job(i, "small", now - wait / 2) for i in range(3)]
    alone = job(9, "heavy", now)
    singles, ready, held_until = batches.plan([*arriving, alone], routes, now)
    assert singles == [alone] and ready == [] and held_until == now + wait / 2  # jobs still coming: wait
    singles, ready, _ = batches.plan(arriving, routes, now + wait)
    assert ready == [("batch-flow", arriving)]  # none came for BATCH_WAIT_SECONDS: go
    steady = [job(i, "small", now - 4 * wait + i * (wait / 2)) for i in range(8)]
    assert batches.plan(steady, routes, now)[1] == [("batch-flow", steady)]  # never past 4 waits
    full = [job(i, "small", now) for i in range(batches.BATCH_SIZE + 1)]
    _, ready, held_until = batches.plan(full, routes, now)
    assert ready == [("batch-flow", full[: batches.BATCH_SIZE])] and held_until is not None
    assert batches.batch_key([j.id for j in full]) == batches.batch_key([j.id for j in reversed(full)])
    ids = [j.id for j in full]
    assert batches.batch_key(ids, 1) != batches.batch_key(ids)  # jobs handed back get a new batch run
