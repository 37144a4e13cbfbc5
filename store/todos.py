"""Reads of todos for extraction: what is already known for an execution and its predecessors."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from store import extraction
from store.models import Todo, TodoScheduling


def known_descriptions(session: Session, task_execution_id: int) -> list[str]:
    """Descriptions of the live todos of this execution and its predecessors, oldest first."""
    chain = extraction.execution_chain(session, task_execution_id)
    return list(
        session.scalars(
            select(Todo.description)
            .where(Todo.task_execution_id.in_(chain), Todo.deleted_by_user_at.is_(None))
            .order_by(Todo.id)
        )
    )


def scheduled_todos(session: Session, task_execution_id: int) -> list[tuple[int, str, dt.date]]:
    """(id, description, scheduled_for) of an execution's todos, soonest first."""
    rows = session.execute(
        select(Todo.id, Todo.description, TodoScheduling.scheduled_for)
        .join(TodoScheduling, TodoScheduling.todo_id == Todo.id)
        .where(Todo.task_execution_id == task_execution_id)
        .order_by(TodoScheduling.scheduled_for, Todo.id)
    ).tuples().all()
    return list(rows)
