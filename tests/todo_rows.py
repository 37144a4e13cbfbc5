"""Rows for the sweep tests: users in given zones, their todos and scheduling history."""

from __future__ import annotations

import datetime as dt
import itertools

from sqlalchemy import select

from store.db import session_scope
from store.models import Event, Task, TaskExecution, Todo, TodoScheduling, User

_counter = itertools.count(1)
LONG_AGO = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def make_user(url: str, timezone: str | None, language_code: str = "en", opt_in: bool = True,
              name: str | None = None) -> int:
    n = next(_counter)
    with session_scope(url) as session:
        user = User(name=name or f"Ada {n}", email=f"ada{n}-{id(session)}@example.com", timezone=timezone,
                    language_code=language_code, todo_email_opt_in=opt_in)
        session.add(user)
        session.flush()
        return user.id


def make_execution(url: str, user_id: int, title: str = "Seed round pitch deck") -> int:
    n = next(_counter)
    with session_scope(url) as session:
        task_row = Task(name=f"Pitch deck review {n}-{id(session)}", definition="Review a deck.")
        session.add(task_row)
        session.flush()
        execution = TaskExecution(user_id=user_id, task_id=task_row.id, title=title, created_at=LONG_AGO,
                                  ended_at=LONG_AGO)
        session.add(execution)
        session.flush()
        return execution.id


def make_todo(url: str, execution_id: int, description: str,
              schedule: list[tuple[dt.date, dt.datetime, str | None]] | dt.date,
              completed: bool = False, deleted: bool = False) -> int:
    """A todo with its scheduling rows: (date, created_at, justification) oldest first, or one date."""
    if isinstance(schedule, dt.date):
        schedule = [(schedule, LONG_AGO, None)]
    with session_scope(url) as session:
        execution = session.get(TaskExecution, execution_id)
        todo = Todo(task_execution_id=execution_id, user_id=execution.user_id, description=description,
                    dedup_key=f"{description}-{next(_counter)}", created_at=LONG_AGO,
                    completed_at=LONG_AGO if completed else None, deleted_by_user_at=LONG_AGO if deleted else None)
        session.add(todo)
        session.flush()
        for day, created_at, justification in schedule:
            session.add(TodoScheduling(todo_id=todo.id, scheduled_for=day, created_at=created_at,
                                       justification=justification, source_run_id="test"))
        return todo.id


def schedule_of(url: str, todo_id: int) -> list[tuple[dt.date, str | None, str | None]]:
    """(date, justification, source_run_id) of each scheduling row, oldest first."""
    with session_scope(url) as session:
        rows = session.execute(
            select(TodoScheduling.scheduled_for, TodoScheduling.justification, TodoScheduling.source_run_id)
            .where(TodoScheduling.todo_id == todo_id).order_by(TodoScheduling.created_at, TodoScheduling.id)
        ).all()
    return [tuple(row) for row in rows]


def events(url: str) -> dict[str, dict]:
    with session_scope(url) as session:
        return dict(session.execute(select(Event.dedup_key, Event.payload)).tuples().all())
