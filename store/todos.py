"""Reads of todos for extraction: what is already known for an execution and its predecessors."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from store import extraction
from store.models import Todo


def known_descriptions(session: Session, task_execution_id: int) -> list[str]:
    """Descriptions of the live todos of this execution and its predecessors, oldest first."""
    chain = extraction.execution_chain(session, task_execution_id)
    return list(
        session.scalars(
            select(Todo.description)
            .where(Todo.task_execution_id.in_(chain), Todo.deleted_by_user_at.is_(None))
            .order_by(Todo.id)
        )
    )
