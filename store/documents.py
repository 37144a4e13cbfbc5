"""Documents and their chunks (spec 4, 5): the database side. Sessions come from the caller."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from store.models import Document, DocumentChunk


@dataclass
class ChunkRow:
    """One chunk as stored: its embedding and when that embedding was made (created_at)."""

    position: int
    text: str
    content_hash: str
    embedding_model: str | None
    embedding: list[float] | None
    created_at: dt.datetime | None = None


def add_document(session: Session, owner_user_id: int, kind: str, name: str, source_uri: str | None,
                 now: dt.datetime) -> int:
    """A new pending document; returns its id."""
    document = Document(owner_user_id=owner_user_id, kind=kind, name=name[:500], source_uri=source_uri,
                        status="pending", created_at=now, updated_at=now)
    session.add(document)
    session.flush()
    return document.id


def claim_webpage(session: Session, owner_user_id: int, url: str, name: str, now: dt.datetime) -> int:
    """The owner's live webpage document for `url` (re-ingesting updates it), or a new pending one."""
    existing = session.scalar(
        select(Document.id)
        .where(Document.owner_user_id == owner_user_id, Document.kind == "webpage",
               Document.source_uri == url, Document.deleted_at.is_(None))
        .order_by(Document.id)
        .limit(1)
    )
    if existing is None:
        return add_document(session, owner_user_id, "webpage", name or url, url, now)
    # A failed document gets another chance; a ready one stays ready (and visible) until its swap.
    session.execute(
        update(Document).where(Document.id == existing, Document.status == "failed")
        .values(status="pending", error=None, updated_at=now)
    )
    return existing


def live_document(session: Session, document_id: int, lock: bool = False) -> Document:
    """The document, unless it does not exist or was deleted (then LookupError naming the id)."""
    query = select(Document).where(Document.id == document_id)
    if lock:
        query = query.with_for_update()  # PostgreSQL: concurrent swaps of one document queue up
    document = session.scalar(query)
    if document is None:
        raise LookupError(f"document {document_id} does not exist")
    if document.deleted_at is not None:
        raise LookupError(f"document {document_id} was deleted at {document.deleted_at.isoformat()}")
    return document


def chunk_rows(session: Session, document_id: int) -> list[ChunkRow]:
    rows = session.execute(
        select(DocumentChunk.position, DocumentChunk.text, DocumentChunk.content_hash,
               DocumentChunk.embedding_model, DocumentChunk.embedding, DocumentChunk.created_at)
        .where(DocumentChunk.document_id == document_id)
        .order_by(DocumentChunk.position)
    ).all()
    return [ChunkRow(*row) for row in rows]


def stored_embeddings(session: Session, document_ids: list[int], model: str) -> dict[tuple[int, str], ChunkRow]:
    """Embeddings already made by `model` for these documents, keyed by (document id, content hash)."""
    rows = session.execute(
        select(DocumentChunk.document_id, DocumentChunk.position, DocumentChunk.text,
               DocumentChunk.content_hash, DocumentChunk.embedding_model, DocumentChunk.embedding,
               DocumentChunk.created_at)
        .where(DocumentChunk.document_id.in_(document_ids), DocumentChunk.embedding_model == model,
               DocumentChunk.embedding.is_not(None))
    ).all()
    return {(row[0], row[3]): ChunkRow(*row[1:]) for row in rows}


def replace_chunks(session: Session, document_id: int, chunks: list[ChunkRow], content_hash: str,
                   name: str | None, now: dt.datetime) -> None:
    """Swap the document's whole chunk set and record its new content hash (one transaction: the caller's)."""
    document = live_document(session, document_id, lock=True)
    session.execute(delete(DocumentChunk).where(DocumentChunk.document_id == document_id))
    if chunks:
        session.execute(
            insert(DocumentChunk),
            [
                {"document_id": document_id, "position": c.position, "text": c.text, "content_hash": c.content_hash,
                 "embedding_model": c.embedding_model, "embedding": c.embedding, "created_at": c.created_at or now}
                for c in chunks
            ],
        )
    values: dict[str, Any] = {"content_hash": content_hash, "updated_at": now}
    if name:
        values["name"] = name[:500]
    session.execute(update(Document).where(Document.id == document.id).values(**values))


def set_validators(session: Session, document_id: int, etag: str | None, last_modified: str | None) -> None:
    """Record what the server said identifies the version of a webpage just stored."""
    values = {"etag": etag[:500] if etag else None, "last_modified": last_modified[:100] if last_modified else None}
    session.execute(update(Document).where(Document.id == document_id).values(**values))


def mark_ready(session: Session, document_ids: list[int], now: dt.datetime) -> None:
    session.execute(
        update(Document).where(Document.id.in_(document_ids), Document.deleted_at.is_(None))
        .values(status="ready", error=None, updated_at=now)
    )


def mark_failed(session: Session, document_ids: list[int], error: str, now: dt.datetime) -> None:
    """Only pending documents fail: a ready one keeps serving its previous chunks."""
    session.execute(
        update(Document).where(Document.id.in_(document_ids), Document.status == "pending")
        .values(status="failed", error=error[:4000], updated_at=now)
    )


def soft_delete(session: Session, document_id: int, now: dt.datetime) -> int:
    """Mark the document deleted; returns its owner (whose vector collection must drop its chunks)."""
    document = live_document(session, document_id, lock=True)
    document.deleted_at = now
    document.updated_at = now
    return document.owner_user_id


def visible_chunks(session: Session, keys: list[tuple[int, int]]) -> dict[tuple[int, int], str]:
    """Content hash of each (document id, position) that belongs to a ready, not deleted document."""
    if not keys:
        return {}
    document_ids = sorted({document_id for document_id, _ in keys})
    rows = session.execute(
        select(DocumentChunk.document_id, DocumentChunk.position, DocumentChunk.content_hash)
        .join(Document, Document.id == DocumentChunk.document_id)
        .where(DocumentChunk.document_id.in_(document_ids), Document.status == "ready",
               Document.deleted_at.is_(None))
    ).all()
    wanted = set(keys)
    return {(d, p): h for d, p, h in rows if (d, p) in wanted}


def documents_at(session: Session, owner_user_id: int, source_uri: str) -> list[tuple[int, str, str, str | None, int]]:
    """(id, name, status, error, chunks) of the owner's live documents fetched from `source_uri`."""
    rows = session.execute(
        select(Document.id, Document.name, Document.status, Document.error, func.count(DocumentChunk.id))
        .outerjoin(DocumentChunk, DocumentChunk.document_id == Document.id)
        .where(Document.owner_user_id == owner_user_id, Document.source_uri == source_uri,
               Document.deleted_at.is_(None))
        .group_by(Document.id, Document.name, Document.status, Document.error)
    ).tuples().all()
    return list(rows)
