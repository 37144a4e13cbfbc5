"""Reads of one task execution for todo extraction: what it is, where it stands, what was said in it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from store import extraction
from store.models import Message, ProducedTextVersion, Task, TaskExecution, User


@dataclass(frozen=True)
class ExecutionMessage:
    sender: str
    text: str
    sent_at: dt.datetime | None


@dataclass(frozen=True)
class ExecutionForExtraction:
    """One execution with its user, task, latest produced text and messages, as plain values."""

    task_execution_id: int
    user_id: int
    user_name: str
    user_goal: str | None
    company_description: str | None
    language_code: str | None
    timezone: str | None
    task_name: str
    task_definition: str | None
    execution_title: str
    extracted_at: dt.datetime | None
    extracted_from_version: int | None
    latest_version_id: int | None
    produced_text: str | None = None
    messages: list[ExecutionMessage] = field(default_factory=list)

    @property
    def already_extracted(self) -> bool:
        """Its todos were extracted from the latest produced text version."""
        return self.extracted_at is not None and self.extracted_from_version == self.latest_version_id


def for_extraction(session: Session, task_execution_id: int) -> ExecutionForExtraction:
    """The execution as extraction needs it, in one read; LookupError when it does not exist."""
    row = session.execute(
        select(TaskExecution, User, Task)
        .join(User, User.id == TaskExecution.user_id)
        .join(Task, Task.id == TaskExecution.task_id)
        .where(TaskExecution.id == task_execution_id)
    ).one_or_none()
    if row is None:
        raise LookupError(f"task execution {task_execution_id} does not exist")
    execution, user, task_row = row
    version_id = extraction.latest_version_id(session, task_execution_id)
    produced = session.get(ProducedTextVersion, version_id) if version_id else None
    messages = session.scalars(
        select(Message).where(Message.task_execution_id == task_execution_id).order_by(Message.sent_at, Message.id)
    )
    return ExecutionForExtraction(
        task_execution_id=task_execution_id,
        user_id=execution.user_id,
        user_name=user.name,
        user_goal=user.goal,
        company_description=user.company_description,
        language_code=user.language_code,
        timezone=user.timezone,
        task_name=task_row.name,
        task_definition=task_row.definition,
        execution_title=execution.title,
        extracted_at=execution.todos_extracted_at,
        extracted_from_version=execution.todos_extracted_from_version,
        latest_version_id=version_id,
        produced_text=f"{produced.title}\n\n{produced.body}" if produced else None,
        messages=[ExecutionMessage(m.sender, m.text, m.sent_at) for m in messages],
    )


def ensure_finished_execution(
    session: Session,
    user: dict[str, str],
    task: tuple[str, str],
    title: str,
    started: dt.datetime,
    ended: dt.datetime,
    messages: list[tuple[str, str, dt.datetime]],
    produced: tuple[str, str, dt.datetime],
) -> int:
    """Create, once, a user (found by e-mail), a task (by name) and a finished execution of it (by
    title) with its conversation and produced text; the execution's id either way."""
    user_row = session.scalar(select(User).where(User.email == user["email"]))
    if user_row is None:
        user_row = User(**user)
        session.add(user_row)
    task_row = session.scalar(select(Task).where(Task.name == task[0]))
    if task_row is None:
        task_row = Task(name=task[0], definition=task[1])
        session.add(task_row)
    session.flush()
    execution = session.scalar(
        select(TaskExecution).where(TaskExecution.user_id == user_row.id, TaskExecution.title == title)
    )
    if execution is None:
        execution = TaskExecution(user_id=user_row.id, task_id=task_row.id, title=title, created_at=started,
                                  ended_at=ended)
        session.add(execution)
        session.flush()
        session.add_all(Message(task_execution_id=execution.id, sender=sender, text=text, sent_at=sent_at)
                        for sender, text, sent_at in messages)
        session.add(ProducedTextVersion(task_execution_id=execution.id, title=produced[0], body=produced[1],
                                        created_at=produced[2]))
        session.flush()
    return execution.id
