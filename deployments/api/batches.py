"""Small jobs handed to Prefect in batches: one run of `run-job-batch` per group of jobs of one deployment.

A deployment tagged BATCH_TAG in prefect.yaml (a job type whose runs are short) has its waiting jobs
grouped, at most BATCH_SIZE per group, a group waiting while jobs keep coming (BATCH_WAIT_SECONDS); each
group becomes one flow run of the batch flow (flows/jobs.py), which runs every job in its process and
writes each job's status and result to the ledger (tasks/jobs.py). Deployments with a concurrency
limit are never batched (a batch would run their jobs past it), nor those on another pool than the
batch flow's.

A job is claimed by its batch before it starts, and only that batch may record its end. A batch run
that ends (or disappears) before some of its jobs did hands those back: they are due again and go
into a new batch (jobs are idempotent, so one cut short runs again from the start), up to
GIVE_UP_AFTER times, after which the job fails with the reason.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import time
from collections import defaultdict
from uuid import UUID

from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterTags
from prefect.exceptions import ObjectNotFound

from deployments.api.runs import in_database, read_runs
from store import jobs as ledger
from store.models import JobRecord, utcnow
from tasks.jobs import BATCH_TAG

BATCH_DEPLOYMENT = "run-job-batch/run-job-batch"
BATCH_SIZE = int(os.environ.get("NIGHTSHIFT_JOBS_BATCH_SIZE") or 50)
BATCH_WAIT_SECONDS = float(os.environ.get("NIGHTSHIFT_JOBS_BATCH_WAIT_SECONDS") or 0.5)
ROUTES_TTL_SECONDS = 10.0
FINAL_TYPES = {"COMPLETED", "FAILED", "CANCELLED", "CRASHED"}
GIVE_UP_AFTER = 3  # batch runs that ended before a job did: then the job fails, with the reason

logger = logging.getLogger("nightshift.jobs_dispatcher")


class BatchRoutes:
    """Which deployments' jobs go in batches ({deployment id: batch deployment id}), read every 10 s."""

    def __init__(self, client: PrefectClient) -> None:
        self.client = client
        self._routes: dict[str, str] = {}
        self._read_at = -ROUTES_TTL_SECONDS

    async def get(self) -> dict[str, str]:
        if time.monotonic() - self._read_at < ROUTES_TTL_SECONDS:
            return self._routes
        executor = None
        if BATCH_SIZE >= 2:  # else batches are turned off (NIGHTSHIFT_JOBS_BATCH_SIZE=1)
            try:
                executor = await self.client.read_deployment_by_name(BATCH_DEPLOYMENT)
            except ObjectNotFound:
                executor = None
        if executor is None:  # not deployed, or turned off: every job gets a flow run of its own
            self._routes = {}
        else:
            tagged = await self.client.read_deployments(
                deployment_filter=DeploymentFilter(tags=DeploymentFilterTags(all_=[BATCH_TAG])))
            self._routes = {str(d.id): str(executor.id) for d in tagged
                            if d.work_pool_name == executor.work_pool_name and d.id != executor.id
                            and d.concurrency_limit is None and d.global_concurrency_limit is None}
        self._read_at = time.monotonic()
        return self._routes


def plan(records: list[JobRecord], routes: dict[str, str], now: dt.datetime
         ) -> tuple[list[JobRecord], list[tuple[str, list[JobRecord]]], dt.datetime | None]:
    """Split due jobs into (jobs dispatched alone, [(batch deployment id, jobs)], when held jobs are due).

    A group smaller than BATCH_SIZE is held while jobs keep coming: until none came for
    BATCH_WAIT_SECONDS, and never past 4 × BATCH_WAIT_SECONDS after its oldest job.
    """
    singles: list[JobRecord] = []
    groups: dict[str, list[JobRecord]] = defaultdict(list)
    for record in records:
        if record.deployment_id in routes:
            groups[record.deployment_id].append(record)
        else:
            singles.append(record)
    batches, held_until = [], None
    wait = dt.timedelta(seconds=BATCH_WAIT_SECONDS)
    for deployment_id, group in groups.items():
        for start in range(0, len(group), BATCH_SIZE):
            chunk = group[start : start + BATCH_SIZE]
            times = [r.next_attempt_at for r in chunk]
            ready_at = min(max(times) + wait, min(times) + 4 * wait)
            if len(chunk) < BATCH_SIZE and ready_at > now:
                held_until = ready_at if held_until is None else min(held_until, ready_at)
                continue
            batches.append((routes[deployment_id], chunk))
    return singles, batches, held_until


def batch_key(job_ids: list[str], handed_back: int = 0) -> str:
    """The batch run's idempotency key: the same jobs handed over twice make one batch run, and jobs
    handed back (`handed_back` times) make a new one, not the run that ended."""
    digest = hashlib.sha256(",".join(sorted(job_ids)).encode()).hexdigest()[:40]
    return f"nightshift-batch:{digest}:{handed_back}"


async def hand_over(client: PrefectClient, executor_id: str, records: list[JobRecord]) -> str:
    """Create the batch run for these jobs and record it on them; return its id."""
    ids = [r.id for r in records]
    key = batch_key(ids, max(r.dispatch_attempts for r in records))
    run = await client.create_flow_run_from_deployment(UUID(executor_id), parameters={"job_ids": ids},
                                                       idempotency_key=key)
    await in_database(ledger.batched, ids, str(run.id))
    return str(run.id)


async def recover(client: PrefectClient) -> int:
    """Hand back the jobs of batch runs that ended (or vanished) before those jobs did; return how many."""
    records = await in_database(ledger.in_batches)
    if not records:
        return 0
    batches = await read_runs(client, sorted({r.batch_run_id for r in records if r.batch_run_id}))

    def ended(run_id: str | None) -> bool:
        run = batches.get(run_id or "")
        return run is None or (run.state_type is not None and run.state_type.value in FINAL_TYPES)

    back = [r for r in records if ended(r.batch_run_id)]
    if back:
        failed = await in_database(ledger.unbatch, back, GIVE_UP_AFTER, utcnow())
        logger.warning("dispatcher: %s jobs of ended batch runs due again, %s given up on (after %s batches)",
                       len(back) - failed, failed, GIVE_UP_AFTER)
    return len(back)
