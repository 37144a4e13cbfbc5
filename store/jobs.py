"""Queries of the Jobs API's ledger (sessions from the caller): accept, dispatch, read, list, cancel."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from store.db import insert_for, rowcount
from store.models import JobRecord

IN_CHUNK = 500
FINAL = ("completed", "failed", "cancelled", "crashed")
# What the ledger keeps of a job's flow run (the Jobs API answers from it).
RUN_FIELDS = ("status", "state_name", "run_name", "scheduled_at", "started_at", "finished_at", "error")


def accept(session: Session, job: dict[str, Any]) -> tuple[JobRecord, bool]:
    """Insert a job; with an idempotency key already used for its type, return that job instead.

    Returns (job, created). Two racing requests with one key insert one row: the unique constraint
    decides, and the loser reads the winner's row.
    """
    statement = insert_for(session)(JobRecord).values(**job)
    if job.get("idempotency_key") is not None:
        statement = statement.on_conflict_do_nothing(index_elements=["type", "idempotency_key"])
    created = rowcount(session.execute(statement)) == 1
    if created:
        row = session.get(JobRecord, job["id"])
    else:
        row = session.scalar(select(JobRecord).where(JobRecord.type == job["type"],
                                                     JobRecord.idempotency_key == job["idempotency_key"]))
    if row is None:  # inserted and gone, or refused and absent: only a concurrent delete does that
        raise LookupError(f"job {job['id']} ({job['type']}) was neither stored nor found: accept it again")
    return row, created


def accept_many(session: Session, jobs: list[dict[str, Any]]) -> list[tuple[JobRecord, bool]]:
    """`accept` for each job, in one transaction (the Jobs API's group commit)."""
    return [accept(session, job) for job in jobs]


def due(session: Session, now: dt.datetime, limit: int) -> list[JobRecord]:
    """Jobs waiting to be handed over (not in a batch, not given up on), oldest first."""
    return list(session.scalars(
        select(JobRecord)
        .where(JobRecord.flow_run_id.is_(None), JobRecord.batch_run_id.is_(None),
               JobRecord.dispatch_error.is_(None), JobRecord.cancel_requested.is_(False),
               JobRecord.next_attempt_at <= now)
        .order_by(JobRecord.next_attempt_at, JobRecord.created_at)
        .limit(limit)
    ))


def next_due_at(session: Session) -> dt.datetime | None:
    return session.scalar(
        select(JobRecord.next_attempt_at)
        .where(JobRecord.flow_run_id.is_(None), JobRecord.batch_run_id.is_(None),
               JobRecord.dispatch_error.is_(None), JobRecord.cancel_requested.is_(False))
        .order_by(JobRecord.next_attempt_at).limit(1)
    )


def run_key(job_id: str) -> str:
    """Prefect's idempotency key of the job's flow run: whoever creates it, a job has one run."""
    return f"nightshift-job:{job_id}"


def dispatched(session: Session, job_id: str, flow_run_id: str, state: dict[str, Any] | None = None,
               at: dt.datetime | None = None) -> bool:
    """Record the job's flow run (and its state, RUN_FIELDS); return whether a cancel was asked meanwhile."""
    values = {name: (state or {}).get(name) for name in RUN_FIELDS} | {"synced_at": at} if state else {}
    session.execute(update(JobRecord).where(JobRecord.id == job_id).values(flow_run_id=flow_run_id, **values))
    return bool(session.scalar(select(JobRecord.cancel_requested).where(JobRecord.id == job_id)))


def postpone(session: Session, job_id: str, attempts: int, at: dt.datetime) -> None:
    session.execute(update(JobRecord).where(JobRecord.id == job_id)
                    .values(dispatch_attempts=attempts, next_attempt_at=at))


def give_up(session: Session, job_id: str, error: str) -> None:
    """A job whose flow run cannot be created (its deployment is gone, say): failed, with the reason."""
    session.execute(update(JobRecord).where(JobRecord.id == job_id, JobRecord.flow_run_id.is_(None))
                    .values(dispatch_error=error, final_status="failed"))


def cancel_waiting(session: Session, job_id: str) -> bool:
    """Cancel a job that has no flow run yet; False when it has one by now (cancel that instead).

    The flag is set either way: a dispatcher that creates the run at this very moment reads it back
    right after recording the run, and cancels the run itself.
    """
    done = rowcount(session.execute(
        update(JobRecord)
        .where(JobRecord.id == job_id, JobRecord.flow_run_id.is_(None), JobRecord.dispatch_error.is_(None),
               JobRecord.status.is_(None))  # a batched job that has started runs to its end
        .values(cancel_requested=True, final_status="cancelled")
    ))
    if not done:
        session.execute(update(JobRecord).where(JobRecord.id == job_id).values(cancel_requested=True))
    return bool(done)


def get(session: Session, job_id: str) -> JobRecord | None:
    return session.get(JobRecord, job_id)


def get_many(session: Session, job_ids: list[str]) -> dict[str, JobRecord]:
    """Jobs by id (those that exist), IN_CHUNK per query."""
    found: dict[str, JobRecord] = {}
    for start in range(0, len(job_ids), IN_CHUNK):
        chunk = job_ids[start : start + IN_CHUNK]
        found.update({r.id: r for r in session.scalars(select(JobRecord).where(JobRecord.id.in_(chunk)))})
    return found


def record_runs(session: Session, runs: dict[str, dict[str, Any]], at: dt.datetime) -> int:
    """Keep the state of the jobs' flow runs as read at `at` ({job id: RUN_FIELDS}); return the rows changed.

    A final status is written once and kept; rows whose state did not change only get `synced_at`. The rows
    are locked first, skipping those another transaction holds (that writer records them): two recorders of
    overlapping jobs never wait on each other, so they cannot deadlock (PostgreSQL; SQLite writes one at a time).
    """
    if not runs:
        return 0
    current = {r.id: r for r in session.scalars(select(JobRecord).where(JobRecord.id.in_(list(runs)))
                                                .with_for_update(skip_locked=True))}
    changed = 0
    for job_id, fields in runs.items():
        record = current.get(job_id)
        if record is None or record.final_status is not None:
            continue
        values = {name: fields.get(name) for name in RUN_FIELDS}
        if any(getattr(record, name) != value for name, value in values.items()):
            if values["status"] in FINAL:
                values["final_status"] = values["status"]
            session.execute(update(JobRecord).where(JobRecord.id == job_id, JobRecord.final_status.is_(None))
                            .values(**values, synced_at=at))
            changed += 1
    unchanged = list(current)
    for start in range(0, len(unchanged), IN_CHUNK):
        session.execute(update(JobRecord).where(JobRecord.id.in_(unchanged[start : start + IN_CHUNK]))
                        .values(synced_at=at))
    return changed


def running(session: Session) -> list[JobRecord]:
    """Jobs with a flow run whose end is not recorded yet: the dispatcher keeps their state current."""
    return list(session.scalars(select(JobRecord).where(JobRecord.final_status.is_(None),
                                                        JobRecord.flow_run_id.is_not(None))))


def batched(session: Session, job_ids: list[str], batch_run_id: str) -> None:
    """Hand these jobs to one run of the batch flow (they are no longer due)."""
    session.execute(update(JobRecord).where(JobRecord.id.in_(job_ids), JobRecord.batch_run_id.is_(None),
                                            JobRecord.flow_run_id.is_(None))
                    .values(batch_run_id=batch_run_id))


def claim(session: Session, job_ids: list[str], batch_run_id: str, at: dt.datetime) -> list[JobRecord]:
    """The batch `batch_run_id` starts these jobs; returns those it took (not cancelled meanwhile, not
    ended, not handed to another batch after this one was given up on)."""
    session.execute(
        update(JobRecord)
        .where(JobRecord.id.in_(job_ids), JobRecord.batch_run_id == batch_run_id,
               JobRecord.cancel_requested.is_(False), JobRecord.final_status.is_(None))
        .values(status="running", started_at=at, synced_at=at)
    )
    return list(session.scalars(select(JobRecord).where(
        JobRecord.id.in_(job_ids), JobRecord.batch_run_id == batch_run_id, JobRecord.status == "running",
        JobRecord.final_status.is_(None))))


def finish(session: Session, batch_run_id: str, outcomes: list[tuple[str, str, Any, str | None]],
           at: dt.datetime) -> list[str]:
    """Record how batched jobs ended ((job id, status, JSON result, error)); returns the ids recorded
    (a job the batch no longer had is left as it is)."""
    done = []
    for job_id, status, result, error in outcomes:
        if rowcount(session.execute(
            update(JobRecord)
            .where(JobRecord.id == job_id, JobRecord.batch_run_id == batch_run_id,
                   JobRecord.final_status.is_(None))
            .values(status=status, final_status=status, result=result, error=error, finished_at=at,
                    synced_at=at)
        )):
            done.append(job_id)
    return done


def in_batches(session: Session) -> list[JobRecord]:
    """Batched jobs that have not ended: their batch run is watched, and they are handed back if it ends."""
    return list(session.scalars(select(JobRecord).where(JobRecord.batch_run_id.is_not(None),
                                                        JobRecord.final_status.is_(None))))


def unbatch(session: Session, records: list[JobRecord], give_up_after: int, at: dt.datetime) -> int:
    """Jobs whose batch ended before they did: due again, or failed after `give_up_after` batches.

    Jobs are idempotent (running one twice leaves the same state as once), so one that was running
    when its batch died runs again from the start. Returns how many were given up on.
    """
    failed = 0
    for record in records:
        attempts = record.dispatch_attempts + 1
        values: dict[str, Any] = {"batch_run_id": None, "status": None, "started_at": None, "synced_at": None,
                                  "dispatch_attempts": attempts, "next_attempt_at": at}
        if attempts >= give_up_after:
            values = {"dispatch_error": f"its batch run {record.batch_run_id} ended before it did, "
                                        f"{attempts} times", "final_status": "failed", "status": "failed",
                      "dispatch_attempts": attempts}
            failed += 1
        session.execute(update(JobRecord).where(JobRecord.id == record.id,
                                                JobRecord.batch_run_id == record.batch_run_id,
                                                JobRecord.final_status.is_(None)).values(**values))
    return failed


def active(session: Session, types: Iterable[str] | None) -> list[JobRecord]:
    """Jobs whose final status is not known here yet (waiting, running, or not looked at since)."""
    query = select(JobRecord).where(JobRecord.final_status.is_(None))
    if types is not None:
        query = query.where(JobRecord.type.in_(list(types)))
    return list(session.scalars(query.order_by(JobRecord.created_at.desc(), JobRecord.id.desc())))


def page(session: Session, types: Iterable[str] | None, final_status: str | None, limit: int,
         offset: int) -> list[JobRecord]:
    """Newest first; only jobs known to have ended in `final_status` when given."""
    query = select(JobRecord)
    if types is not None:
        query = query.where(JobRecord.type.in_(list(types)))
    if final_status is not None:
        query = query.where(JobRecord.final_status == final_status)
    return list(session.scalars(query.order_by(JobRecord.created_at.desc(), JobRecord.id.desc())
                                .limit(limit).offset(offset)))
