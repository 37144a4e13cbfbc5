"""The rescheduling rule: the quietest of the next working days."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from blocks.rules.dates import add_working_days
from blocks.rules.mail_writer import format_day, justification, words_for

if TYPE_CHECKING:
    from blocks.llm_types import RescheduleContext

RESCHEDULE_HORIZON_WORKING_DAYS = 5


def candidate_days(local_date: dt.date, working_days: int = RESCHEDULE_HORIZON_WORKING_DAYS) -> list[dt.date]:
    """The next `working_days` working days from `local_date` on (today included when it is one)."""
    first = local_date if local_date.weekday() < 5 else add_working_days(local_date, 1)
    return [add_working_days(first, n) for n in range(working_days)]


def quietest_working_day(local_date: dt.date, open_todos_per_day: dict[dt.date, int]) -> dt.date:
    """The candidate working day holding the fewest open todos; the earliest one on a tie."""
    days = candidate_days(local_date)
    return min(days, key=lambda day: (open_todos_per_day.get(day, 0), day))


def propose_reschedule(context: RescheduleContext) -> dict[str, Any]:
    """The candidate working day with the fewest open todos (the earliest on a tie), and why."""
    day = quietest_working_day(context.local_date, context.open_todos_per_day)
    words = words_for(context.language_code)
    why = justification(words, old=format_day(context.scheduled_for, words), new=format_day(day, words),
                        count=context.open_todos_per_day.get(day, 0), times=context.times_scheduled)
    return {"reschedule_date": day.isoformat(), "justification": why}
