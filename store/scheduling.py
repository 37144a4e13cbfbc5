"""Todo dates (spec 2 and 3): each todo's append-only scheduling rows, the overdue and the due todos.

Every list is paged by keyset (store.paging). Sessions come from the caller.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Date, Text, and_, func, literal, or_, select
from sqlalchemy.orm import Session, aliased

from store.db import rowcount, table_of
from store.models import Task, TaskExecution, Todo, TodoScheduling, UTCDateTime
from store.paging import keyset_pages


def is_open() -> Any:
    return and_(Todo.completed_at.is_(None), Todo.deleted_by_user_at.is_(None), Todo.deleted_by_system_at.is_(None))


def newest_scheduling_id(todo_id: Any = None) -> Any:
    """Scalar subquery: the id of the newest todo_scheduling row of the todo (the current date)."""
    query = (
        select(TodoScheduling.id)
        .where(TodoScheduling.todo_id == (Todo.id if todo_id is None else todo_id))
        .order_by(TodoScheduling.created_at.desc(), TodoScheduling.id.desc())
        .limit(1)
    )
    # Correlate to the todo of the outer query, or to nothing (inside INSERT INTO todo_scheduling).
    return (query.correlate(Todo) if todo_id is None else query.correlate(None)).scalar_subquery()


@dataclass(frozen=True)
class OverdueTodo:
    todo_id: int
    user_id: int
    scheduled_for: dt.date
    scheduling_id: int


def overdue_todos_page(
    session: Session, user_ids: Sequence[int], before: dt.date, after_todo_id: int, limit: int
) -> list[OverdueTodo]:
    """Open todos of these users whose current date is before `before`, by todo id above `after_todo_id`."""
    rows = session.execute(
        select(Todo.id, Todo.user_id, TodoScheduling.scheduled_for, TodoScheduling.id)
        .join(TodoScheduling, TodoScheduling.id == newest_scheduling_id())
        .where(is_open(), Todo.user_id.in_(list(user_ids)), TodoScheduling.scheduled_for < before,
               Todo.id > after_todo_id)
        .order_by(Todo.id)
        .limit(limit)
    ).all()
    return [OverdueTodo(*row) for row in rows]


def overdue_todos(session: Session, user_ids: Sequence[int], before: dt.date, page_size: int = 500) -> list[OverdueTodo]:
    """Every overdue open todo of these users, keyset-paged by todo id."""
    found: dict[int, OverdueTodo] = {}

    def fetch(after: int) -> list[int]:
        page = overdue_todos_page(session, user_ids, before, after, page_size)
        found.update((row.todo_id, row) for row in page)
        return [row.todo_id for row in page]

    ids = [todo_id for page in keyset_pages(fetch, page_size) for todo_id in page]
    return [found[todo_id] for todo_id in ids]


@dataclass(frozen=True)
class TodoDetails:
    todo_id: int
    description: str
    execution_title: str
    task_name: str
    task_definition: str | None
    times_scheduled: int


def todo_details(session: Session, todo_id: int) -> TodoDetails:
    row = session.execute(
        select(Todo.id, Todo.description, TaskExecution.title, Task.name, Task.definition)
        .join(TaskExecution, TaskExecution.id == Todo.task_execution_id)
        .join(Task, Task.id == TaskExecution.task_id)
        .where(Todo.id == todo_id)
    ).one()
    times = session.scalar(select(func.count()).select_from(TodoScheduling).where(TodoScheduling.todo_id == todo_id))
    todo, description, execution_title, task_name, task_definition = row
    return TodoDetails(todo, description, execution_title, task_name, task_definition, int(times or 0))


def upcoming_open_todos(session: Session, user_id: int, from_date: dt.date, limit: int = 20) -> list[tuple[str, dt.date]]:
    """Up to `limit` open todos of the user scheduled on or after `from_date`, soonest first."""
    rows = session.execute(
        select(Todo.description, TodoScheduling.scheduled_for)
        .join(TodoScheduling, TodoScheduling.id == newest_scheduling_id())
        .where(is_open(), Todo.user_id == user_id, TodoScheduling.scheduled_for >= from_date)
        .order_by(TodoScheduling.scheduled_for, Todo.id)
        .limit(limit)
    ).all()
    return [(description, day) for description, day in rows]


def open_todo_counts(session: Session, user_id: int, days: Sequence[dt.date]) -> dict[dt.date, int]:
    """How many open todos of the user are currently scheduled on each of `days`."""
    rows = session.execute(
        select(TodoScheduling.scheduled_for, func.count())
        .select_from(Todo)
        .join(TodoScheduling, TodoScheduling.id == newest_scheduling_id())
        .where(is_open(), Todo.user_id == user_id, TodoScheduling.scheduled_for.in_(list(days)))
        .group_by(TodoScheduling.scheduled_for)
    ).tuples().all()
    return dict(rows)


def append_scheduling(
    session: Session,
    todo_id: int,
    expected_scheduling_id: int,
    scheduled_for: dt.date,
    justification: str | None,
    source_run_id: str | None,
    now: dt.datetime,
) -> bool:
    """Append a scheduling row unless another one was appended since `expected_scheduling_id` was read.

    The INSERT … SELECT … WHERE newest = expected is one statement (atomic on SQLite); on PostgreSQL the
    todo row is locked first, so of two racing sweeps only one appends.
    """
    session.execute(select(Todo.id).where(Todo.id == todo_id).with_for_update())
    guarded = select(
        literal(todo_id),
        literal(scheduled_for, Date()),
        literal(now, UTCDateTime()),
        literal(justification, Text()),
        literal(source_run_id, Text()),
    ).where(newest_scheduling_id(literal(todo_id)) == expected_scheduling_id)
    result = session.execute(
        table_of(TodoScheduling).insert().from_select(
            ["todo_id", "scheduled_for", "created_at", "justification", "source_run_id"], guarded
        )
    )
    return rowcount(result) == 1


@dataclass(frozen=True)
class EmailTodoRow:
    user_id: int
    todo_id: int
    description: str
    execution_title: str
    scheduled_for: dt.date
    moved_at: dt.datetime
    previous_date: dt.date | None
    justification: str | None


def email_todos(
    session: Session, user_ids: Sequence[int], day: dt.date, moved_since: dt.datetime
) -> list[EmailTodoRow]:
    """Open todos of these users scheduled for `day` or moved since `moved_since`, with their previous date.

    A todo "moved" when its current scheduling row is not its first one.
    """
    current = aliased(TodoScheduling)
    previous = aliased(TodoScheduling)
    previous_date = (
        select(previous.scheduled_for)
        .where(previous.todo_id == Todo.id, previous.id != current.id)
        .order_by(previous.created_at.desc(), previous.id.desc())
        .limit(1)
        .correlate(Todo, current)
        .scalar_subquery()
    )
    rows = session.execute(
        select(Todo.user_id, Todo.id, Todo.description, TaskExecution.title, current.scheduled_for,
               current.created_at, previous_date, current.justification)
        .select_from(Todo)
        .join(current, current.id == newest_scheduling_id())
        .join(TaskExecution, TaskExecution.id == Todo.task_execution_id)
        .where(is_open(), Todo.user_id.in_(list(user_ids)),
               or_(current.scheduled_for == day, current.created_at >= moved_since))
        .order_by(Todo.user_id, current.scheduled_for, Todo.id)
    ).all()
    return [EmailTodoRow(*row) for row in rows]
