"""Events: rows that claim a piece of work once by their dedup key (a daily email, an operator mail).

Sessions come from the caller.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Text, cast, select
from sqlalchemy.orm import Session

from store.db import insert_for, rowcount, table_of
from store.models import Event


@dataclass(frozen=True)
class EventRow:
    id: int
    raw_payload: str
    payload: dict[str, Any]


def insert_event(
    session: Session, user_id: int | None, kind: str, dedup_key: str, payload: dict[str, Any], now: dt.datetime
) -> bool:
    """Insert the event unless one with this dedup key exists; True when this call inserted it."""
    inserted = session.execute(
        insert_for(session)(Event)
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
        insert_for(session)(Event).values(list(rows)).on_conflict_do_nothing(index_elements=["dedup_key"])
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
    return dict(rows.tuples().all())


def replace_event_payload(session: Session, event: EventRow, payload: dict[str, Any]) -> bool:
    """Compare-and-set: replace the payload only if it is still the one read (its stored text)."""
    result = session.execute(
        table_of(Event).update()
        .where(Event.id == event.id, cast(Event.payload, Text) == event.raw_payload)
        .values(payload=payload)
    )
    return rowcount(result) == 1


def set_event_payload(session: Session, dedup_key: str, payload: dict[str, Any]) -> None:
    session.execute(table_of(Event).update().where(Event.dedup_key == dedup_key).values(payload=payload))


def latest_payload(session: Session, user_id: int, kind: str) -> dict[str, Any] | None:
    """The payload of the user's latest event of this kind, None if there is none."""
    return session.scalar(
        select(Event.payload).where(Event.user_id == user_id, Event.kind == kind)
        .order_by(Event.created_at.desc(), Event.id.desc()).limit(1)
    )
