"""Daily todo email steps (spec 3): who is at 08:00, what they have today, write, render, claim, send.

Exactly once: an event row "todo_daily_email:{user}:{local_date}" is claimed before sending and moves
claimed -> sending -> sent. A claim that never reached the mailer is sent again by a later run (with the
same Message-ID); one that died inside the mailer is only re-sent when the mailer can tell it did not go
out, otherwise it is marked "unknown" and reported, never sent twice. See README "Daily emails".
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import re
import uuid
from collections import defaultdict
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr, parseaddr
from pathlib import Path
from typing import Any, Literal

import jinja2
import nh3
from prefect import task
from prefect.artifacts import create_markdown_artifact
from pydantic import BaseModel

from blocks.llm import LLM, DailyEmailContext, EmailTodo
from blocks.mailer import Mailer, MailRejected
from blocks.offline import OfflineLLM, format_local_day
from blocks.profile import load_profile
from store import todo_sweeps as sweeps
from tasks.runtime import current_run_id, run_logger, utcnow
from tasks.timezones import user_zone

EMAIL_KIND = "todo_daily_email"
STALE_CLAIM_MINUTES = 15
SUBJECT_MAX_CHARS = 150
BODY_MAX_CHARS = 5000
WRITER_FALLBACK = OfflineLLM()

Status = Literal["sent", "already-sent", "nothing-to-report", "in-flight", "unknown", "failed"]


class DailyEmailOutcome(BaseModel):
    """What happened to one user's daily email."""

    user_id: int
    local_date: dt.date
    status: Status
    message_id: str | None = None
    todos: int = 0
    rescheduled: int = 0
    error: str | None = None


class RenderedEmail(BaseModel):
    subject: str
    text: str
    html: str


LABELS: dict[str, dict[str, str]] = {
    "en": {
        "today": "Today", "rescheduled": "Moved since yesterday", "from_task": "from",
        "moved_from": "moved from", "nothing_today": "Nothing is due today.",
        "footer": "You receive this email because daily todo emails are on in your settings.",
    },
    "fr": {
        "today": "Aujourd'hui", "rescheduled": "Reportées depuis hier", "from_task": "issue de",
        "moved_from": "reportée du", "nothing_today": "Rien n'est prévu aujourd'hui.",
        "footer": "Vous recevez ce message car les e-mails quotidiens de tâches sont activés dans vos réglages.",
    },
}

_templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).resolve().parent / "templates"),
    autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default=False),
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
)


# --- pure helpers ------------------------------------------------------------------------------------


def dedup_key(user_id: int, local_date: dt.date) -> str:
    return f"{EMAIL_KIND}:{user_id}:{local_date.isoformat()}"


def stable_message_id(key: str, from_address: str) -> str:
    """The same Message-ID for every attempt at one email, so a resend replaces rather than adds."""
    domain = parseaddr(from_address)[1].rpartition("@")[2] or "nightshift.local"
    user_id, local_date = key.split(":")[1:3]
    digest = hashlib.sha256(f"{key}@{domain}".encode()).hexdigest()[:16]
    return f"<todo-daily-email.{user_id}.{local_date}.{digest}@{domain}>"


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def plain_text(untrusted: Any, limit: int = BODY_MAX_CHARS) -> str:
    """Text a model wrote, as plain text: every tag (and script/style content) removed by nh3."""
    text = html.unescape(nh3.clean(str(untrusted or ""), tags=set()))
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip()[:limit]


def one_line(untrusted: Any, limit: int = SUBJECT_MAX_CHARS) -> str:
    """A header-safe single line (no CR/LF can smuggle in another header)."""
    return " ".join(plain_text(untrusted, limit * 4).split())[:limit]


def render_email(context: DailyEmailContext, written: dict[str, Any]) -> RenderedEmail:
    """The HTML and plain-text parts from the writer's subject and body and the todo lists."""
    language = (context.language_code or "en").strip().lower()[:2]
    labels = LABELS.get(language, LABELS["en"])
    subject = one_line(written.get("subject"))
    body = plain_text(written.get("body"))
    def day(value: dt.date | None) -> str:
        return format_local_day(value, language) if value else ""

    def lines(todos: list[EmailTodo]) -> list[dict[str, Any]]:
        return [{**t.model_dump(), "previous_day": day(t.previous_date), "new_day": day(t.scheduled_for)}
                for t in todos]

    values = {
        "language": language, "labels": labels, "subject": subject, "body": body,
        "paragraphs": [p.replace("\n", " ") for p in body.split("\n\n") if p.strip()],
        "today": lines(context.today), "rescheduled": lines(context.rescheduled),
    }
    return RenderedEmail(
        subject=subject,
        text=_templates.get_template("daily_email.txt.j2").render(values),
        html=_templates.get_template("daily_email.html.j2").render(values),
    )


def write(llm: LLM, context: DailyEmailContext) -> dict[str, Any]:
    """The writer's subject and body; the offline template when the model fails or answers nothing usable."""
    try:
        written = llm.write_daily_email(context)
        if isinstance(written, dict) and one_line(written.get("subject")) and plain_text(written.get("body")):
            return written
        problem = f"unusable answer {str(written)[:200]!r}"
    except Exception as exc:
        problem = str(exc)
    run_logger().warning("daily email writer failed (%s): using the offline template", problem)
    return WRITER_FALLBACK.write_daily_email(context)


def build_message(user: sweeps.UserRow, rendered: RenderedEmail, message_id: str, key: str,
                  now: dt.datetime) -> Message:
    """A multipart/alternative message (text, then HTML); the compat32 MIME classes build it ~2x faster."""
    message = MIMEMultipart("alternative")
    message["To"] = formataddr((one_line(user.name), user.email), charset="utf-8")
    message["Subject"] = rendered.subject if rendered.subject.isascii() else Header(rendered.subject, "utf-8")
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"
    message["X-Nightshift-Dedup-Key"] = key
    message.attach(MIMEText(rendered.text, "plain", "utf-8"))
    message.attach(MIMEText(rendered.html, "html", "utf-8"))
    return message


def email_contexts(
    session: Any, users: list[sweeps.UserRow], now: dt.datetime
) -> dict[int, DailyEmailContext]:
    """Each user's context: todos due on their local date and todos moved since their local yesterday."""
    logger = run_logger()
    groups: dict[tuple[dt.date, dt.datetime], list[sweeps.UserRow]] = defaultdict(list)
    for user in users:
        zone = user_zone(user.timezone, user.id, logger)
        local_date = now.astimezone(zone).date()
        yesterday_start = dt.datetime.combine(local_date - dt.timedelta(days=1), dt.time(), tzinfo=zone)
        groups[(local_date, yesterday_start.astimezone(dt.timezone.utc))].append(user)
    contexts = {}
    for (local_date, since), members in groups.items():
        rows: dict[int, list[sweeps.EmailTodoRow]] = defaultdict(list)
        for row in sweeps.email_todos(session, [u.id for u in members], local_date, since):
            rows[row.user_id].append(row)
        for user in members:
            contexts[user.id] = _context(user, local_date, since, rows[user.id])
    return contexts


def _context(user: sweeps.UserRow, local_date: dt.date, since: dt.datetime,
             rows: list[sweeps.EmailTodoRow]) -> DailyEmailContext:
    today, moved = [], []
    for row in rows:
        was_moved = row.previous_date is not None and row.moved_at >= since
        todo = EmailTodo(description=row.description, execution_title=row.execution_title,
                         scheduled_for=row.scheduled_for, previous_date=row.previous_date if was_moved else None,
                         justification=row.justification if was_moved else None)
        if row.scheduled_for == local_date:
            today.append(todo)
        elif was_moved:
            moved.append(todo)
    return DailyEmailContext(user_name=user.name, language_code=user.language_code or "en", local_date=local_date,
                             weekday=local_date.strftime("%A"), today=today, rescheduled=moved)


# --- the claim -------------------------------------------------------------------------------------


def moved_count(context: DailyEmailContext) -> int:
    """Todos moved since yesterday, including those moved to today."""
    return len(context.rescheduled) + sum(todo.previous_date is not None for todo in context.today)


def claim_payload(owner: str, message_id: str, now: dt.datetime) -> dict[str, Any]:
    return {"status": "claimed", "owner": owner, "claimed_at": now.isoformat(), "message_id": message_id, "attempt": 1}


def claim(session: Any, mailer: Mailer, key: str, user_id: int, message_id: str, owner: str,
          stale_after: dt.timedelta) -> Status | Literal["claimed"]:
    """Claim the email's event row: "claimed" when this run may send it, else why it must not."""
    now = utcnow()
    payload = claim_payload(owner, message_id, now)
    if sweeps.insert_event(session, user_id, EMAIL_KIND, key, payload, now):
        return "claimed"
    event = sweeps.read_event(session, key)
    if event is None:  # deleted in between by an operator: try again next run
        return "in-flight"
    held = event.payload
    status = held.get("status")
    if status == "sent":
        return "already-sent"
    if status == "unknown":
        return "unknown"
    claimed_at = dt.datetime.fromisoformat(held.get("claimed_at") or now.isoformat())
    if status in ("claimed", "sending") and held.get("owner") != owner and now - claimed_at < stale_after:
        return "in-flight"
    if status == "sending":
        # It died inside the mailer: resend only when the mailer can tell that the message did not go out.
        delivered = mailer.delivered(held.get("message_id") or message_id)
        if delivered is not False:
            outcome: Status = "already-sent" if delivered else "unknown"
            recorded = {**held, "status": "sent" if delivered else "unknown", "resolved_at": now.isoformat()}
            sweeps.replace_event_payload(session, event, recorded)
            return outcome
    taken = {**payload, "attempt": int(held.get("attempt") or 1) + 1, "previous_status": status}
    return "claimed" if sweeps.replace_event_payload(session, event, taken) else "in-flight"


def _record(db: Any, key: str, payload: dict[str, Any]) -> None:
    with db.session() as session:
        sweeps.set_event_payload(session, key, payload)


# --- tasks -----------------------------------------------------------------------------------------


@task(name="select-users-for-daily-email", retries=2, retry_delay_seconds=[2, 10])
def select_users_for_daily_email(
    now: dt.datetime,
    window_start_hour: int = 8,
    window_hours: int = 1,
    user_ids: list[int] | None = None,
    ignore_local_window: bool = False,
) -> list[int]:
    """Opted-in users whose local time at `now` is in the morning window on a weekday."""
    window = None if ignore_local_window else sweeps.LocalWindow(window_start_hour, window_hours)
    with load_profile().database.session() as session:
        return sweeps.users_in_local_window(session, now, window, opted_in_only=True, user_ids=user_ids)


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
        users = sweeps.users_by_id(session, user_ids)
        contexts = email_contexts(session, users, now)
        held = sweeps.read_events(session, [dedup_key(u.id, contexts[u.id].local_date) for u in users])
    outcomes: dict[int, DailyEmailOutcome] = {}
    ready: list[tuple[sweeps.UserRow, str, str, RenderedEmail]] = []
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
            except Exception as exc:
                outcome.error = f"writing failed: {exc}"
    claimed = _claim_all(db, mailer, ready, owner, dt.timedelta(minutes=stale_claim_minutes), outcomes)
    _send_all(db, mailer, claimed, owner, now, outcomes)
    return [outcomes[user.id] for user in users]


def _claim_all(db: Any, mailer: Mailer, ready: list[tuple[sweeps.UserRow, str, str, RenderedEmail]], owner: str,
               stale_after: dt.timedelta, outcomes: dict[int, DailyEmailOutcome]) -> list[Any]:
    """Claim every written email of the chunk in one transaction; keep those this run may send."""
    claimed, now = [], utcnow()
    with db.session() as session:
        # One INSERT for the chunk; only the keys that already had a row go through the full claim.
        fresh = sweeps.insert_events(session, [
            {"user_id": user.id, "kind": EMAIL_KIND, "dedup_key": key, "created_at": now,
             "payload": claim_payload(owner, message_id, now)} for user, key, message_id, _ in ready])
        for entry in ready:
            user, key, message_id, _ = entry
            result = "claimed" if key in fresh else claim(session, mailer, key, user.id, message_id, owner, stale_after)
            outcomes[user.id].message_id = message_id
            if result == "claimed":
                claimed.append(entry)
            else:
                outcomes[user.id].status = result
    return claimed


def _send_all(db: Any, mailer: Mailer, claimed: list[tuple[sweeps.UserRow, str, str, RenderedEmail]], owner: str,
              now: dt.datetime, outcomes: dict[int, DailyEmailOutcome]) -> None:
    """claimed -> sending -> sent (or failed / unknown) for each message, over one mailer connection.

    "sending" is committed before the mailer is called; a message's "sent" commits together with the
    next message's "sending" (one transaction per message instead of two).
    """
    sent: tuple[str, dict[str, Any]] | None = None
    with mailer.batch() as send:
        for user, key, message_id, rendered in claimed:
            outcome = outcomes[user.id]
            base = {"owner": owner, "message_id": message_id, "claimed_at": utcnow().isoformat(),
                    "todos": outcome.todos, "rescheduled": outcome.rescheduled}
            with db.session() as session:
                if sent is not None:
                    sweeps.set_event_payload(session, *sent)
                sweeps.set_event_payload(session, key, {**base, "status": "sending"})
            sent = None
            try:
                send(build_message(user, rendered, message_id, key, now))
            except Exception as exc:
                _record_failure(db, mailer, key, base, exc, outcome)
                continue
            sent = (key, {**base, "status": "sent", "sent_at": utcnow().isoformat()})
            outcome.status = "sent"
    if sent is not None:
        _record(db, *sent)


def _record_failure(db: Any, mailer: Mailer, key: str, base: dict[str, Any], exc: Exception,
                    outcome: DailyEmailOutcome) -> None:
    """A refusal may be sent again by a later run; an unclear failure only if the mailer saw nothing."""
    delivered = False if isinstance(exc, MailRejected) else mailer.delivered(base["message_id"])
    status = {True: "sent", False: "failed", None: "unknown"}[delivered]
    _record(db, key, {**base, "status": status, "error": str(exc)[:500]})
    outcome.status = "sent" if delivered else status
    outcome.error = None if delivered else str(exc)
    run_logger().error("user %s: daily email %s: %s", outcome.user_id, status, exc)


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


@task(name="publish-daily-email-report")
def publish_daily_email_report(outcomes: list[DailyEmailOutcome], key: str) -> str:
    markdown = report_markdown(outcomes)
    create_markdown_artifact(markdown=markdown, key=key, description="Daily todo emails sent, skipped and failed")
    return markdown
