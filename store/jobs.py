"""Queries of the Jobs API's ledger (sessions from the caller): accept, dispatch, read, list, cancel."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from store.db import insert_for
from store.models import JobRecord

IN_CHUNK = 500


def accept(session: Session, job: dict[str, Any]) -> tuple[JobRecord, bool]:
    """Insert a job; with an idempotency key already used for its type, return that job instead.

    Returns (job, created). Two racing requests with one key insert one row: the unique constraint
    decides, and the loser reads the winner's row.
    """
    statement = insert_for(session)(JobRecord).values(**job)
    if job.get("idempotency_key") is not None:
        statement = statement.on_conflict_do_nothing(index_elements=["type", "idempotency_key"])
    created = session.execute(statement).rowcount == 1
    if created:
        row = session.get(JobRecord, job["id"])
    else:
        row = session.scalar(select(JobRecord).where(JobRecord.type == job["type"],
                                                     JobRecord.idempotency_key == job["idempotency_key"]))
    assert row is not None
    return row, created


def due(session: Session, now: dt.datetime, limit: int) -> list[JobRecord]:
    """Jobs waiting for their flow run (and not given up on), oldest first."""
    return list(session.scalars(
        select(JobRecord)
        .where(JobRecord.flow_run_id.is_(None), JobRecord.dispatch_error.is_(None),
               JobRecord.cancel_requested.is_(False), JobRecord.next_attempt_at <= now)
        .order_by(JobRecord.next_attempt_at, JobRecord.created_at)
        .limit(limit)
    ))


def next_due_at(session: Session) -> dt.datetime | None:
    return session.scalar(
        select(JobRecord.next_attempt_at)
        .where(JobRecord.flow_run_id.is_(None), JobRecord.dispatch_error.is_(None),
               JobRecord.cancel_requested.is_(False))
        .order_by(JobRecord.next_attempt_at).limit(1)
    )


def dispatched(session: Session, job_id: str, flow_run_id: str) -> bool:
    """Record the job's flow run; returns whether a cancel was asked for meanwhile."""
    session.execute(update(JobRecord).where(JobRecord.id == job_id).values(flow_run_id=flow_run_id))
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
    done = session.execute(
        update(JobRecord)
        .where(JobRecord.id == job_id, JobRecord.flow_run_id.is_(None), JobRecord.dispatch_error.is_(None))
        .values(cancel_requested=True, final_status="cancelled")
    ).rowcount
    if not done:
        session.execute(update(JobRecord).where(JobRecord.id == job_id).values(cancel_requested=True))
    return bool(done)


def get(session: Session, job_id: str) -> JobRecord | None:
    return session.get(JobRecord, job_id)


def keep_final(session: Session, statuses: dict[str, str]) -> None:
    """Remember final statuses seen in Prefect, so lists filter on them here."""
    for job_id, status in statuses.items():
        session.execute(update(JobRecord).where(JobRecord.id == job_id, JobRecord.final_status.is_(None))
                        .values(final_status=status))


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
