"""Website ingestion and document update flows against a real Prefect API, on SQLite and PostgreSQL.

Pages come from a loopback HTTP server (../shared/data/html and generated ones); the crawler is allowed
to reach 127.0.0.1 through its setting, as an operator would allow an internal network.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import SHARED_DATA
from prefect.artifacts import Artifact
from site_server import Page, html, serve
from sqlalchemy import select

from blocks.vectorstore import collection_name
from flows.documents import ingest_website, update_document
from store import documents as store
from store.models import Document, DocumentChunk, User
from tasks.documents.crawl import fetch_page_text
from tasks.documents.fetch import FetchFailed
from tasks.documents.save import chunk_id, delete_document
from tasks.documents.search import search_chunks
from tasks.runtime import utcnow

HTML = SHARED_DATA / "html"


@pytest.fixture
def allow_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NIGHTSHIFT_FETCH_ALLOWED_NETWORKS", "127.0.0.1/32")
    monkeypatch.setenv("NIGHTSHIFT_FETCH_READ_TIMEOUT", "1")


def make_user(profile) -> int:  # type: ignore[no-untyped-def]
    with profile.database.session() as session:
        user = User(name="Ada", email=f"ada-{utcnow().timestamp()}@example.com")
        session.add(user)
        session.flush()
        return user.id


def shared_page(name: str) -> Page:
    return Page((HTML / name).read_bytes(), content_type="text/html")  # no charset: detection at work


def site_pages() -> dict[str, Page]:
    links = ('<a href="/ideas.html">Ideas</a> <a href="/cp1252.html">Encodings</a> <a href="/de.html">DE</a>'
             ' <a href="/footer.html">Footer</a> <a href="/missing">Gone</a> <a href="/report.pdf">PDF</a>'
             ' <a href="mailto:team@example.org">Mail</a> <a href="https://example.com/">Elsewhere</a>')
    return {
        "/": html("Library", f"<h1>Our library</h1><p>Essays and reports we keep for the team.</p><p>{links}</p>"),
        "/ideas.html": shared_page("ideas-page.html"),
        "/cp1252.html": shared_page("fake-html-cp1252.html"),
        "/de.html": shared_page("fake-html-lang-de.html"),
        "/footer.html": shared_page("fake-html-with-footer-and-header.html"),
        "/report.pdf": Page(b"%PDF-1.4", content_type="application/pdf"),
    }


def chunks_of(profile, document_id: int) -> list[tuple[int, str, str, object]]:  # type: ignore[no-untyped-def]
    with profile.database.session() as session:
        rows = session.execute(
            select(DocumentChunk.position, DocumentChunk.text, DocumentChunk.content_hash, DocumentChunk.created_at)
            .where(DocumentChunk.document_id == document_id).order_by(DocumentChunk.position)).all()
    return [tuple(r) for r in rows]


def document(profile, document_id: int) -> Document:  # type: ignore[no-untyped-def]
    with profile.database.session() as session:
        return session.get(Document, document_id)


def vector_count(profile, owner: int, document_id: int) -> int:  # type: ignore[no-untyped-def]
    return profile.vector_store.count(collection_name(owner), where={"document_id": document_id})


def test_ingest_website_stores_every_page_and_reingest_reuses_embeddings(profile, allow_loopback) -> None:  # type: ignore[no-untyped-def]
    owner = make_user(profile)
    with serve(site_pages()) as site:
        outcome = ingest_website(site.origin + "/", owner, max_pages=100)
        by_url = {d.source_uri: d for d in outcome.documents}
        assert set(by_url) == {site.origin + p for p in ("/", "/ideas.html", "/cp1252.html", "/de.html", "/footer.html")}
        assert all(d.status == "ready" and d.chunks >= 1 and d.embedded == d.chunks for d in outcome.documents)
        assert outcome.pdf_links == [site.origin + "/report.pdf"]
        assert "/report.pdf" not in site.paths() and "/robots.txt" in site.paths()
        assert {s.url: s.reason for s in outcome.skipped}[site.origin + "/missing"] == "HTTP 404"
        for result in outcome.documents:
            assert document(profile, result.document_id).status == "ready"
            assert len(chunks_of(profile, result.document_id)) == result.chunks
            assert vector_count(profile, owner, result.document_id) == result.chunks
        de = chunks_of(profile, by_url[site.origin + "/de.html"].document_id)
        assert [text for _, text, _, _ in de] == ["Jahresabschluss zum Geschäftsjahr vom 01.01.2020 bis zum 31.12.2020"]
        encoded = " ".join(text for _, text, _, _ in chunks_of(profile, by_url[site.origin + "/cp1252.html"].document_id))
        assert "Die schöne Frau" in encoded and "15,50 €" in encoded
        footer = " ".join(text for _, text, _, _ in chunks_of(profile, by_url[site.origin + "/footer.html"].document_id))
        assert "Footer" not in footer

        [best, *_] = search_chunks(owner, "Where do new ideas come from? Notice anomalies and gaps in knowledge.")
        assert best.source_uri == site.origin + "/ideas.html"
        report = str(Artifact.get(f"ingest-website-user-{owner}").data)
        assert "PDF links noted: 1" in report and "HTTP 404" in report

        again = ingest_website(site.origin + "/", owner)
    assert {d.document_id for d in again.documents} == {d.document_id for d in outcome.documents}
    assert all(d.embedded == 0 and d.reused == d.chunks for d in again.documents)


def test_ingest_refuses_loopback_unless_allowed(profile) -> None:  # type: ignore[no-untyped-def]
    owner = make_user(profile)
    with serve(site_pages()) as site:
        state = ingest_website(site.origin + "/", owner, return_state=True)
        assert state.is_failed() and site.requests == []
    with profile.database.session() as session:
        [failed] = session.scalars(select(Document).where(Document.owner_user_id == owner)).all()
    assert failed.status == "failed" and "loopback" in failed.error and "NIGHTSHIFT_FETCH_ALLOWED_NETWORKS" in failed.error
    assert search_chunks(owner, "ideas") == []
    assert "refused to fetch" in str(Artifact.get(f"ingest-website-user-{owner}").data)


def paragraph(topic: str) -> str:
    sentence = f"This paragraph is about {topic} and explains it in plain words for the reader."
    return " ".join([sentence] * 9)  # ~700 characters: one chunk per paragraph


def add_text_document(profile, owner: int) -> int:  # type: ignore[no-untyped-def]
    with profile.database.session() as session:
        return store.add_document(session, owner, "text", "Notes", None, utcnow())


def test_text_update_re_embeds_only_changed_chunks_and_swaps_vectors(profile) -> None:  # type: ignore[no-untyped-def]
    owner = make_user(profile)
    document_id = add_text_document(profile, owner)
    topics = ["gardening tomatoes", "sailing boats", "baking bread", "chess openings"]
    first = update_document(document_id, "\n\n".join(paragraph(t) for t in topics))
    assert first.status == "ready" and first.chunks == 4 and first.embedded == 4
    before = chunks_of(profile, document_id)
    updated_at = document(profile, document_id).updated_at

    topics[1] = "mountain climbing"
    second = update_document(document_id, "\n\n".join(paragraph(t) for t in topics))
    assert (second.embedded, second.reused) == (1, 3)
    after = chunks_of(profile, document_id)
    assert [a[3] for i, a in enumerate(after) if i != 1] == [b[3] for i, b in enumerate(before) if i != 1]
    assert after[1][3] > before[1][3] and "mountain climbing" in after[1][1]
    assert document(profile, document_id).updated_at > updated_at
    assert vector_count(profile, owner, document_id) == 4
    [hit, *_] = search_chunks(owner, "sailing boats", k=4)
    assert "sailing" not in " ".join(h.text for h in search_chunks(owner, "sailing boats", k=4))
    assert hit.document_id == document_id

    third = update_document(document_id, paragraph("gardening tomatoes"))
    assert (third.chunks, third.embedded, third.reused) == (1, 0, 1)
    assert vector_count(profile, owner, document_id) == 1  # stale positions left the vector store


def test_vector_store_behind_the_database_is_hidden_then_repaired(profile) -> None:  # type: ignore[no-untyped-def]
    owner = make_user(profile)
    document_id = add_text_document(profile, owner)
    update_document(document_id, paragraph("ocean tides"))
    # A crash after the database swap but before the vector sync leaves an old vector in place.
    [(_, text, _, _)] = chunks_of(profile, document_id)
    stale = profile.embedder.embed(["volcanic eruptions"])[0]
    profile.vector_store.upsert(collection_name(owner), [chunk_id(document_id, 0)], [stale], ["volcanic eruptions"],
                                [{"document_id": document_id, "position": 0, "content_hash": "old"}])
    assert search_chunks(owner, "volcanic eruptions") == []  # the stale vector is never served
    update_document(document_id, paragraph("ocean tides"))  # re-running repairs it
    [hit] = search_chunks(owner, "volcanic eruptions")
    assert hit.text == text


def test_webpage_update_refetches_and_a_failed_fetch_changes_nothing(profile, allow_loopback) -> None:  # type: ignore[no-untyped-def]
    owner = make_user(profile)
    with serve({"/": html("Tides", f"<p>{paragraph('ocean tides')}</p><p>{paragraph('moon phases')}</p>")}) as site:
        [page] = ingest_website(site.origin + "/", owner, max_pages=1).documents
        site.pages["/"] = html("Tides", f"<p>{paragraph('ocean tides')}</p><p>{paragraph('coral reefs')}</p>")
        result = update_document(page.document_id)
        assert (result.embedded, result.reused) == (1, 1)
        before, doc_before = chunks_of(profile, page.document_id), document(profile, page.document_id)
        # Gone and empty pages fail at once (a 5xx or a timeout is retried first, then fails the same way).
        for broken in (Page(b"gone", status=404), Page(b"<html><body></body></html>", content_type="text/html")):
            site.pages["/"] = broken
            state = update_document(page.document_id, return_state=True)
            assert state.is_failed() and "keeps its chunks" in str(state.message)
            assert chunks_of(profile, page.document_id) == before
            after = document(profile, page.document_id)
            assert (after.status, after.updated_at, after.content_hash) == ("ready", doc_before.updated_at,
                                                                             doc_before.content_hash)
            assert vector_count(profile, owner, page.document_id) == 2


def test_deleted_documents_never_show_and_cannot_be_updated(profile) -> None:  # type: ignore[no-untyped-def]
    owner = make_user(profile)
    kept, deleted = add_text_document(profile, owner), add_text_document(profile, owner)
    update_document(kept, paragraph("desert plants"))
    update_document(deleted, paragraph("desert animals"))
    delete_document(deleted)
    hits = search_chunks(owner, "desert animals", k=5)
    assert [h.document_id for h in hits] == [kept]
    assert vector_count(profile, owner, deleted) == 0
    state = update_document(deleted, paragraph("desert animals"), return_state=True)
    assert state.is_failed() and "deleted" in str(state.message)


def test_server_errors_and_slow_pages_are_retryable_fetch_failures(allow_loopback) -> None:  # type: ignore[no-untyped-def]
    with serve({"/500": Page(b"oops", status=500), "/slow": Page(b"<p>late</p>", delay=30)}) as site:
        with pytest.raises(FetchFailed, match="HTTP 500") as server_error:
            fetch_page_text(site.origin + "/500")
        with pytest.raises(FetchFailed, match="timed out") as timeout:
            fetch_page_text(site.origin + "/slow")
    assert server_error.value.retryable and timeout.value.retryable


def vectors_match_database(profile, owner: int, document_id: int) -> bool:  # type: ignore[no-untyped-def]
    rows = chunks_of(profile, document_id)
    collection = collection_name(owner)
    return vector_count(profile, owner, document_id) == len(rows) and all(
        profile.vector_store.count(collection, where={"$and": [{"document_id": document_id}, {"position": position},
                                                               {"content_hash": digest}]}) == 1
        for position, _, digest, _ in rows
    )


def test_concurrent_updates_of_one_document_leave_both_stores_consistent(profile) -> None:  # type: ignore[no-untyped-def]
    owner = make_user(profile)
    document_id = add_text_document(profile, owner)
    update_document(document_id, paragraph("rivers"))
    texts = ["\n\n".join(paragraph(f"{topic} {i}") for i in range(n)) for topic, n in (("lakes", 5), ("glaciers", 2))]
    with ThreadPoolExecutor(2) as pool:
        states = list(pool.map(lambda text: update_document(document_id, text, return_state=True), texts))
    assert all(state.is_completed() for state in states)
    rows = chunks_of(profile, document_id)
    assert [p for p, *_ in rows] == list(range(len(rows)))
    winner = "lakes" if "lakes" in rows[0][1] else "glaciers"
    assert all(winner in text for _, text, _, _ in rows)  # one version, not a mix
    assert len(rows) == {"lakes": 5, "glaciers": 2}[winner]
    assert vectors_match_database(profile, owner, document_id)


def test_vectors_of_a_pending_document_are_not_served(profile) -> None:  # type: ignore[no-untyped-def]
    owner = make_user(profile)
    pending = add_text_document(profile, owner)
    vector = profile.embedder.embed(["northern lights"])[0]
    profile.vector_store.upsert(collection_name(owner), [chunk_id(pending, 0)], [vector], ["northern lights"],
                                [{"document_id": pending, "position": 0, "content_hash": "h"}])
    assert search_chunks(owner, "northern lights") == []


@pytest.mark.parametrize("profile", ["sqlite"], indirect=True)
def test_one_document_per_page_and_content_and_counts_that_match(profile, allow_loopback) -> None:  # type: ignore[no-untyped-def]
    """/ and /index.html are one page; the same page under another URL is stored once; the report counts
    every link it did not follow."""
    owner = make_user(profile)
    home = html("Tides", f"<p>{paragraph('ocean tides')}</p><a href='/index.html'>Home</a> <a href='/copy'>Copy</a>"
                         " <a href='/reefs'>Reefs</a> <a href='mailto:a@example.org'>Mail</a>"
                         " <a href='https://example.com/'>Elsewhere</a>")
    pages = {"/": home, "/index.html": home, "/copy": home,  # the same page served under another path
             "/reefs": html("Reefs", f"<p>{paragraph('coral reefs')}</p>")}
    with serve(pages) as site:
        outcome = ingest_website(site.origin + "/index.html", owner)
        assert sorted(d.source_uri for d in outcome.documents) == [site.origin + "/", site.origin + "/reefs"]
        assert {s.url: s.reason for s in outcome.skipped} == {site.origin + "/copy": f"same content as {site.origin}/"}
        assert "/index.html" in site.paths() and site.paths().count("/") == 0  # fetched once, as it was given
    hits = search_chunks(owner, "ocean tides", k=3)
    assert len({h.document_id for h in hits if "ocean tides" in h.text}) == 1
    report = str(Artifact.get(f"ingest-website-user-{owner}").data)
    assert "skipped: 1" in report and "links not followed: 2 (1 link to another site, 1 mailto: link)" in report


@pytest.mark.parametrize("profile", ["sqlite"], indirect=True)
def test_an_unchanged_page_is_neither_fetched_in_full_nor_re_embedded(profile, allow_loopback) -> None:  # type: ignore[no-untyped-def]
    owner = make_user(profile)
    page = html("Tides", f"<p>{paragraph('ocean tides')}</p><p>{paragraph('moon phases')}</p>")
    page.headers.update({"ETag": '"tides-1"'})
    with serve({"/": page}) as site:
        [stored] = ingest_website(site.origin + "/", owner, max_pages=1).documents
        before = document(profile, stored.document_id)
        assert before.etag == '"tides-1"'
        result = update_document(stored.document_id)
        assert result.unchanged and result.status == "ready" and result.embedded == 0
        assert site.requests[-1][1].get("if-none-match") == '"tides-1"'
        after = document(profile, stored.document_id)
        assert (after.updated_at, after.content_hash) == (before.updated_at, before.content_hash)
        assert "(unchanged)" in str(Artifact.get(f"update-document-{stored.document_id}").data)

        # A new version: fetched, re-chunked, only the changed chunk embedded, the new ETag kept.
        site.pages["/"] = html("Tides", f"<p>{paragraph('ocean tides')}</p><p>{paragraph('coral reefs')}</p>")
        site.pages["/"].headers.update({"ETag": '"tides-2"'})
        changed = update_document(stored.document_id)
        assert not changed.unchanged and (changed.embedded, changed.reused) == (1, 1)
        assert document(profile, stored.document_id).etag == '"tides-2"'
