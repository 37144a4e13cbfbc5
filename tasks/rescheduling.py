"""Todo rescheduling steps (spec 2): find overdue open todos at night, propose a date, append the row."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any, Literal

from prefect import task
from pydantic import BaseModel

from blocks.llm import LLM
from blocks.llm_types import RescheduleContext, ScheduledTodo
from blocks.profile import load_profile
from blocks.rules.reschedule import candidate_days
from store.scheduling import (
    OverdueTodo,
    TodoDetails,
    append_scheduling,
    open_todo_counts,
    overdue_todos,
    todo_details,
    upcoming_open_todos,
)
from store.users import UserRow, users_by_id
from tasks import timezones
from tasks.contexts import context_fields
from tasks.reports import Report, markdown_cell
from tasks.runtime import current_run_id, run_logger, utcnow

MAX_DAYS_AHEAD = 90


class RescheduleOutcome(BaseModel):
    """What happened to one overdue todo."""

    todo_id: int
    user_id: int
    status: Literal["rescheduled", "already-rescheduled", "failed"]
    previous_date: dt.date | None = None
    new_date: dt.date | None = None
    justification: str | None = None
    decided_by: Literal["extractor", "rule"] | None = None
    rejected: str | None = None
    error: str | None = None


def validate_proposal(raw: Any, local_date: dt.date) -> tuple[dt.date | None, str | None, str | None]:
    """(date, justification, None) for a usable proposal, else (None, None, why it was rejected)."""
    if not isinstance(raw, dict):
        return None, None, f"not an object: {raw!r}"
    try:
        day = dt.date.fromisoformat(str(raw.get("reschedule_date", "")).strip()[:10])
    except ValueError:
        return None, None, f"unreadable reschedule_date {raw.get('reschedule_date')!r}"
    justification = " ".join(str(raw.get("justification") or "").split())
    if day < local_date:
        return None, None, f"{day.isoformat()} is in the past (today is {local_date.isoformat()})"
    if day.weekday() >= 5:
        return None, None, f"{day.isoformat()} is on a weekend"
    if day > local_date + dt.timedelta(days=MAX_DAYS_AHEAD):
        return None, None, f"{day.isoformat()} is more than {MAX_DAYS_AHEAD} days ahead"
    if not justification:
        return None, None, "no justification"
    return day, justification[:1000], None


def _chunk_run_name() -> str:
    from prefect.runtime import task_run

    ids = task_run.parameters.get("user_ids") or []
    return f"reschedule-todos-users-{ids[0]}-to-{ids[-1]}" if ids else "reschedule-todos-no-users"


@task(name="reschedule-overdue-todos", task_run_name=_chunk_run_name, retries=2, retry_delay_seconds=[5, 30])
def reschedule_overdue_todos(user_ids: list[int], now: dt.datetime) -> list[RescheduleOutcome]:
    """Give every overdue open todo of these users a new date; a failing user does not stop the others."""
    profile = load_profile()
    logger = run_logger()
    with profile.database.session() as session:
        users = {user.id: user for user in users_by_id(session, user_ids)}
        local_dates = {uid: timezones.local_date(now, u.timezone, uid, logger) for uid, u in users.items()}
        by_day: dict[dt.date, list[int]] = defaultdict(list)
        for uid, day in local_dates.items():
            by_day[day].append(uid)
        overdue: dict[int, list[OverdueTodo]] = defaultdict(list)
        for day, ids in by_day.items():
            # "More than one day in the past": yesterday's todos wait one more day.
            for row in overdue_todos(session, ids, before=day - dt.timedelta(days=1)):
                overdue[row.user_id].append(row)
    outcomes: list[RescheduleOutcome] = []
    for uid, todos in overdue.items():
        try:
            outcomes += reschedule_user(profile.database, profile.llm, users[uid], todos, local_dates[uid])
        except Exception as exc:  # noqa: BLE001 - reported per todo; the run fails and the next sweep retries
            logger.error("user %s: rescheduling failed: %s", uid, exc)
            outcomes += [RescheduleOutcome(todo_id=t.todo_id, user_id=uid, status="failed", error=str(exc)) for t in todos]
    return outcomes


def reschedule_user(
    db: Any, llm: LLM, user: UserRow, todos: list[OverdueTodo], local_date: dt.date
) -> list[RescheduleOutcome]:
    """Reschedule one user's overdue todos in turn, each seeing the days the previous ones filled."""
    run_id, outcomes = current_run_id(), []
    with db.session() as session:
        counts = open_todo_counts(session, user.id, candidate_days(local_date))
        upcoming = [ScheduledTodo(description=d, scheduled_for=s) for d, s in
                    upcoming_open_todos(session, user.id, local_date)]
        details = {t.todo_id: todo_details(session, t.todo_id) for t in todos}
    for todo in todos:
        context = _context(user, local_date, todo, details[todo.todo_id], upcoming, counts)
        day, justification, rejected, decided_by = decide(llm, context)
        with db.session() as session:
            appended = append_scheduling(
                session, todo.todo_id, todo.scheduling_id, day, justification, run_id, utcnow()
            )
        if appended:
            counts[day] = counts.get(day, 0) + 1
        if rejected:
            run_logger().warning("todo %s: proposal rejected (%s); used the rule: %s", todo.todo_id, rejected, day)
        outcomes.append(RescheduleOutcome(
            todo_id=todo.todo_id, user_id=user.id, status="rescheduled" if appended else "already-rescheduled",
            previous_date=todo.scheduled_for, new_date=day if appended else None,
            justification=justification if appended else None, decided_by=decided_by, rejected=rejected,
        ))
    return outcomes


def decide(llm: LLM, context: RescheduleContext) -> tuple[dt.date, str, str | None, Literal["extractor", "rule"]]:
    """The extractor's date when it is usable, else the rule's: (date, justification, rejection, who)."""
    try:
        day, justification, rejected = validate_proposal(llm.propose_reschedule(context), context.local_date)
    except Exception as exc:  # noqa: BLE001 - an extractor outage must not stop rescheduling
        day, justification, rejected = None, None, f"the extractor failed: {exc}"
    if day is not None and justification is not None:
        return day, justification, None, "extractor"
    rule = llm.fallback_reschedule(context)  # the rule decides when the proposal is unusable
    return dt.date.fromisoformat(rule["reschedule_date"]), rule["justification"], rejected, "rule"


def _context(
    user: UserRow, local_date: dt.date, todo: OverdueTodo, details: TodoDetails,
    upcoming: list[ScheduledTodo], counts: dict[dt.date, int],
) -> RescheduleContext:
    return RescheduleContext(
        todo_id=todo.todo_id,
        description=details.description,
        scheduled_for=todo.scheduled_for,
        times_scheduled=details.times_scheduled,
        upcoming=upcoming,
        open_todos_per_day={day: counts.get(day, 0) for day in candidate_days(local_date)},
        **context_fields(user.name, user.language_code, user.timezone, local_date, details),
    )


def report_markdown(outcomes: list[RescheduleOutcome]) -> str:
    """The run's artifact: counts, then every todo moved (date before and after, who decided, why)."""
    failed = [o for o in outcomes if o.status == "failed"]
    moved = [o for o in outcomes if o.status == "rescheduled"]
    lines = [
        "# Todo rescheduling", "",
        f"- overdue todos: {len(outcomes)}; rescheduled: {len(moved)}; failed: {len(failed)}; "
        f"proposals rejected and replaced by the rule: {sum(o.rejected is not None for o in outcomes)}", "",
    ]
    if moved:
        lines += ["| todo | user | was due | now due | decided by | justification |", "|---|---|---|---|---|---|"]
        lines += [f"| {o.todo_id} | {o.user_id} | {o.previous_date} | {o.new_date} | {o.decided_by} | "
                  f"{markdown_cell(o.justification or '')} |" for o in moved[:500]]
        lines.append("")
    if failed:
        lines += ["## Failed", "", "| todo | user | error |", "|---|---|---|"]
        lines += [f"| {o.todo_id} | {o.user_id} | {markdown_cell(o.error or '')} |" for o in failed[:500]]
    return "\n".join(lines)


RESCHEDULING_REPORT = Report(report_markdown, description="Overdue todos rescheduled")
