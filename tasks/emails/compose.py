"""Composing one daily email: the user's context, the writer's subject and body, the rendered message."""

from __future__ import annotations

import datetime as dt
import html
import re
from collections import defaultdict
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr
from pathlib import Path
from typing import Any

import jinja2
import nh3
from pydantic import BaseModel

from blocks.llm import LLM
from blocks.llm_types import DailyEmailContext, EmailTodo
from blocks.rules.mail_writer import format_local_day, labels_for
from store.scheduling import EmailTodoRow, email_todos
from store.users import UserRow
from tasks.runtime import run_logger
from tasks.timezones import user_zone

SUBJECT_MAX_CHARS = 150
BODY_MAX_CHARS = 5000


class RenderedEmail(BaseModel):
    subject: str
    text: str
    html: str


_templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).resolve().parent.parent / "templates"),
    autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default=False),
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
)



_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def plain_text(untrusted: Any, limit: int = BODY_MAX_CHARS) -> str:
    """Text a model wrote, as plain text: every tag (and script/style content) removed by nh3."""
    text = html.unescape(nh3.clean(str(untrusted or ""), tags=set()))
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip()[:limit]


def one_line(untrusted: Any, limit: int = SUBJECT_MAX_CHARS) -> str:
    """A header-safe single line (no CR/LF can smuggle in another header)."""
    return " ".join(plain_text(untrusted, limit * 4).split())[:limit]


_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def without_repeats(body: str, labels: dict[str, str]) -> str:
    """The writer's text without a sentence the mail itself says (a model, or an older template, may write
    "Nothing is due today." above the list that says it) nor a paragraph said twice."""
    fixed = {" ".join(label.casefold().split()) for label in labels.values()}
    paragraphs: list[str] = []
    for paragraph in body.split("\n\n"):
        sentences = _SENTENCE.split(paragraph.strip())
        remaining = [s for s in sentences if " ".join(s.casefold().split()) not in fixed]
        kept = paragraph.strip() if len(remaining) == len(sentences) else " ".join(remaining).strip()
        if kept and kept not in paragraphs:
            paragraphs.append(kept)
    return "\n\n".join(paragraphs)


def render_email(context: DailyEmailContext, written: dict[str, Any]) -> RenderedEmail:
    """The HTML and plain-text parts from the writer's subject and body and the todo lists."""
    language = (context.language_code or "en").strip().lower()[:2]
    labels = labels_for(language)
    subject = one_line(written.get("subject"))
    body = without_repeats(plain_text(written.get("body")), labels)
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
    except Exception as exc:  # noqa: BLE001 - any writer failure means the template writes this mail
        problem = str(exc)
    run_logger().warning("daily email writer failed (%s): using the rule-based template", problem)
    return llm.fallback_daily_email(context)


def build_message(user: UserRow, rendered: RenderedEmail, message_id: str, key: str,
                  now: dt.datetime) -> Message:
    """A multipart/alternative message (text, then HTML); the compat32 MIME classes build it ~2x faster."""
    message = MIMEMultipart("alternative")
    message["To"] = formataddr((one_line(user.name), user.email), charset="utf-8")
    subject: Any = rendered.subject if rendered.subject.isascii() else Header(rendered.subject, "utf-8")
    message["Subject"] = subject  # a Header folds and encodes a non-ASCII subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"
    message["X-Nightshift-Dedup-Key"] = key
    message.attach(MIMEText(rendered.text, "plain", "utf-8"))
    message.attach(MIMEText(rendered.html, "html", "utf-8"))
    return message


def email_contexts(
    session: Any, users: list[UserRow], now: dt.datetime
) -> dict[int, DailyEmailContext]:
    """Each user's context: todos due on their local date and todos moved since their local yesterday."""
    logger = run_logger()
    groups: dict[tuple[dt.date, dt.datetime], list[UserRow]] = defaultdict(list)
    for user in users:
        zone = user_zone(user.timezone, user.id, logger)
        local_date = now.astimezone(zone).date()
        yesterday_start = dt.datetime.combine(local_date - dt.timedelta(days=1), dt.time(), tzinfo=zone)
        groups[(local_date, yesterday_start.astimezone(dt.UTC))].append(user)
    contexts = {}
    for (local_date, since), members in groups.items():
        rows: dict[int, list[EmailTodoRow]] = defaultdict(list)
        for row in email_todos(session, [u.id for u in members], local_date, since):
            rows[row.user_id].append(row)
        for user in members:
            contexts[user.id] = _context(user, local_date, since, rows[user.id])
    return contexts


def _context(user: UserRow, local_date: dt.date, since: dt.datetime,
             rows: list[EmailTodoRow]) -> DailyEmailContext:
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



def moved_count(context: DailyEmailContext) -> int:
    """Todos moved since yesterday, including those moved to today."""
    return len(context.rescheduled) + sum(todo.previous_date is not None for todo in context.today)

