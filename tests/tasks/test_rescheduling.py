"""Rescheduling rules without Prefect: the proposal check, the offline rule, local windows, paging."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from factories import utc

from blocks.rules.reschedule import candidate_days, quietest_working_day
from store.paging import PagingError, keyset_pages
from store.users import LocalWindow, zones_in_window
from tasks.rescheduling import validate_proposal

MONDAY = dt.date(2026, 11, 23)
NIGHT = LocalWindow(1, 1)


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ({"reschedule_date": "2026-11-20", "justification": "x"}, "in the past"),
        ({"reschedule_date": "2026-11-28", "justification": "x"}, "on a weekend"),
        ({"reschedule_date": "2026-11-29", "justification": "x"}, "on a weekend"),
        ({"reschedule_date": "2027-06-01", "justification": "x"}, "more than 90 days ahead"),
        ({"reschedule_date": "next blursday", "justification": "x"}, "unreadable reschedule_date"),
        ({"reschedule_date": "2026-11-24", "justification": "  "}, "no justification"),
        (["2026-11-24"], "not an object"),
    ],
)
def test_unusable_proposals_are_rejected(raw: object, problem: str) -> None:
    day, justification, rejected = validate_proposal(raw, MONDAY)
    assert day is None and justification is None
    assert rejected is not None and problem in rejected


def test_a_working_day_from_today_on_is_accepted() -> None:
    assert validate_proposal({"reschedule_date": "2026-11-23", "justification": " Today  works. "}, MONDAY) == (
        MONDAY, "Today works.", None)
    assert validate_proposal({"reschedule_date": "2026-11-27T00:00:00", "justification": "Friday"}, MONDAY)[0] == (
        dt.date(2026, 11, 27))


def test_rule_picks_the_working_day_with_the_fewest_open_todos() -> None:
    friday = dt.date(2026, 11, 27)
    assert candidate_days(friday) == [friday, dt.date(2026, 11, 30), dt.date(2026, 12, 1), dt.date(2026, 12, 2),
                                      dt.date(2026, 12, 3)]
    busy = {friday: 3, dt.date(2026, 11, 30): 1, dt.date(2026, 12, 1): 0, dt.date(2026, 12, 2): 0,
            dt.date(2026, 12, 3): 2}
    assert quietest_working_day(friday, busy) == dt.date(2026, 12, 1)  # the earliest of the two empty days
    assert quietest_working_day(friday, {}) == friday
    saturday = dt.date(2026, 11, 28)
    assert quietest_working_day(saturday, {}) == dt.date(2026, 11, 30)  # never a weekend


def test_night_window_uses_each_users_local_weekday() -> None:
    zones = ["Pacific/Tongatapu", "Pacific/Honolulu", "Europe/Paris", None, "Not/AZone"]
    # Sunday 12:30 UTC is Monday 01:30 in Tonga (UTC+13): a weekday there, a weekend in UTC.
    assert zones_in_window(zones, utc(2026, 11, 22, 12, 30), NIGHT) == ["Pacific/Tongatapu"]
    # Monday 11:30 UTC is Monday 01:30 in Honolulu (UTC-10).
    assert zones_in_window(zones, utc(2026, 11, 23, 11, 30), NIGHT) == ["Pacific/Honolulu"]
    # No zone and an unknown zone are UTC.
    assert zones_in_window(zones, utc(2026, 11, 23, 1, 30), NIGHT) == [None, "Not/AZone"]
    # Friday 12:30 UTC is Saturday 01:30 in Tonga: its weekend, so nobody.
    assert zones_in_window(zones, utc(2026, 11, 27, 12, 30), NIGHT) == []


@pytest.mark.parametrize(
    ("zone", "day", "expected_utc_hours"),
    [
        ("Europe/Paris", dt.date(2026, 3, 29), [0]),  # spring forward: 01:00-02:00 CET is 00:00 UTC
        ("Europe/Paris", dt.date(2026, 10, 25), [23]),  # fall back (02:00-03:00 repeats): 01:00 CEST is 23:00 UTC
        ("America/New_York", dt.date(2026, 3, 8), [6]),  # spring forward: 01:00 EST is 06:00 UTC
        ("America/New_York", dt.date(2026, 11, 1), [5, 6]),  # fall back: 01:00-02:00 happens twice
    ],
)
def test_dst_change_days(zone: str, day: dt.date, expected_utc_hours: list[int]) -> None:
    """Hourly runs around a DST change: the window is hit at the right UTC hours (every day, for the check)."""
    any_day = LocalWindow(1, 1, weekdays_only=False)
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC) - dt.timedelta(hours=2)
    hits = [start + dt.timedelta(hours=h) for h in range(30)
            if zones_in_window([zone], start + dt.timedelta(hours=h), any_day)]
    hits = [h for h in hits if h.astimezone(ZoneInfo(zone)).date() == day]
    assert [h.hour for h in hits] == expected_utc_hours
    # All four changes fall on a Sunday: the weekday sweep does nothing that day.
    assert all(not zones_in_window([zone], h, NIGHT) for h in hits)


def test_keyset_paging_reads_every_page_once() -> None:
    ids = list(range(1, 12))
    calls = []

    def fetch(after: int) -> list[int]:
        calls.append(after)
        return [i for i in ids if i > after][:4]

    assert list(keyset_pages(fetch, 4)) == [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11]]
    assert calls == [0, 4, 8]


def test_keyset_paging_stops_instead_of_looping_on_a_query_that_ignores_the_cursor() -> None:
    with pytest.raises(PagingError, match="does not advance"):
        list(keyset_pages(lambda after: [1, 2], 2))
