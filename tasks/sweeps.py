"""The hourly user sweeps (spec 2 and 3): the instant a sweep reasons about, and the users it serves then."""

from __future__ import annotations

import datetime as dt

from prefect import task

from blocks.profile import load_profile
from store.users import users_for_sweep
from tasks.runtime import utcnow


def sweep_instant(now: dt.datetime | None = None) -> dt.datetime:
    """The instant a sweep reasons about: `now` if given, else the run's scheduled start (a late or
    retried run still sees the hour it was scheduled for), else the clock."""
    if now is not None:
        return now if now.tzinfo else now.replace(tzinfo=dt.UTC)
    from prefect.runtime import flow_run

    scheduled = flow_run.scheduled_start_time if flow_run.get_id() else None
    if scheduled is None:
        return utcnow()
    return dt.datetime.fromtimestamp(scheduled.timestamp(), tz=dt.UTC)


def _selection_run_name() -> str:
    from prefect.runtime import task_run

    start = task_run.parameters.get("window_start_hour", 0)
    hours = task_run.parameters.get("window_hours", 1)
    opted_in = "-opted-in" if task_run.parameters.get("opted_in_only") else ""
    return f"select-users{opted_in}-{start:02d}h-to-{start + hours:02d}h"


@task(name="select-users-for-sweep", task_run_name=_selection_run_name, retries=2, retry_delay_seconds=[2, 10])
def select_users_for_sweep(
    now: dt.datetime,
    window_start_hour: int,
    window_hours: int = 1,
    user_ids: list[int] | None = None,
    ignore_local_window: bool = False,
    weekdays_only: bool = True,
    opted_in_only: bool = False,
) -> list[int]:
    """Users (only those opted in to the daily email, if asked) whose local time at `now` is in the
    window, on a weekday unless told otherwise; users without a zone count as UTC."""
    with load_profile().database.session() as session:
        return users_for_sweep(session, now, window_start_hour, window_hours, user_ids, ignore_local_window,
                               opted_in_only=opted_in_only, weekdays_only=weekdays_only)
