"""Collections and PDF sources: the rows PDF ingestion reads, created idempotently for uploads and demos."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import Collection, Source


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
