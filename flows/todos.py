"""Todo extraction (spec 1): one execution on demand, the sweep that finds the quiet ones; and the
hourly rescheduling sweep (spec 2)."""

# No `from __future__ import annotations`: a deployment run validates the parameters against
# real types (`dt.datetime`), which string annotations cannot give once the runner loaded the module.
import datetime as dt
from functools import partial
from typing import Any

from prefect import flow

from tasks.fanout import fan_out, raise_for_failures, report_then_raise
from tasks.jobs import bulk_form
from tasks.rescheduling import RESCHEDULING_REPORT, RescheduleOutcome, reschedule_overdue_todos
from tasks.sweeps import select_users_for_sweep, sweep_instant
from tasks.todos import (
    EXTRACTION_REPORT,
    ExtractionOutcome,
    extract_todos_for_executions,
    extract_todos_for_jobs,
    select_executions_to_extract,
)


class ExtractionFailed(RuntimeError):
    """Some executions could not be extracted; the others were saved and the sweep will retry these."""


def _fail_on_errors(outcomes: list[ExtractionOutcome]) -> None:
    raise_for_failures(outcomes, failed=lambda o: o.status == "failed",
                       describe=lambda o: f"execution {o.task_execution_id}: {o.error}",
                       error=ExtractionFailed, what="executions failed")


@flow(name="extract-todos", flow_run_name="extract-todos-execution-{task_execution_id}")
def extract_todos(task_execution_id: int, force: bool = False) -> ExtractionOutcome:
    """Extract the user's next steps from one finished task execution and save them as todos."""
    [outcome] = report_then_raise(extract_todos_for_executions([task_execution_id], force=force),
                                  partial(EXTRACTION_REPORT.publish, key=f"todos-execution-{task_execution_id}"),
                                  _fail_on_errors)
    return outcome


@bulk_form("extract-todos")
def extract_todos_in_bulk(jobs: list[dict[str, Any]]) -> list[ExtractionOutcome | Exception]:
    """extract-todos jobs run by one batch: their executions in one task (as the sweep's chunks), one
    report for them all; each job's outcome, or the error its own run of `extract_todos` would raise."""
    outcomes = extract_todos_for_jobs(jobs)
    EXTRACTION_REPORT.publish(outcomes, key="todos-job-batch")
    return [_outcome_or_error(outcome) for outcome in outcomes]


def _outcome_or_error(outcome: ExtractionOutcome) -> ExtractionOutcome | Exception:
    try:
        _fail_on_errors([outcome])
    except ExtractionFailed as error:
        return error
    return outcome


@flow(name="sweep-todo-extraction", flow_run_name="sweep-todo-extraction")
def sweep_todo_extraction(quiet_minutes: int = 10, chunk_size: int = 20, limit: int = 2000) -> list[ExtractionOutcome]:
    """Find executions quiet for `quiet_minutes` and not yet extracted, and extract them in chunks."""
    ids = select_executions_to_extract(quiet_minutes, limit)
    outcomes = fan_out(extract_todos_for_executions, ids, chunk_size)
    return report_then_raise(outcomes, partial(EXTRACTION_REPORT.publish, key="todos-sweep"), _fail_on_errors)


class ReschedulingFailed(RuntimeError):
    """Some todos could not be rescheduled; the others were, and the next sweep retries these."""


def _fail_on_unscheduled(outcomes: list[RescheduleOutcome]) -> None:
    raise_for_failures(outcomes, failed=lambda o: o.status == "failed", describe=lambda o: f"todo {o.todo_id}: {o.error}",
                       error=ReschedulingFailed, what="todos failed")


def _rescheduling_run_name() -> str:
    from prefect.runtime import flow_run

    return f"sweep-todo-rescheduling-{sweep_instant(flow_run.parameters.get('now')):%Y-%m-%d-%H%M}"


@flow(name="sweep-todo-rescheduling", flow_run_name=_rescheduling_run_name)
def sweep_todo_rescheduling(
    now: dt.datetime | None = None,
    window_start_hour: int = 1,
    window_hours: int = 1,
    user_ids: list[int] | None = None,
    ignore_local_window: bool = False,
    chunk_size: int = 500,
    weekdays_only: bool = True,
) -> list[RescheduleOutcome]:
    """Give a new date to the overdue open todos of users for whom it is 01:00-02:00 on a weekday.

    `weekdays_only=False` reschedules on Saturdays and Sundays too."""
    now = sweep_instant(now)
    ids = select_users_for_sweep(now, window_start_hour, window_hours, user_ids, ignore_local_window, weekdays_only)
    outcomes = fan_out(reschedule_overdue_todos, ids, chunk_size, now)
    return report_then_raise(outcomes, partial(RESCHEDULING_REPORT.publish, key="todo-rescheduling"), _fail_on_unscheduled)
