"""The daily email tasks: send a chunk's emails, and the report of what went out."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict

from prefect import task

from blocks.profile import load_profile
from store.events import read_events
from store.users import UserRow, users_by_id
from tasks.emails.claims import (
    STALE_CLAIM_MINUTES,
    DailyEmailOutcome,
    claim_all,
    dedup_key,
    send_all,
    stable_message_id,
)
from tasks.emails.compose import RenderedEmail, email_contexts, moved_count, render_email, write
from tasks.reports import Report
from tasks.runtime import current_run_id


def _chunk_run_name() -> str:
    from prefect.runtime import task_run

    ids = task_run.parameters.get("user_ids") or []
    return f"daily-emails-users-{ids[0]}-to-{ids[-1]}" if ids else "daily-emails-no-users"


@task(name="send-daily-emails", task_run_name=_chunk_run_name, retries=2, retry_delay_seconds=[5, 30])
def send_daily_emails(
    user_ids: list[int], now: dt.datetime, send_when_empty: bool = False,
    stale_claim_minutes: int = STALE_CLAIM_MINUTES,
) -> list[DailyEmailOutcome]:
    """Write, claim and send the daily email of a chunk of users over one mailer connection."""
    profile = load_profile()
    db, mailer = profile.database, profile.mailer
    owner = current_run_id() or f"call-{uuid.uuid4().hex}"
    with db.session() as session:
        users = users_by_id(session, user_ids)
        contexts = email_contexts(session, users, now)
        held = read_events(session, [dedup_key(u.id, contexts[u.id].local_date) for u in users])
    outcomes: dict[int, DailyEmailOutcome] = {}
    ready: list[tuple[UserRow, str, str, RenderedEmail]] = []
    for user in users:
        context = contexts[user.id]
        key = dedup_key(user.id, context.local_date)
        outcome = DailyEmailOutcome(user_id=user.id, local_date=context.local_date, status="failed",
                                    todos=len(context.today), rescheduled=moved_count(context))
        outcomes[user.id] = outcome
        if (held.get(key) or {}).get("status") in ("sent", "unknown"):
            outcome.status = "already-sent" if held[key]["status"] == "sent" else "unknown"
            outcome.message_id = held[key].get("message_id")
        elif not (context.today or context.rescheduled or send_when_empty):
            outcome.status = "nothing-to-report"
        else:
            try:
                rendered = render_email(context, write(profile.llm, context))
                ready.append((user, key, stable_message_id(key, mailer.from_address), rendered))
            except Exception as exc:  # noqa: BLE001 - this user's outcome says why; the others are sent
                outcome.error = f"writing failed: {exc}"
    claimed = claim_all(db, mailer, ready, owner, dt.timedelta(minutes=stale_claim_minutes), outcomes)
    send_all(db, mailer, claimed, owner, now, outcomes)
    return [outcomes[user.id] for user in users]


def report_markdown(outcomes: list[DailyEmailOutcome]) -> str:
    """The run's artifact: how many emails went out, were skipped, failed or need an operator."""
    counts: dict[str, int] = defaultdict(int)
    for outcome in outcomes:
        counts[outcome.status] += 1
    lines = ["# Daily todo emails", "", f"- users: {len(outcomes)}"]
    lines += [f"- {status}: {counts[status]}" for status in
              ("sent", "already-sent", "nothing-to-report", "in-flight", "failed", "unknown") if counts[status]]
    problems = [o for o in outcomes if o.status in ("failed", "unknown")]
    if problems:
        lines += ["", "## Needs attention", "",
                  "`unknown`: the mailer died while sending and cannot tell whether the message went out; it is "
                  "not re-sent. Delete its event row to send it again.", "",
                  "| user | local date | status | error |", "|---|---|---|---|"]
        lines += [f"| {o.user_id} | {o.local_date} | {o.status} | {(o.error or '').replace('|', '/')[:200]} |"
                  for o in problems[:500]]
    sent = [o for o in outcomes if o.status == "sent"]
    if sent:
        lines += ["", "## Sent", "", "| user | local date | todos | moved | Message-ID |", "|---|---|---|---|---|"]
        lines += [f"| {o.user_id} | {o.local_date} | {o.todos} | {o.rescheduled} | `{o.message_id}` |"
                  for o in sent[:200]]
        if len(sent) > 200:
            lines.append(f"| … | {len(sent) - 200} more | | | |")
    return "\n".join(lines)


DAILY_EMAIL_REPORT = Report(report_markdown, description="Daily todo emails sent, skipped and failed")
