"""Collections and PDF sources: created idempotently for uploads and demos, read and marked by PDF ingestion."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import Collection, Source, User


def ensure_collection(session: Session, owner_user_id: int, name: str) -> int:
    """The id of the owner's collection called `name`, created when missing."""
    found = session.scalar(select(Collection.id).where(Collection.owner_user_id == owner_user_id,
                                                       Collection.name == name).order_by(Collection.id))
    if found is not None:
        return found
    collection = Collection(owner_user_id=owner_user_id, name=name)
    session.add(collection)
    session.flush()
    return collection.id


def ensure_source(session: Session, collection_id: int, filename: str, object_key: str) -> int:
    """The id of the collection's source stored under `object_key`, created (pending) when missing."""
    found = session.scalar(select(Source.id).where(Source.collection_id == collection_id,
                                                   Source.object_key == object_key).order_by(Source.id))
    if found is not None:
        return found
    source = Source(collection_id=collection_id, filename=filename, object_key=object_key, status="pending")
    session.add(source)
    session.flush()
    return source.id


def source_object_key(owner_user_id: int, collection_id: int, filename: str) -> str:
    """Where an uploaded PDF lives in object storage."""
    return f"{owner_user_id}/uploads/{collection_id}/{filename}"


def ingested_sources(session: Session, source_ids: set[int]) -> set[int]:
    """Those of `source_ids` whose ingestion completed: their vectors may be shown."""
    if not source_ids:
        return set()
    return set(session.scalars(select(Source.id).where(Source.id.in_(sorted(source_ids)), Source.status == "ingested")))


def start_ingestion(session: Session, collection_id: int, source_id: int) -> dict[str, int | str]:
    """Mark the source ingesting (its last error cleared); its ids, file and owner. LookupError when absent."""
    row = session.get(Source, source_id)
    collection = session.get(Collection, collection_id)
    if row is None or collection is None or row.collection_id != collection_id:
        raise LookupError(f"no source {source_id} in collection {collection_id}: check both ids")
    owner = session.get(User, collection.owner_user_id)
    if owner is None:
        raise LookupError(f"collection {collection_id} has no owner (user {collection.owner_user_id} is gone)")
    row.status, row.error, row.warning = "ingesting", None, None
    return {"source_id": source_id, "collection_id": collection_id, "owner_user_id": owner.id,
            "owner_name": owner.name, "owner_email": owner.email, "owner_language": owner.language_code,
            "filename": row.filename,
            "object_key": row.object_key}


def mark_ingested(session: Session, source_id: int, collection_id: int, now: dt.datetime,
                  coverage: float | None = None, warning: str | None = None) -> None:
    """The source's passages may be shown, with its coverage and any warning; its collection changed now."""
    row, collection = session.get(Source, source_id), session.get(Collection, collection_id)
    if row is None or collection is None:
        raise LookupError(f"source {source_id} or its collection {collection_id} was deleted during ingestion")
    row.status, row.error, row.ingested_at = "ingested", None, now
    row.coverage, row.warning = coverage, warning
    collection.updated_at = now


def mark_failed(session: Session, source_id: int, error: str) -> None:
    """The source failed with `error` (nothing when it was deleted meanwhile)."""
    row = session.get(Source, source_id)
    if row is not None:
        row.status, row.error, row.warning = "failed", error, None


def source_state(session: Session, source_id: int) -> tuple[str, str | None, dt.datetime | None, int]:
    """(status, error, ingested_at, collection_id) of a source; LookupError if it does not exist."""
    source = session.get(Source, source_id)
    if source is None:
        raise LookupError(f"source {source_id} does not exist")
    return source.status, source.error, source.ingested_at, source.collection_id
