"""Storing documents (spec 4, 5): embed new chunks, swap chunk sets, sync the vector store, delete.

The database is the source of truth. A document's chunk set is swapped in one transaction; the vector
store is then brought in line from the stored rows (ids "doc-{document_id}-{position}": a swap
overwrites positions in place and the stale ones are exactly the positions past the new count). The
sync is idempotent, so a failure between the two is repaired by retrying the task or re-running the
update; until then `search_chunks` drops hits whose content hash no longer matches the database, and hits
of documents that are not ready or were deleted.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Literal

from prefect import task
from pydantic import BaseModel

from blocks.profile import load_profile
from blocks.vectorstore import collection_name
from store import documents as store
from store.documents import ChunkRow
from tasks.documents.drafts import DocumentDraft
from tasks.runtime import utcnow
from tasks.text import content_hash

STORE_BATCH_DOCUMENTS = 20


class DocumentResult(BaseModel):
    document_id: int
    name: str
    source_uri: str | None = None
    status: Literal["ready", "failed"]
    chunks: int = 0
    embedded: int = 0
    reused: int = 0
    dropped: int = 0
    unchanged: bool = False  # an update found the page as stored: nothing fetched in full, stored or embedded
    error: str | None = None


def _store_run_name() -> str:
    from prefect.runtime import task_run

    drafts = task_run.parameters.get("drafts") or []
    first = getattr(drafts[0], "document_id", None) if drafts else None
    return f"store-documents-{first}" + (f"-and-{len(drafts) - 1}-more" if len(drafts) > 1 else "")


@task(name="store-documents", task_run_name=_store_run_name, retries=2, retry_delay_seconds=[5, 30])
def store_documents(drafts: list[DocumentDraft]) -> list[DocumentResult]:
    """Embed new chunks (reusing stored embeddings), swap each chunk set, sync vectors, mark ready."""
    profile = load_profile()
    rows, counts = embed_drafts(profile, drafts)
    now = utcnow()
    ids = [registered(d) for d in drafts]
    for d, document_id in zip(drafts, ids, strict=True):
        with profile.database.session() as session:  # one transaction per document: its swap
            store.replace_chunks(session, document_id, rows[document_id], d.content_hash, d.name, now)
            if d.kind == "webpage":
                store.set_validators(session, document_id, d.etag, d.last_modified)
    sync_vectors(profile, ids)
    with profile.database.session() as session:
        store.mark_ready(session, ids, utcnow())
    return [
        DocumentResult(document_id=document_id, name=d.name, source_uri=d.source_uri, status="ready",
                       chunks=len(d.chunks), embedded=counts[document_id][0], reused=counts[document_id][1],
                       dropped=d.dropped)
        for d, document_id in zip(drafts, ids, strict=True)
    ]


def registered(draft: DocumentDraft) -> int:
    """The draft's document id; a draft reaches storing only once registered (ValueError otherwise)."""
    if draft.document_id is None:
        raise ValueError(f"draft {draft.name!r} has no document: register it before storing it")
    return draft.document_id


def embed_drafts(profile: Any, drafts: list[DocumentDraft]) -> tuple[dict[int, list[ChunkRow]], dict[int, tuple[int, int]]]:
    """Chunk rows per document, embedding only chunks whose (document, content hash) has no embedding yet."""
    embedder = profile.embedder
    model = embedder.model_name
    ids = [registered(d) for d in drafts]
    with profile.database.session() as session:
        known = store.stored_embeddings(session, ids, model)
    rows: dict[int, list[ChunkRow]] = {}
    missing: list[ChunkRow] = []
    counts: dict[int, tuple[int, int]] = {}
    for d, document_id in zip(drafts, ids, strict=True):
        rows[document_id] = []
        for position, text in enumerate(d.chunks):
            digest = content_hash(text)
            old = known.get((document_id, digest))
            row = ChunkRow(position, text, digest, model, old.embedding if old else None,
                           old.created_at if old else None)
            rows[document_id].append(row)
            if old is None:
                missing.append(row)
        fresh = sum(r.embedding is None for r in rows[document_id])
        counts[document_id] = (fresh, len(d.chunks) - fresh)
    # One call across all documents of the batch: the embedder sorts and batches them itself.
    for row, vector in zip(missing, embedder.embed([r.text for r in missing]), strict=True):
        row.embedding = vector
    return rows, counts


def chunk_id(document_id: int, position: int) -> str:
    return f"doc-{document_id}-{position}"


def sync_vectors(profile: Any, document_ids: list[int]) -> None:
    """Make each document's vectors equal to its stored chunks: upsert every position, drop the rest."""
    with profile.database.session() as session:
        documents = {d: store.live_document(session, d) for d in document_ids}
        owners = {d: doc.owner_user_id for d, doc in documents.items()}
        meta = {d: (doc.kind, doc.name, doc.source_uri or "") for d, doc in documents.items()}
    by_owner: dict[int, list[int]] = defaultdict(list)
    for document_id, owner in owners.items():
        by_owner[owner].append(document_id)
    vectors = profile.vector_store
    for owner, ids in by_owner.items():
        collection = collection_name(owner)
        with vectors.writing(collection):
            for document_id in ids:
                # Read inside the lock: a later swap of the same document is never overwritten by this one.
                with profile.database.session() as session:
                    chunks = store.chunk_rows(session, document_id)
                kind, name, uri = meta[document_id]
                vectors.upsert(
                    collection,
                    ids=[chunk_id(document_id, c.position) for c in chunks],
                    embeddings=[c.embedding for c in chunks],
                    documents=[c.text for c in chunks],
                    metadatas=[{"document_id": document_id, "position": c.position, "content_hash": c.content_hash,
                                "kind": kind, "name": name, "source_uri": uri} for c in chunks],
                )
                vectors.delete(collection, where={"$and": [{"document_id": document_id},
                                                           {"position": {"$gte": len(chunks)}}]})


@task(name="fail-documents", retries=2, retry_delay_seconds=[2, 10])
def fail_documents(document_ids: list[int], error: str) -> None:
    """Pending documents whose storing failed become failed, with the error (ready ones stay as they were)."""
    with load_profile().database.session() as session:
        store.mark_failed(session, document_ids, error, utcnow())


@task(name="delete-document", retries=2, retry_delay_seconds=[2, 10])
def delete_document(document_id: int) -> None:
    """Soft-delete the document and drop its vectors (searches skip it even before the vectors go)."""
    profile = load_profile()
    with profile.database.session() as session:
        owner = store.soft_delete(session, document_id, utcnow())
    collection = collection_name(owner)
    with profile.vector_store.writing(collection):
        profile.vector_store.delete(collection, where={"document_id": document_id})
