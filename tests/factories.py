"""Rows for tests: a user, a task, a finished execution with its conversation and produced text."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

from store.db import session_scope
from store.models import Message, ProducedTextVersion, Task, TaskExecution, User

_counter = itertools.count(1)

CONVERSATION_EN = [
    ("user", "Can you help me plan the hiring of our first sales rep?"),
    ("assistant", "Sure. Start with the profile: B2B SaaS, two years of closing experience."),
    ("user", "I'll publish the job ad on LinkedIn by Friday."),
    ("assistant", "Next step for you: call three candidates from your network next Tuesday."),
]


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def make_execution(
    url: str,
    *,
    conversation: list[tuple[str, str]] | None = None,
    produced_at: dt.datetime | None = None,
    produced_body: str = "Hiring plan: profile, channels, interview loop.",
    timezone: str | None = "Europe/Paris",
    language_code: str = "en",
    previous_execution_id: int | None = None,
    user_id: int | None = None,
    with_produced_text: bool = True,
) -> int:
    """A finished task execution with messages and one produced text version; returns its id."""
    n = next(_counter)
    now = dt.datetime.now(dt.UTC)
    with session_scope(url) as session:
        if user_id is None:
            user = User(name=f"User {n}", email=f"user{n}-{id(session)}@example.com", timezone=timezone,
                        language_code=language_code, goal="Grow the company")
            session.add(user)
            session.flush()
            user_id = user.id
        task_row = Task(name=f"Hiring plan {n}-{id(session)}", definition="Plan a hire with the user.")
        session.add(task_row)
        session.flush()
        execution = TaskExecution(user_id=user_id, task_id=task_row.id, title=f"First sales hire #{n}",
                                  created_at=now - dt.timedelta(hours=1), ended_at=now - dt.timedelta(minutes=30),
                                  previous_execution_id=previous_execution_id)
        session.add(execution)
        session.flush()
        for i, (sender, text) in enumerate(conversation or CONVERSATION_EN):
            session.add(Message(task_execution_id=execution.id, sender=sender, text=text,
                                sent_at=now - dt.timedelta(minutes=60 - i)))
        if with_produced_text:
            session.add(ProducedTextVersion(task_execution_id=execution.id, title="Hiring plan", body=produced_body,
                                            created_at=produced_at or now - dt.timedelta(minutes=30)))
        return execution.id


def add_version(url: str, execution_id: int, body: str, created_at: dt.datetime | None = None) -> int:
    with session_scope(url) as session:
        version = ProducedTextVersion(task_execution_id=execution_id, title="Hiring plan", body=body,
                                      created_at=created_at or dt.datetime.now(dt.UTC))
        session.add(version)
        session.flush()
        return version.id


def pdf_first_pages(path: Path, pages: int) -> bytes:
    """The first `pages` pages of a PDF as a PDF of their own (the whole file when pages is 0 or more)."""
    import io

    import pypdfium2 as pdfium

    source = pdfium.PdfDocument(str(path))
    if not pages or pages >= len(source):
        return path.read_bytes()
    part = pdfium.PdfDocument.new()
    part.import_pages(source, list(range(pages)))
    buffer = io.BytesIO()
    part.save(buffer)
    return buffer.getvalue()
