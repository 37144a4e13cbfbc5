"""Queries of the recommender: publications, cached sentence embeddings, versions (sessions from the caller)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from store.db import insert_for
from store.models import Publication, RecommenderVersion, SentenceEmbedding

# Bound parameters per IN (...) query: well below SQLite's and psycopg2's limits.
IN_CHUNK = 500
# Written exactly like the partial index's predicate: SQLite uses the index only then ("= 1" scans).
IS_CURRENT = text("recommender_version.is_current")


def publication_texts(session: Session, batch_size: int = 1000) -> Iterator[tuple[int, str]]:
    """(id, title + abstract + body) of every publication, by id, read in batches."""
    last_id = 0
    while True:
        rows = session.execute(
            select(Publication.id, Publication.title, Publication.abstract, Publication.body)
            .where(Publication.id > last_id)
            .order_by(Publication.id)
            .limit(batch_size)
        ).all()
        if not rows:
            return
        for id_, title, abstract, body in rows:
            yield id_, "\n".join(part for part in (title, abstract, body) if part)
        last_id = rows[-1][0]


def publication_titles(session: Session, ids: Sequence[int]) -> dict[int, str]:
    titles: dict[int, str] = {}
    for start in range(0, len(ids), IN_CHUNK):
        chunk = list(ids[start : start + IN_CHUNK])
        titles.update(
            session.execute(select(Publication.id, Publication.title).where(Publication.id.in_(chunk)))
            .tuples()
            .all()
        )
    return titles


def ensure_publications(session: Session, titled_bodies: Sequence[tuple[str, str]]) -> list[int]:
    """Insert the (title, body) publications whose title is not stored yet; the ids of all, in order."""
    known = dict(session.execute(select(Publication.title, Publication.id)).tuples().all())
    new = [Publication(title=title, body=body) for title, body in dict(titled_bodies).items() if title not in known]
    session.add_all(new)
    session.flush()
    known.update({p.title: p.id for p in new})
    return [known[title] for title, _ in titled_bodies]


def publication_bodies(session: Session, ids: Sequence[int]) -> dict[int, str]:
    """{id: body} of these publications (an empty string for a publication without a body)."""
    bodies: dict[int, str] = {}
    for start in range(0, len(ids), IN_CHUNK):
        chunk = list(ids[start : start + IN_CHUNK])
        rows = session.execute(select(Publication.id, Publication.body).where(Publication.id.in_(chunk)))
        bodies.update((id_, body or "") for id_, body in rows)
    return bodies


def set_publication_bodies(session: Session, bodies: dict[int, str]) -> None:
    """Replace the body of each publication in `bodies`, in one bulk UPDATE by primary key."""
    if bodies:
        session.execute(update(Publication), [{"id": id_, "body": body} for id_, body in bodies.items()])


def stored_embeddings(session: Session, model_name: str, hashes: Iterable[str]) -> dict[str, bytes]:
    """{content hash: float32 bytes} of the sentences already embedded with `model_name`."""
    hashes = list(hashes)
    found: dict[str, bytes] = {}
    for start in range(0, len(hashes), IN_CHUNK):
        chunk = hashes[start : start + IN_CHUNK]
        found.update(
            session.execute(
                select(SentenceEmbedding.content_hash, SentenceEmbedding.vector).where(
                    SentenceEmbedding.model_name == model_name, SentenceEmbedding.content_hash.in_(chunk)
                )
            )
            .tuples()
            .all()
        )
    return found


def embedded_hashes(session: Session, model_name: str, hashes: Iterable[str]) -> set[str]:
    """The content hashes, among `hashes`, already embedded with `model_name` (no vectors read)."""
    hashes = list(hashes)
    found: set[str] = set()
    for start in range(0, len(hashes), IN_CHUNK):
        found.update(
            session.scalars(
                select(SentenceEmbedding.content_hash).where(
                    SentenceEmbedding.model_name == model_name,
                    SentenceEmbedding.content_hash.in_(hashes[start : start + IN_CHUNK]),
                )
            )
        )
    return found


def save_embeddings(
    session: Session, model_name: str, dim: int, vectors: dict[str, bytes], now: dt.datetime
) -> None:
    """Store new embeddings; one stored meanwhile by another build is kept (same hash, same model)."""
    rows: list[dict[str, Any]] = [
        {"content_hash": h, "model_name": model_name, "dim": dim, "vector": v, "created_at": now}
        for h, v in vectors.items()
    ]
    for start in range(0, len(rows), IN_CHUNK):
        session.execute(
            insert_for(session)(SentenceEmbedding)
            .values(rows[start : start + IN_CHUNK])
            .on_conflict_do_nothing(index_elements=["content_hash", "model_name"])
        )


def current_version(session: Session) -> tuple[int, str] | None:
    """(id, checksum) of the current version: one lookup on the partial unique index."""
    row = session.execute(
        select(RecommenderVersion.id, RecommenderVersion.checksum).where(IS_CURRENT)
    ).first()
    return (row[0], row[1]) if row else None


def current_version_row(session: Session) -> RecommenderVersion | None:
    return session.scalar(select(RecommenderVersion).where(IS_CURRENT))


def publish_version(session: Session, version: dict[str, Any]) -> int:
    """Record a version and make it the only current one, in the caller's single transaction.

    Readers see the old version or the new one, never none: both statements commit together, and
    the partial unique index rejects a second current row should two flips ever race. A retry after
    a lost commit acknowledgement finds its row by checksum instead of adding a second one.
    """
    known = session.scalar(
        select(RecommenderVersion.id).where(RecommenderVersion.checksum == version["checksum"])
    )
    session.execute(update(RecommenderVersion).where(IS_CURRENT).values(is_current=False))
    if known is not None:
        session.execute(
            update(RecommenderVersion).where(RecommenderVersion.id == known).values(is_current=True)
        )
        return known
    row = RecommenderVersion(**version, is_current=True)
    session.add(row)
    session.flush()
    return row.id
