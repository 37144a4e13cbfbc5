"""The Database block: where the application database lives (SQLite or PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from prefect.blocks.core import Block
from pydantic import Field, SecretStr
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from store.db import get_engine, migrate, session_scope


class Database(Block):
    """An SQLAlchemy URL: sqlite:///path for the embedded default, postgresql+psycopg2://… in production."""

    _block_type_name = "nightshift Database"
    _block_type_slug = "nightshift-database"
    _description = "The application database of nightshift (users, todos, documents, events…)."

    url: SecretStr = Field(description="SQLAlchemy URL, e.g. postgresql+psycopg2://user:pw@host:5432/nightshift")

    def engine(self) -> Engine:
        return get_engine(self.url.get_secret_value())

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error."""
        with session_scope(self.url.get_secret_value()) as session:
            yield session

    def migrate(self) -> None:
        """Apply the Alembic migrations up to head (safe to repeat)."""
        migrate(self.url.get_secret_value())
