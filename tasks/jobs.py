"""Small jobs of the Jobs API run in batches: one flow run for many jobs, each job's outcome in the ledger.

A flow run per small job costs the Prefect server more than the job itself (bench/jobs_burst.py
measured ~0.6 s of server CPU per extract_todos run on the SQLite server: a dozen state changes,
its events, the worker's polling and a process per run). For job types whose deployment carries the
tag BATCH_TAG, the dispatcher (deployments/api/batches.py) hands jobs of one deployment to one run of
`run-job-batch`; here each job is claimed in the ledger by this batch, its flow's function is called
with its validated parameters (its tasks and artifacts become this run's), and its status, JSON
result or error are written back to the ledger. A job that fails fails alone; the batch run ends
Failed when any did, so the failure automation mails the operators once per batch with the job ids.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from prefect import task
from prefect.client.orchestration import get_client
from pydantic_core import to_jsonable_python

from blocks.profile import load_profile
from store import jobs as ledger
from tasks.reports import markdown_cell
from tasks.runtime import current_run_id, run_logger, utcnow

BATCH_TAG = "batch"  # a deployment with this tag: its jobs are run in batches
FLUSH_SECONDS = 0.5  # outcomes of finished jobs reach the ledger at most this late


@dataclass(frozen=True)
class JobOutcome:
    job_id: str
    status: str  # completed, failed, or skipped (cancelled meanwhile, or not this batch's any more)
    error: str | None = None
    result: Any = None  # the flow's return value as JSON (kept in the ledger, left out of reports)


class _Flows:
    """The flow of each job deployment, loaded once per batch process from its entrypoint."""

    _flows: dict[str, Any] = {}
    _lock = threading.Lock()

    @classmethod
    def get(cls, deployment_id: str) -> Any:
        from prefect.flows import load_flow_from_entrypoint

        with cls._lock:
            if deployment_id not in cls._flows:
                with get_client(sync_client=True) as client:
                    entrypoint = client.read_deployment(UUID(deployment_id)).entrypoint
                if not entrypoint:
                    raise LookupError(f"deployment {deployment_id} has no entrypoint")
                cls._flows[deployment_id] = load_flow_from_entrypoint(entrypoint)
            return cls._flows[deployment_id]


def _in_ledger(work: Any, *args: Any) -> Any:
    with load_profile().database.session() as session:
        return work(session, *args)


def call_job_flow(deployment_id: str, params: dict[str, Any]) -> Any:
    """Call the deployment's flow function with `params` validated as a flow run's would be."""
    from prefect.utilities.asyncutils import run_coro_as_sync

    flow = _Flows.get(deployment_id)
    if flow.should_validate_parameters:
        params = flow.validate_parameters(params)
    result = flow.fn(**params)
    return run_coro_as_sync(result) if flow.isasync else result


@task(task_run_name="job-{job_id}")
def run_job(job_id: str, job_type: str, deployment_id: str, params: dict[str, Any]) -> JobOutcome:
    """Run one job of the batch; a failure is the job's alone (its error is its outcome)."""
    try:
        result = to_jsonable_python(call_job_flow(deployment_id, params))
    except Exception as exc:  # noqa: BLE001 - the job fails, the batch goes on
        run_logger().warning("job %s (%s) failed: %r", job_id, job_type, exc)
        return JobOutcome(job_id, "failed", f"{type(exc).__name__}: {exc}")
    return JobOutcome(job_id, "completed", result=result)


def run_jobs(job_ids: list[str]) -> list[JobOutcome]:
    """Claim the batch's jobs, run them on the flow's task runner, and record each outcome in the ledger
    as it comes (a few per transaction, at most FLUSH_SECONDS apart)."""
    from prefect.futures import as_completed

    batch_run_id = current_run_id() or ""
    claimed = _in_ledger(ledger.claim, job_ids, batch_run_id, utcnow())
    taken = {r.id for r in claimed}
    outcomes = [JobOutcome(i, "skipped", "cancelled meanwhile, or no longer this batch's")
                for i in job_ids if i not in taken]
    futures = [run_job.submit(r.id, r.type, r.deployment_id, r.params) for r in claimed]
    pending: list[JobOutcome] = []
    flushed_at = time.monotonic()

    def flush() -> None:
        recorded = set(_in_ledger(ledger.finish, batch_run_id,
                                  [(o.job_id, o.status, o.result, o.error) for o in pending], utcnow()))
        lost = "handed to another batch while it ran"
        outcomes.extend(o if o.job_id in recorded else JobOutcome(o.job_id, "skipped", lost) for o in pending)
        pending.clear()

    for future in as_completed(futures):
        pending.append(future.result())
        if time.monotonic() - flushed_at >= FLUSH_SECONDS:
            flush()
            flushed_at = time.monotonic()
    flush()
    return outcomes


class JobsFailed(RuntimeError):
    """Some jobs of the batch failed; each has its error in the Jobs API, the others completed."""


@task
def publish_batch_report(outcomes: list[JobOutcome]) -> dict[str, int]:
    """A table of the batch's jobs and their statuses; the count per status. Raise (the batch ends
    Failed) when some failed."""
    from prefect.artifacts import create_markdown_artifact

    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    rows = "\n".join(f"| {o.job_id} | {o.status} | {markdown_cell(o.error or '')} |" for o in outcomes)
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    create_markdown_artifact(f"## Job batch: {len(outcomes)} jobs ({summary})\n\n"
                             f"| job | status | error |\n|---|---|---|\n{rows}\n",
                             description=f"{len(outcomes)} jobs: {summary}")
    failed = [o for o in outcomes if o.status == "failed"]
    if failed:
        raise JobsFailed(f"{len(failed)} of {len(outcomes)} jobs failed (the others completed): "
                         + "; ".join(f"job {o.job_id}: {o.error}" for o in failed[:5]))
    return counts
