"""Search across an owner's documents and PDFs: both kinds of vectors live in one collection.

Hits are ranked by the embedder and BM25 together (reciprocal rank fusion): a query naming a rare place
or person finds the passage holding it, where the English sentence model alone ranks it below the top 5.
"""

from __future__ import annotations

import pytest
from conftest import SHARED_DATA
from site_server import Page, serve

from flows.documents import ingest_website, update_document
from flows.pdf import ingest_pdf
from store import documents as store
from store.models import User
from store.sources import ensure_collection, ensure_source, source_object_key
from tasks.documents.rank import bm25_scores, reciprocal_rank_fusion, terms
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


# Places and a person in ISW's assessment of December 13, 2022 (../shared/data/html/example-with-scripts.html),
# each named in one passage of it.
RARE_NAMES = [("Where is Kurdiumivka?", "Kurdiumivka"), ("Bilohorivka", "Bilohorivka"), ("Mykolaiv", "Mykolaiv"),
              ("Hatava", "Hatava")]


@pytest.mark.parametrize("profile", ["sqlite"], indirect=True)
def test_a_rare_name_finds_its_passage_first(profile, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """The embedder alone ranks each name's passage below 5 of the page's ~50; with BM25 fused in it comes first."""
    monkeypatch.setenv("NIGHTSHIFT_FETCH_ALLOWED_NETWORKS", "127.0.0.1/32")
    with profile.database.session() as session:
        user = User(name="Ada", email="ada@example.com", timezone="UTC")
        session.add(user)
        session.flush()
        owner = user.id
    page = Page((SHARED_DATA / "html" / "example-with-scripts.html").read_bytes(), content_type="text/html")
    with serve({"/": page}) as site:
        [stored] = ingest_website(site.origin + "/", owner).documents
    assert stored.chunks >= 40

    for query, name in RARE_NAMES:
        dense = search_chunks(owner, query, k=5, fusion=False)
        hits = search_chunks(owner, query, k=5)
        assert not any(name in h.text for h in dense), (query, [h.text[:60] for h in dense])
        assert name in hits[0].text, (query, [h.text[:60] for h in hits])
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
        assert {h.document_id for h in hits} == {stored.document_id}


def test_terms_compare_words_across_endings_and_scripts() -> None:
    """Plural and -ed/-ing endings match; Korean particles do not hide a word; NFKC unfolds ligatures."""
    assert terms("LayoutParser installed via pip") == terms("layoutparser installs via PIP")
    assert set(terms("빅포인트")) <= set(terms("적립되는 빅포인트는 몇 퍼센트인가요?"))
    assert terms("ﬁnding") == terms("finding")


def test_bm25_weighs_the_word_few_candidates_hold_and_fusion_keeps_both_orders() -> None:
    passages = ["Dense retrieval with BERT encoders.", "Dense retrieval indexes passages with FAISS.",
                "Dense retrieval beats BM25."]
    scores = bm25_scores("dense retrieval with FAISS", passages)
    assert max(range(3), key=scores.__getitem__) == 1 and min(scores) > 0
    assert bm25_scores("kuchen", passages) == [0.0, 0.0, 0.0]
    assert list(reciprocal_rank_fusion([["a", "b", "c"], ["c", "a"]])) == ["a", "c", "b"]
