"""Small jobs of the Jobs API run in batches: one flow run for many jobs, each job's outcome in the ledger.

A flow run per small job costs the Prefect server more than the job itself (bench/jobs_burst.py
measured ~0.6 s of server CPU per extract_todos run on the SQLite server: a dozen state changes,
its events, the worker's polling and a process per run). For job types whose deployment carries the
tag BATCH_TAG, the dispatcher (deployments/api/batches.py) hands jobs of one deployment to one run of
`run-job-batch`; here each job is claimed in the ledger by this batch, its flow's function is called
with its validated parameters (its tasks and artifacts become this run's), and its status, JSON
result or error are written back to the ledger. A job that fails fails alone; the batch run ends
Failed when any did, so the failure automation mails the operators once per batch with the job ids.

A flow may also have a bulk form (`bulk_form`): then the batch hands all its jobs of that flow to one
call, which does their work in a task or two (as a sweep does) instead of each job's tasks and report,
so fifty jobs cost a few task runs, not a hundred and fifty.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
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


BulkForm = Callable[[list[dict[str, Any]]], list[Any]]  # params of many jobs -> each one's result or error
_BULK_FORMS: dict[str, BulkForm] = {}


def bulk_form(flow_name: str) -> Callable[[BulkForm], BulkForm]:
    """Register how a batch runs many jobs of the flow `flow_name` at once.

    The function gets the jobs' validated parameters and returns, in the same order, what each job's
    flow would have returned, or the exception its flow would have raised.
    """

    def register(function: BulkForm) -> BulkForm:
        _BULK_FORMS[flow_name] = function
        return function

    return register


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
    """Claim the batch's jobs, run them (those of a flow with a bulk form together, the others each on
    the flow's task runner), and record each outcome in the ledger as it comes (a few per transaction,
    at most FLUSH_SECONDS apart)."""
    from prefect.futures import as_completed

    batch_run_id = current_run_id() or ""
    claimed = _in_ledger(ledger.claim, job_ids, batch_run_id, utcnow())
    taken = {r.id for r in claimed}
    outcomes = [JobOutcome(i, "skipped", "cancelled meanwhile, or no longer this batch's")
                for i in job_ids if i not in taken]
    bulk: dict[str, list[Any]] = {}
    for record in claimed:
        if _bulk_form_of(record.deployment_id) is not None:
            bulk.setdefault(record.deployment_id, []).append(record)
    futures = [run_job.submit(r.id, r.type, r.deployment_id, r.params)
               for r in claimed if r.deployment_id not in bulk]
    pending: list[JobOutcome] = []
    flushed_at = time.monotonic()

    def flush() -> None:
        recorded = set(_in_ledger(ledger.finish, batch_run_id,
                                  [(o.job_id, o.status, o.result, o.error) for o in pending], utcnow()))
        lost = "handed to another batch while it ran"
        outcomes.extend(o if o.job_id in recorded else JobOutcome(o.job_id, "skipped", lost) for o in pending)
        pending.clear()

    for deployment_id, records in bulk.items():
        pending.extend(run_in_bulk(deployment_id, records))
        flush()
    for future in as_completed(futures):
        pending.append(future.result())
        if time.monotonic() - flushed_at >= FLUSH_SECONDS:
            flush()
            flushed_at = time.monotonic()
    flush()
    return outcomes


def _bulk_form_of(deployment_id: str) -> BulkForm | None:
    try:
        return _BULK_FORMS.get(_Flows.get(deployment_id).name)
    except Exception:  # noqa: BLE001 - the deployment is gone or its flow fails to load: each job fails alone
        return None


def run_in_bulk(deployment_id: str, records: list[Any]) -> list[JobOutcome]:
    """The jobs of one deployment through its flow's bulk form: each job's outcome, in order."""
    flow, form = _Flows.get(deployment_id), _bulk_form_of(deployment_id)
    if form is None:
        raise LookupError(f"the flow of deployment {deployment_id} has no bulk form")
    outcomes: dict[str, JobOutcome] = {}
    valid: list[tuple[Any, dict[str, Any]]] = []
    for record in records:
        try:
            valid.append((record, flow.validate_parameters(record.params) if flow.should_validate_parameters
                          else record.params))
        except Exception as exc:  # noqa: BLE001 - this job fails, as its own flow run would
            outcomes[record.id] = _failed(record, exc)
    try:
        results = form([params for _, params in valid])
    except Exception as exc:  # noqa: BLE001 - each job fails with the error, as its flow run would
        results = [exc] * len(valid)
    for (record, _), result in zip(valid, results, strict=True):
        outcomes[record.id] = (_failed(record, result) if isinstance(result, Exception)
                               else JobOutcome(record.id, "completed", result=to_jsonable_python(result)))
    return [outcomes[r.id] for r in records]


def _failed(record: Any, error: Exception) -> JobOutcome:
    run_logger().warning("job %s (%s) failed: %r", record.id, record.type, error)
    return JobOutcome(record.id, "failed", f"{type(error).__name__}: {error}")


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
