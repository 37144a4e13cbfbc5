"""Search (spec 4, 6): the owner's best current chunks, from ready documents and ingested PDF sources."""

from __future__ import annotations

from pydantic import BaseModel

from blocks.profile import load_profile
from blocks.vectorstore import collection_name
from store import documents as store
from store.sources import ingested_sources


class ChunkHit(BaseModel):
    """A passage of a document (webpage, text) or of a PDF source: one of the two ids is set."""

    document_id: int | None = None
    source_id: int | None = None
    position: int
    score: float
    text: str
    name: str
    source_uri: str | None


def search_chunks(owner_user_id: int, query: str, k: int = 5) -> list[ChunkHit]:
    """The owner's best chunks for `query`: current chunks of ready documents and of ingested PDF sources.

    A PDF's vectors are written before its source is marked ingested; until then (or when marking it
    failed) they are not shown.
    """
    profile = load_profile()
    [embedding] = profile.embedder.embed([query])
    hits = profile.vector_store.query(collection_name(owner_user_id), embedding, k=k * 3 + 5)
    documents = [h for h in hits if "document_id" in h.metadata]
    keys = [(int(h.metadata["document_id"]), int(h.metadata["position"])) for h in documents]
    with profile.database.session() as session:
        current = store.visible_chunks(session, keys)
        ingested = ingested_sources(session, {int(h.metadata["source_id"]) for h in hits if "source_id" in h.metadata})
    results = []
    for hit in hits:
        meta = hit.metadata
        if "document_id" in meta:
            key = (int(meta["document_id"]), int(meta["position"]))
            if current.get(key) == meta.get("content_hash"):
                results.append(ChunkHit(document_id=key[0], position=key[1], score=hit.score, text=hit.document,
                                        name=str(meta.get("name", "")), source_uri=meta.get("source_uri") or None))
        elif "source_id" in meta and int(meta["source_id"]) in ingested:
            results.append(ChunkHit(source_id=int(meta["source_id"]), position=int(meta["position"]), score=hit.score,
                                    text=hit.document, name=str(meta.get("filename", "")), source_uri=None))
    return results[:k]
