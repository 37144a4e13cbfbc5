"""Daily todo emails (spec 3): the hourly sweep that mails users for whom it is morning, exactly once."""

# No `from __future__ import annotations`: a deployment run validates the parameters against
# real types (`dt.datetime`), which string annotations cannot give once the runner loaded the module.
import datetime as dt
from functools import partial

from prefect import flow
from prefect.task_runners import ThreadPoolTaskRunner

from tasks.emails.steps import DAILY_EMAIL_REPORT, DailyEmailOutcome, send_daily_emails
from tasks.fanout import fan_out, raise_for_failures, report_then_raise
from tasks.sweeps import select_users_for_sweep, sweep_instant


class DailyEmailsFailed(RuntimeError):
    """Some emails could not be written or sent; the others went out and none is sent twice."""


def _fail_on_problems(outcomes: list[DailyEmailOutcome]) -> None:
    raise_for_failures(outcomes, failed=lambda o: o.status in ("failed", "unknown"),
                       describe=lambda o: f"user {o.user_id}: {o.status}" + (f" ({o.error})" if o.error else ""),
                       error=DailyEmailsFailed, what="emails need attention")


def _run_name() -> str:
    from prefect.runtime import flow_run

    return f"send-daily-todo-emails-{sweep_instant(flow_run.parameters.get('now')):%Y-%m-%d-%H%M}"


# A few chunks at a time: each holds one mailer connection and writes its claims to the database.
# (The ignore: Prefect types flow()'s task_runner too narrowly for its own runners, PrefectHQ/prefect#16938.)
@flow(name="send-daily-todo-emails", flow_run_name=_run_name,
      task_runner=ThreadPoolTaskRunner(max_workers=4))  # type: ignore[arg-type]
def send_daily_todo_emails(
    now: dt.datetime | None = None,
    window_start_hour: int = 8,
    window_hours: int = 1,
    send_when_empty: bool = False,
    user_ids: list[int] | None = None,
    ignore_local_window: bool = False,
    chunk_size: int = 500,
    weekdays_only: bool = True,
) -> list[DailyEmailOutcome]:
    """Mail each opted-in user for whom it is 08:00-08:59 on a weekday their todos of the day, once.

    `weekdays_only=False` mails on Saturdays and Sundays too."""
    now = sweep_instant(now)
    ids = select_users_for_sweep(now, window_start_hour, window_hours, user_ids, ignore_local_window, weekdays_only,
                                 opted_in_only=True)
    outcomes = fan_out(send_daily_emails, ids, chunk_size, now, send_when_empty)
    return report_then_raise(outcomes, partial(DAILY_EMAIL_REPORT.publish, key="daily-todo-emails"), _fail_on_problems)
