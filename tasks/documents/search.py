"""Search (spec 4, 6): the owner's best current chunks, from ready documents and ingested PDF sources.

Ranking is hybrid: the embedder's nearest chunks are the candidates, and their order is fused (reciprocal
rank fusion) with a BM25 order of the same candidates (tasks.documents.rank). The dense order finds
passages that say the same thing in other words; the lexical one brings up the passage that holds the
query's names, numbers and rare words, which the English sentence model places poorly.
"""

from __future__ import annotations

from pydantic import BaseModel

from blocks.profile import load_profile
from blocks.vectorstore import collection_name
from store import documents as store
from store.sources import ingested_sources
from tasks.documents.rank import bm25_scores, reciprocal_rank_fusion

# Dense candidates re-ranked per query: wide enough that a passage holding the query's rare words is
# among them, small enough that BM25 over them costs a few milliseconds.
CANDIDATES = 100


class ChunkHit(BaseModel):
    """A passage of a document (webpage, text) or of a PDF source: one of the two ids is set.

    `score` is the fused rank score hits are ordered by; `similarity` the cosine of query and passage.
    """

    document_id: int | None = None
    source_id: int | None = None
    position: int
    score: float
    similarity: float
    text: str
    name: str
    source_uri: str | None


def search_chunks(owner_user_id: int, query: str, k: int = 5, *, fusion: bool = True) -> list[ChunkHit]:
    """The owner's best chunks for `query`: current chunks of ready documents and of ingested PDF sources.

    A PDF's vectors are written before its source is marked ingested; until then (or when marking it
    failed) they are not shown. `fusion=False` orders by the embedder alone (bench/retrieval.py compares).
    """
    profile = load_profile()
    [embedding] = profile.embedder.embed([query])
    wanted = max(CANDIDATES, k * 3 + 5) if fusion else k * 3 + 5  # beyond k: some may not be shown
    hits = profile.vector_store.query(collection_name(owner_user_id), embedding, k=wanted)
    documents = [h for h in hits if "document_id" in h.metadata]
    keys = [(int(h.metadata["document_id"]), int(h.metadata["position"])) for h in documents]
    with profile.database.session() as session:
        current = store.visible_chunks(session, keys)
        ingested = ingested_sources(session, {int(h.metadata["source_id"]) for h in hits if "source_id" in h.metadata})
    visible = []  # in the dense order
    for hit in hits:
        meta = hit.metadata
        if "document_id" in meta:
            key = (int(meta["document_id"]), int(meta["position"]))
            if current.get(key) == meta.get("content_hash"):
                visible.append(ChunkHit(document_id=key[0], position=key[1], score=0.0, similarity=hit.score,
                                        text=hit.document, name=str(meta.get("name", "")),
                                        source_uri=meta.get("source_uri") or None))
        elif "source_id" in meta and int(meta["source_id"]) in ingested:
            visible.append(ChunkHit(source_id=int(meta["source_id"]), position=int(meta["position"]), score=0.0,
                                    similarity=hit.score, text=hit.document, name=str(meta.get("filename", "")),
                                    source_uri=None))
    if not fusion:
        return [h.model_copy(update={"score": h.similarity}) for h in visible[:k]]
    lexical = bm25_scores(query, [h.text for h in visible])
    by_words = [i for i in sorted(range(len(visible)), key=lambda i: -lexical[i]) if lexical[i] > 0]
    fused = reciprocal_rank_fusion([list(range(len(visible))), by_words])
    return [visible[i].model_copy(update={"score": score}) for i, score in list(fused.items())[:k]]
