"""Todo extraction's bookkeeping (spec 1): which executions are due, the claim on one, its chain of
predecessors, and the todos it extracted, written idempotently. Sessions come from the caller."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import Session

from store.db import insert_for, rowcount, table_of
from store.models import ProducedTextVersion, TaskExecution, Todo, TodoScheduling


def latest_versions() -> Select[Any]:
    """Subquery: the latest produced text version of each execution (by created_at, then id)."""
    ranked = select(
        ProducedTextVersion.id,
        ProducedTextVersion.task_execution_id,
        ProducedTextVersion.created_at,
        func.row_number()
        .over(
            partition_by=ProducedTextVersion.task_execution_id,
            order_by=(ProducedTextVersion.created_at.desc(), ProducedTextVersion.id.desc()),
        )
        .label("rank"),
    ).subquery()
    return select(ranked.c.id, ranked.c.task_execution_id, ranked.c.created_at).where(ranked.c.rank == 1)


def latest_version_id(session: Session, task_execution_id: int) -> int | None:
    return session.scalar(
        select(ProducedTextVersion.id)
        .where(ProducedTextVersion.task_execution_id == task_execution_id)
        .order_by(ProducedTextVersion.created_at.desc(), ProducedTextVersion.id.desc())
        .limit(1)
    )


def executions_due_for_extraction(
    session: Session, now: dt.datetime, quiet_period: dt.timedelta, limit: int
) -> list[int]:
    """Executions whose latest produced text is older than the quiet period and not yet extracted."""
    latest = latest_versions().subquery()
    query = (
        select(TaskExecution.id)
        .join(latest, latest.c.task_execution_id == TaskExecution.id)
        .where(
            latest.c.created_at <= now - quiet_period,
            or_(
                TaskExecution.todos_extracted_from_version.is_(None),
                TaskExecution.todos_extracted_from_version != latest.c.id,
            ),
        )
        .order_by(latest.c.created_at, TaskExecution.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def execution_chain(session: Session, task_execution_id: int, max_depth: int = 20) -> list[int]:
    """This execution and its predecessors (previous_execution_id), newest first, cycle-safe."""
    chain: list[int] = []
    current: int | None = task_execution_id
    while current is not None and current not in chain and len(chain) < max_depth:
        chain.append(current)
        current = session.scalar(
            select(TaskExecution.previous_execution_id).where(TaskExecution.id == current)
        )
    return chain


def claim_extraction(
    session: Session, task_execution_id: int, version_id: int | None, now: dt.datetime
) -> bool:
    """Mark the execution extracted from `version_id`; False when that was already done.

    The conditional UPDATE is the claim: of two runs racing on one execution, only one matches.
    """
    not_yet: ColumnElement[bool]
    if version_id is None:
        not_yet = TaskExecution.todos_extracted_at.is_(None)
    else:
        not_yet = or_(
            TaskExecution.todos_extracted_from_version.is_(None),
            TaskExecution.todos_extracted_from_version != version_id,
        )
    result = session.execute(
        table_of(TaskExecution).update()
        .where(TaskExecution.id == task_execution_id, not_yet)
        .values(todos_extracted_from_version=version_id, todos_extracted_at=now)
    )
    return rowcount(result) == 1


def insert_todos(
    session: Session, rows: Sequence[dict[str, Any]], scheduled_for: Sequence[dt.date], source_run_id: str | None
) -> dict[str, int]:
    """Insert todos and their first scheduling row; a todo already saved (same dedup key) is skipped.

    Returns {dedup_key: todo id} of the todos actually inserted.
    """
    if not rows:
        return {}
    dates = {row["dedup_key"]: day for row, day in zip(rows, scheduled_for, strict=True)}
    inserted = session.execute(
        insert_for(session)(Todo)
        .values(list(rows))
        .on_conflict_do_nothing(index_elements=["task_execution_id", "dedup_key"])
        .returning(Todo.id, Todo.dedup_key)
    ).all()
    if inserted:
        session.execute(
            table_of(TodoScheduling).insert(),
            [
                {
                    "todo_id": todo_id,
                    "scheduled_for": dates[key],
                    "created_at": rows[0]["created_at"],
                    "justification": None,
                    "source_run_id": source_run_id,
                }
                for todo_id, key in inserted
            ],
        )
    return {key: todo_id for todo_id, key in inserted}
