"""Users (spec 2 and 3): who is in a local-time window, and their mail details. Sessions come from the caller."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import false, or_, select
from sqlalchemy.orm import Session

from store.models import User
from store.paging import keyset_pages

UTC = ZoneInfo("UTC")


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
        query = query.where(or_(User.timezone.in_(named), User.timezone.is_(None) if None in zones else false()))
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


def users_for_sweep(
    session: Session,
    now: dt.datetime,
    window_start_hour: int,
    window_hours: int,
    user_ids: Sequence[int] | None = None,
    ignore_local_window: bool = False,
    opted_in_only: bool = False,
    weekdays_only: bool = True,
) -> list[int]:
    """Ids of the users an hourly sweep serves at `now`: those in the local window (every user when ignored)."""
    window = None if ignore_local_window else LocalWindow(window_start_hour, window_hours, weekdays_only)
    return users_in_local_window(session, now, window, opted_in_only=opted_in_only, user_ids=user_ids)


def user_id_by_email(session: Session, email: str) -> int | None:
    """The id of the user with this e-mail address, None if there is none."""
    return session.scalar(select(User.id).where(User.email == email))
