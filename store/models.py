"""SQLAlchemy 2 models for the application database (spec: "Data model").

The same schema runs on PostgreSQL (production) and SQLite (embedded default). Embeddings are a
REAL[] column on PostgreSQL and a JSON array on SQLite.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    """Timezone-aware now in UTC; every timestamp in the database is UTC."""
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass a timezone-aware value")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value


class Vector(TypeDecorator):
    """A float vector: REAL[] on PostgreSQL, a JSON array elsewhere."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.ARRAY(Float(precision=24)))
        return dialect.type_descriptor(JSON())

    def process_bind_param(self, value: Any, dialect: Any) -> list[float] | None:
        return None if value is None else [float(x) for x in value]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dt.datetime: UTCDateTime, dict[str, Any]: JSON}


class User(Base):
    __tablename__ = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320), unique=True)
    language_code: Mapped[str] = mapped_column(String(16), default="en")
    timezone: Mapped[str | None] = mapped_column(String(64))
    goal: Mapped[str | None] = mapped_column(Text)
    company_description: Mapped[str | None] = mapped_column(Text)
    todo_email_opt_in: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")


class Task(Base):
    __tablename__ = "task"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    definition: Mapped[str | None] = mapped_column(Text)


class TaskExecution(Base):
    __tablename__ = "task_execution"
    __table_args__ = (Index("ix_task_execution_user_ended", "user_id", "ended_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("task.id"))
    title: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[dt.datetime | None]
    previous_execution_id: Mapped[int | None] = mapped_column(
        ForeignKey("task_execution.id", ondelete="SET NULL")
    )
    todos_extracted_at: Mapped[dt.datetime | None]
    # Id of the produced_text_version the todos were extracted from (no FK: the tables reference each other).
    todos_extracted_from_version: Mapped[int | None]


class Message(Base):
    __tablename__ = "message"
    __table_args__ = (
        CheckConstraint("sender IN ('user', 'assistant')", name="sender"),
        Index("ix_message_execution_sent", "task_execution_id", "sent_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    task_execution_id: Mapped[int] = mapped_column(ForeignKey("task_execution.id", ondelete="CASCADE"))
    sender: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ProducedTextVersion(Base):
    __tablename__ = "produced_text_version"
    __table_args__ = (Index("ix_produced_text_version_execution_created", "task_execution_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    task_execution_id: Mapped[int] = mapped_column(ForeignKey("task_execution.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Todo(Base):
    __tablename__ = "todo"
    __table_args__ = (
        # The same next step is never saved twice for one execution, whatever retries or sweeps do.
        UniqueConstraint("task_execution_id", "dedup_key"),
        Index("ix_todo_user_open", "user_id", "completed_at", "deleted_by_user_at", "deleted_by_system_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    task_execution_id: Mapped[int] = mapped_column(ForeignKey("task_execution.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    description: Mapped[str] = mapped_column(Text)
    dedup_key: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[dt.datetime | None]
    deleted_by_user_at: Mapped[dt.datetime | None]
    deleted_by_system_at: Mapped[dt.datetime | None]
    deletion_reason: Mapped[str | None] = mapped_column(Text)
    source_run_id: Mapped[str | None] = mapped_column(String(64))


class TodoScheduling(Base):
    """Append-only: the newest row of a todo is its current date."""

    __tablename__ = "todo_scheduling"
    __table_args__ = (Index("ix_todo_scheduling_todo_created", "todo_id", "created_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    todo_id: Mapped[int] = mapped_column(ForeignKey("todo.id", ondelete="CASCADE"))
    scheduled_for: Mapped[dt.date] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    justification: Mapped[str | None] = mapped_column(Text)
    source_run_id: Mapped[str | None] = mapped_column(String(64))


class Event(Base):
    __tablename__ = "event"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(64))
    dedup_key: Mapped[str] = mapped_column(String(255), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Collection(Base):
    __tablename__ = "collection"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Source(Base):
    __tablename__ = "source"

    id: Mapped[int] = mapped_column(primary_key=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collection.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(500))
    object_key: Mapped[str] = mapped_column(String(1000))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    error: Mapped[str | None] = mapped_column(Text)
    ingested_at: Mapped[dt.datetime | None]
    # Share of the PDF's text layer found in its chunks (None: no text layer), and what the owner should know.
    coverage: Mapped[float | None] = mapped_column(Float)
    warning: Mapped[str | None] = mapped_column(Text)


class Document(Base):
    __tablename__ = "document"
    __table_args__ = (
        CheckConstraint("kind IN ('webpage', 'text', 'pdf')", name="kind"),
        CheckConstraint("status IN ('pending', 'ready', 'failed')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(500))
    source_uri: Mapped[str | None] = mapped_column(Text)
    collection_id: Mapped[int | None] = mapped_column(ForeignKey("collection.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    error: Mapped[str | None] = mapped_column(Text)
    content_hash: Mapped[str | None] = mapped_column(String(64))
    # A webpage's ETag and Last-Modified as last fetched: an update asks the server whether it changed.
    etag: Mapped[str | None] = mapped_column(String(500))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[dt.datetime | None]


class DocumentChunk(Base):
    __tablename__ = "document_chunk"
    __table_args__ = (UniqueConstraint("document_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("document.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    embedding_model: Mapped[str | None] = mapped_column(String(200))
    embedding: Mapped[list[float] | None] = mapped_column(Vector)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Publication(Base):
    __tablename__ = "publication"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    abstract: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class RecommenderVersion(Base):
    __tablename__ = "recommender_version"
    __table_args__ = (
        # At most one current version: a partial unique index on both backends.
        Index(
            "uq_recommender_version_current",
            "is_current",
            unique=True,
            postgresql_where=text("is_current"),
            sqlite_where=text("is_current"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    artifact_uri: Mapped[str] = mapped_column(Text)
    checksum: Mapped[str] = mapped_column(String(128))
    model_name: Mapped[str] = mapped_column(String(200))
    dim: Mapped[int] = mapped_column(Integer)
    n_items: Mapped[int] = mapped_column(Integer)
    n_sentences: Mapped[int] = mapped_column(Integer)
    # The Annoy parameters that met the recall target: the next build of a similar corpus starts there.
    n_trees: Mapped[int | None] = mapped_column(Integer)
    search_k: Mapped[int | None] = mapped_column(Integer)
    is_current: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")


class SentenceEmbedding(Base):
    """Embedding cache of the recommender: a sentence is embedded once per model, whatever publication holds it."""

    __tablename__ = "sentence_embedding"

    content_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    model_name: Mapped[str] = mapped_column(String(200), primary_key=True)
    dim: Mapped[int] = mapped_column(Integer)
    # float32 bytes: a quarter of a JSON array's size, read back with one numpy call on both backends.
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class JobRecord(Base):
    """A job accepted by the Jobs API: kept here first, then handed to Prefect as a flow run.

    The API answers a POST once this row is committed; a dispatcher creates the flow run afterwards
    (with the job id as Prefect's idempotency key, so a retried dispatch never makes a second run).
    The run's state is kept here (status, timestamps, error): by the dispatcher for a job with a flow
    run of its own, by its batch for a small job run in a batch (the API answers from it); lists filter
    on the final status without asking Prefect.
    """

    __tablename__ = "job"
    __table_args__ = (
        UniqueConstraint("type", "idempotency_key"),
        # The dispatcher's queue: jobs without a flow run, oldest first.
        Index("ix_job_undispatched", "next_attempt_at", postgresql_where=text("flow_run_id IS NULL"),
              sqlite_where=text("flow_run_id IS NULL")),
        Index("ix_job_type_created", "type", "created_at"),
        Index("ix_job_final_status_created", "final_status", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    type: Mapped[str] = mapped_column(String(200))
    deployment_id: Mapped[str] = mapped_column(String(36))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    flow_run_id: Mapped[str | None] = mapped_column(String(36), unique=True)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    dispatch_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    dispatch_error: Mapped[str | None] = mapped_column(Text)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    final_status: Mapped[str | None] = mapped_column(String(20))
    # A small job handed over in a batch: the run of `run-job-batch` that runs it, and what it returned.
    batch_run_id: Mapped[str | None] = mapped_column(String(36))
    result: Mapped[Any | None] = mapped_column(JSON)
    # Its state: a single job's flow run as last read (at synced_at), a batched job's as its batch wrote it.
    status: Mapped[str | None] = mapped_column(String(20))
    state_name: Mapped[str | None] = mapped_column(String(100))
    run_name: Mapped[str | None] = mapped_column(String(200))
    scheduled_at: Mapped[dt.datetime | None]
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    synced_at: Mapped[dt.datetime | None]
