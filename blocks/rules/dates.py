"""Calendar arithmetic and date-phrase resolvers of the rule-based extractor.

Due dates come from a date phrase found with small regexes (dateparser's `search_dates` is slow); only that
phrase is given to `dateparser.parse`, except weekday names, bare days of the month and "end of the week",
which dateparser gets wrong or cannot read and which the helpers below resolve instead. The first parse in a
process costs dateparser ~50-90 ms to load its language data.
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass

import dateparser

Resolver = Callable[[re.Match[str], dt.date], "dt.date | None"]


def add_working_days(start: dt.date, days: int) -> dt.date:
    """The date `days` working days (Monday to Friday) after `start`; 0 gives `start` itself."""
    current = start
    remaining = days
    while remaining > 0:
        current += dt.timedelta(days=1)
        if current.weekday() < 5:
            remaining -= 1
    return current


def next_weekday(base: dt.date, weekday: int) -> dt.date:
    """The next date strictly after `base` that falls on `weekday` (0 = Monday)."""
    return base + dt.timedelta(days=(weekday - base.weekday() - 1) % 7 + 1)


def next_day_of_month(base: dt.date, day: int) -> dt.date | None:
    """The first date on or after `base` whose day of the month is `day` (skips months that lack it)."""
    if not 1 <= day <= 31:
        return None
    year, month = base.year, base.month
    for _ in range(12):
        if day <= calendar.monthrange(year, month)[1] and dt.date(year, month, day) >= base:
            return dt.date(year, month, day)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return None


def end_of_week(base: dt.date) -> dt.date:
    """The Friday of `base`'s working week; on a weekend, the coming Friday."""
    return base + dt.timedelta(days=(4 - base.weekday()) % 7)


def start_of_next_week(base: dt.date) -> dt.date:
    """The Monday after `base`: a step due "next week" is due on its first working day."""
    return base + dt.timedelta(days=7 - base.weekday())


def end_of_next_week(base: dt.date) -> dt.date:
    """The Friday of the week after `base`'s."""
    return end_of_week(start_of_next_week(base))


def end_of_month(base: dt.date) -> dt.date:
    return base.replace(day=calendar.monthrange(base.year, base.month)[1])


@functools.lru_cache(maxsize=2048)
def parse_date_phrase(phrase: str, language: str, base: dt.date) -> dt.date | None:
    """Resolve one short date phrase with dateparser from `base` at midnight, preferring the future."""
    parsed = dateparser.parse(
        phrase,
        languages=[language],
        settings={
            "RELATIVE_BASE": dt.datetime.combine(base, dt.time()),
            "PREFER_DATES_FROM": "future",
        },
    )
    return parsed.date() if parsed else None


@dataclass(frozen=True)
class DatePattern:
    regex: re.Pattern[str]
    resolve: Resolver


def weekday_resolver(names: dict[str, int], language: str) -> Resolver:
    """The next such weekday; or, when the day of the month follows it ("Monday the 8th", "lundi 19 avril"),
    that day, as the date the writer had in view."""

    def resolve(m: re.Match[str], base: dt.date) -> dt.date | None:
        day = m.groupdict().get("wday")
        if not day:
            return next_weekday(base, names[m["wd"].lower()])
        number = int(re.sub(r"\D", "", day))
        month = m.groupdict().get("wmonth")
        if month:
            return parse_date_phrase(f"{number} {month.lower().rstrip('.')}", language, base)
        # "Dienstag, den 29." on the 23rd of a month whose 29th is a Sunday: next month's 29th is a Tuesday.
        first = next_day_of_month(base, number)
        second = next_day_of_month(first + dt.timedelta(days=1), number) if first is not None else None
        weekday = names[m["wd"].lower()]
        agrees = first is not None and first.weekday() == weekday
        return second if not agrees and second is not None and second.weekday() == weekday else first

    return resolve


def day_of_month(m: re.Match[str], base: dt.date) -> dt.date | None:
    return next_day_of_month(base, int(re.sub(r"\D", "", m["day"])))


def fixed(func: Callable[[dt.date], dt.date]) -> Resolver:
    return lambda m, base: func(base)


def with_dateparser(language: str, rewrite: Callable[[re.Match[str]], str] | None = None) -> Resolver:
    """Give dateparser the `core` group (or a rewritten phrase), never the surrounding preposition."""

    def resolve(m: re.Match[str], base: dt.date) -> dt.date | None:
        phrase = rewrite(m) if rewrite else m["core"]
        return parse_date_phrase(" ".join(phrase.lower().split()), language, base)

    return resolve


def today(base: dt.date) -> dt.date:
    return base


def add_months(base: dt.date, months: int) -> dt.date:
    """The same day `months` later, or the month's last day when it is shorter."""
    year, month = divmod(base.month - 1 + months, 12)
    year, month = base.year + year, month + 1
    return dt.date(year, month, min(base.day, calendar.monthrange(year, month)[1]))


def counted(numbers: dict[str, int], units: dict[str, str], idioms: dict[str, int] | None = None) -> Resolver:
    """'in two weeks' / 'dentro de dos semanas' / 'tra 3 giorni': `n` as digits or a word, `unit` by its first
    letters; `idioms` map a whole 'n unit' to days ('huit jours' is a week, not eight days)."""

    def resolve(m: re.Match[str], base: dt.date) -> dt.date | None:
        key = " ".join(f"{m['n']} {m['unit']}".lower().split())
        if idioms and key in idioms:
            return base + dt.timedelta(days=idioms[key])
        word = m["n"].lower()
        n = int(word) if word.isdigit() else numbers.get(word)
        unit = next((kind for prefix, kind in units.items() if m["unit"].lower().startswith(prefix)), None)
        if n is None or unit is None:
            return None
        if unit == "month":
            return add_months(base, n)
        return base + dt.timedelta(days=n * (7 if unit == "week" else 1))

    return resolve
