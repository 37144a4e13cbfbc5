"""Queries of the todo sweeps (spec 2 and 3): users in a local-time window, overdue and today's todos,
todos rescheduled since yesterday, the append-only scheduling row, and the event rows that claim an email.

Every list is paged by keyset (id > last id seen), and a page that does not advance stops with an error
instead of looping. Sessions come from the caller.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Date, Text, and_, cast, func, literal, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from store.models import Event, TaskExecution, Todo, TodoScheduling, User, UTCDateTime

UTC = ZoneInfo("UTC")
MAX_PAGES = 1_000_000


class PagingError(RuntimeError):
    """A keyset page did not move past the last id: stop rather than loop forever."""


@dataclass(frozen=True)
class LocalWindow:
    """Local wall-clock hours [start_hour, start_hour + hours), on weekdays only unless told otherwise."""

    start_hour: int
    hours: int = 1
    weekdays_only: bool = True

    def __post_init__(self) -> None:
        if not (0 <= self.start_hour <= 23 and 1 <= self.hours <= 24 - self.start_hour):
            raise ValueError(f"a local window must fit in one day: start {self.start_hour}, {self.hours} hours")

    def contains(self, local: dt.datetime) -> bool:
        if self.weekdays_only and local.weekday() >= 5:
            return False
        return self.start_hour <= local.hour < self.start_hour + self.hours


def zone_or_utc(name: str | None) -> ZoneInfo:
    """The IANA zone `name`; UTC for a missing or unknown one (callers log it per user)."""
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def zones_in_window(zone_names: Iterable[str | None], now: dt.datetime, window: LocalWindow) -> list[str | None]:
    """The zone names (None = no zone, treated as UTC) whose local time at `now` is inside the window."""
    return [name for name in zone_names if window.contains(now.astimezone(zone_or_utc(name)))]


def keyset_pages(fetch: Callable[[int], Sequence[int]], page_size: int) -> Iterator[list[int]]:
    """Pages of ids from `fetch(after_id)` (ascending ids > after_id, at most page_size) until exhausted."""
    after = 0
    for _ in range(MAX_PAGES):
        page = list(fetch(after))
        if not page:
            return
        if page[0] <= after or page != sorted(page):
            raise PagingError(f"keyset page after id {after} does not advance ({page[:3]}…): fix the query order")
        yield page
        if len(page) < page_size:
            return
        after = page[-1]
    raise PagingError(f"more than {MAX_PAGES} pages: stopping")


# --- users -------------------------------------------------------------------------------------------


def distinct_timezones(session: Session) -> list[str | None]:
    return list(session.scalars(select(User.timezone).distinct()))


def user_ids_page(
    session: Session,
    after_id: int,
    limit: int,
    zones: Sequence[str | None] | None,
    opted_in_only: bool = False,
    user_ids: Sequence[int] | None = None,
) -> list[int]:
    """Up to `limit` user ids above `after_id`: in `zones` (None in it = no zone; zones None = any zone)."""
    query = select(User.id).where(User.id > after_id).order_by(User.id).limit(limit)
    if zones is not None:
        named = [z for z in zones if z is not None]
        query = query.where(or_(User.timezone.in_(named), User.timezone.is_(None) if None in zones else False))
    if opted_in_only:
        query = query.where(User.todo_email_opt_in.is_(True))
    if user_ids is not None:
        query = query.where(User.id.in_(list(user_ids)))
    return list(session.scalars(query))


def users_in_local_window(
    session: Session,
    now: dt.datetime,
    window: LocalWindow | None,
    page_size: int = 1000,
    opted_in_only: bool = False,
    user_ids: Sequence[int] | None = None,
) -> list[int]:
    """Ids of users whose local time at `now` is in the window (window None: every user), keyset-paged.

    Users with no or an unknown zone count as UTC.
    """
    zones: list[str | None] | None = None
    if window is not None:
        zones = zones_in_window(distinct_timezones(session), now, window)
        if not zones:
            return []
    ids: list[int] = []
    for page in keyset_pages(
        lambda after: user_ids_page(session, after, page_size, zones, opted_in_only, user_ids), page_size
    ):
        ids.extend(page)
    return ids


@dataclass(frozen=True)
class UserRow:
    id: int
    name: str
    email: str
    language_code: str
    timezone: str | None


def users_by_id(session: Session, user_ids: Sequence[int]) -> list[UserRow]:
    rows = session.execute(
        select(User.id, User.name, User.email, User.language_code, User.timezone)
        .where(User.id.in_(list(user_ids)))
        .order_by(User.id)
    ).all()
    return [UserRow(*row) for row in rows]


# --- todos -------------------------------------------------------------------------------------------


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
    from store.models import Task

    row = session.execute(
        select(Todo.id, Todo.description, TaskExecution.title, Task.name, Task.definition)
        .join(TaskExecution, TaskExecution.id == Todo.task_execution_id)
        .join(Task, Task.id == TaskExecution.task_id)
        .where(Todo.id == todo_id)
    ).one()
    times = session.scalar(select(func.count()).select_from(TodoScheduling).where(TodoScheduling.todo_id == todo_id))
    return TodoDetails(*row, times_scheduled=int(times or 0))


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
    ).all()
    return {day: count for day, count in rows}


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
        TodoScheduling.__table__.insert().from_select(
            ["todo_id", "scheduled_for", "created_at", "justification", "source_run_id"], guarded
        )
    )
    return result.rowcount == 1


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


# --- events: the claim of one email ------------------------------------------------------------------


@dataclass(frozen=True)
class EventRow:
    id: int
    raw_payload: str
    payload: dict[str, Any]


def _insert(session: Session):  # type: ignore[no-untyped-def]
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def insert_event(
    session: Session, user_id: int | None, kind: str, dedup_key: str, payload: dict[str, Any], now: dt.datetime
) -> bool:
    """Insert the event unless one with this dedup key exists; True when this call inserted it."""
    inserted = session.execute(
        _insert(session)(Event)
        .values(user_id=user_id, kind=kind, dedup_key=dedup_key, payload=payload, created_at=now)
        .on_conflict_do_nothing(index_elements=["dedup_key"])
        .returning(Event.id)
    ).first()
    return inserted is not None


def insert_events(session: Session, rows: Sequence[dict[str, Any]]) -> set[str]:
    """Insert many events in one statement, skipping existing dedup keys; return the keys inserted."""
    if not rows:
        return set()
    inserted = session.execute(
        _insert(session)(Event).values(list(rows)).on_conflict_do_nothing(index_elements=["dedup_key"])
        .returning(Event.dedup_key)
    )
    return set(inserted.scalars())


def read_event(session: Session, dedup_key: str) -> EventRow | None:
    row = session.execute(
        select(Event.id, cast(Event.payload, Text), Event.payload).where(Event.dedup_key == dedup_key)
    ).first()
    return EventRow(*row) if row else None


def read_events(session: Session, dedup_keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    rows = session.execute(select(Event.dedup_key, Event.payload).where(Event.dedup_key.in_(list(dedup_keys))))
    return {key: payload for key, payload in rows}


def replace_event_payload(session: Session, event: EventRow, payload: dict[str, Any]) -> bool:
    """Compare-and-set: replace the payload only if it is still the one read (its stored text)."""
    result = session.execute(
        Event.__table__.update()
        .where(Event.id == event.id, cast(Event.payload, Text) == event.raw_payload)
        .values(payload=payload)
    )
    return result.rowcount == 1


def set_event_payload(session: Session, dedup_key: str, payload: dict[str, Any]) -> None:
    session.execute(Event.__table__.update().where(Event.dedup_key == dedup_key).values(payload=payload))
