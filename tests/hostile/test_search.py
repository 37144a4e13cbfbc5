"""Search across an owner's documents and PDFs: both kinds of vectors live in one collection."""

from __future__ import annotations

import pytest
from conftest import SHARED_DATA

from flows.documents import update_document
from flows.pdf import ingest_pdf
from store import documents as store
from store.models import User
from store.sources import ensure_collection, ensure_source, source_object_key
from tasks.documents.search import search_chunks
from tasks.runtime import utcnow

NOTES = ("Layout detection finds the regions of a scanned page: text blocks, titles, tables and figures. "
         "Our notes compare deep learning models for document image analysis.")


@pytest.mark.parametrize("profile", ["postgres"], indirect=True)
def test_search_returns_document_and_pdf_passages(profile) -> None:  # type: ignore[no-untyped-def]
    """search_chunks raised KeyError: 'document_id' as soon as the owner's collection held PDF vectors."""
    for collection in profile.vector_store.collections():
        profile.vector_store.drop(collection)
    with profile.database.session() as session:
        user = User(name="Ada", email="ada@example.com", timezone="UTC")
        session.add(user)
        session.flush()
        owner = user.id
        document_id = store.add_document(session, owner, "text", "notes", None, utcnow())
        collection_id = ensure_collection(session, owner, "papers")
        key = source_object_key(owner, collection_id, "paper.pdf")
        profile.storage.put_bytes(key, (SHARED_DATA / "pdf" / "layout-parser-paper-fast.pdf").read_bytes())
        source_id = ensure_source(session, collection_id, "paper.pdf", key)
    assert update_document(document_id, text=NOTES).status == "ready"
    assert ingest_pdf(collection_id, source_id).status == "ingested"

    hits = search_chunks(owner, "deep learning models for layout detection in document images", k=10)

    kinds = {("pdf" if h.source_id else "document") for h in hits}
    assert kinds == {"pdf", "document"}, hits
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert all(h.name == "paper.pdf" for h in hits if h.source_id == source_id)
    assert all(h.name == "notes" for h in hits if h.document_id == document_id)
