"""Website ingestion and document update steps (spec 4, 5): crawl, chunk, embed, store, sync vectors.

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
from urllib.parse import urlsplit

from prefect import task
from prefect.artifacts import create_markdown_artifact
from pydantic import BaseModel, Field

from blocks.profile import load_profile
from blocks.vectorstore import collection_name
from store import documents as store
from store.documents import ChunkRow
from store.pdf_sources import ingested_sources
from tasks.reports import markdown_cell
from tasks.runtime import run_logger, utcnow
from tasks.text import content_hash, extract_main_text, find_links, split_into_chunks
from tasks.web import (
    Crawl,
    FetchedPage,
    Fetcher,
    FetchFailed,
    FetchRefused,
    crawl,
    load_robots,
    normalize_url,
)

STORE_BATCH_DOCUMENTS = 20


class PageText(BaseModel):
    url: str
    title: str
    text: str
    language: str | None = None


class SkippedUrl(BaseModel):
    url: str
    reason: str


class CrawledSite(BaseModel):
    start_url: str
    pages: list[PageText] = Field(default_factory=list)
    skipped: list[SkippedUrl] = Field(default_factory=list)
    pdf_links: list[str] = Field(default_factory=list)


class DocumentDraft(BaseModel):
    """A document's new content, chunked and filtered, not yet embedded or stored."""

    document_id: int | None = None
    kind: Literal["webpage", "text"]
    name: str
    source_uri: str | None
    content_hash: str
    chunks: list[str]
    dropped: int = 0


class DocumentResult(BaseModel):
    document_id: int
    name: str
    source_uri: str | None = None
    status: Literal["ready", "failed"]
    chunks: int = 0
    embedded: int = 0
    reused: int = 0
    dropped: int = 0
    error: str | None = None


# --- crawl and text -----------------------------------------------------------------------------------


def _crawl_run_name() -> str:
    from prefect.runtime import task_run

    return f"crawl-{urlsplit(str(task_run.parameters.get('url', ''))).hostname or 'site'}"


@task(name="crawl-website", task_run_name=_crawl_run_name, timeout_seconds=3600)
def crawl_website(url: str, max_pages: int) -> CrawledSite:
    """Fetch same-site pages breadth-first (robots.txt, SSRF guard) and keep each page's main text."""
    pages: list[PageText] = []

    def handle(page: FetchedPage) -> list[str]:
        text = extract_main_text(page.html, page.charset, page.url)
        pages.append(PageText(url=page.url, title=text.title, text=text.text, language=text.language))
        return find_links(page.html, page.charset, page.url)

    result: Crawl = crawl(url, max_pages, handle)
    skipped = [SkippedUrl(url=u, reason=r) for u, r in result.skipped]
    kept = [p for p in pages if p.text.strip()]
    skipped += [SkippedUrl(url=p.url, reason="no text found on the page") for p in pages if not p.text.strip()]
    run_logger().info("crawled %s: %d pages with text, %d skipped, %d PDF links",
                      result.start_url, len(kept), len(skipped), len(result.pdf_links))
    return CrawledSite(start_url=result.start_url, pages=kept, skipped=skipped, pdf_links=result.pdf_links)


def fetch_page_text(url: str) -> PageText:
    """One page's main text for an update; raise (changing nothing) when it cannot be fetched or is empty."""
    with Fetcher() as fetcher:
        if not load_robots(fetcher, url).can_fetch(fetcher.settings.user_agent, normalize_url(url)):
            raise FetchRefused(f"{url}: disallowed by robots.txt")
        response = fetcher.get(url)
    if response.status >= 400:
        retryable = response.status in (408, 425, 429) or response.status >= 500
        raise FetchFailed(f"{url}: HTTP {response.status}; the document keeps its chunks", retryable)
    if response.content_type not in ("text/html", "application/xhtml+xml", ""):
        raise FetchFailed(f"{url}: not an HTML page ({response.content_type})", retryable=False)
    text = extract_main_text(response.body, response.charset, response.url)
    if not text.text.strip():
        raise FetchFailed(f"{url}: no text found on the page; the document keeps its chunks", retryable=False)
    return PageText(url=url, title=text.title, text=text.text, language=text.language)


def draft(kind: Literal["webpage", "text"], name: str, source_uri: str | None, text: str,
          relevant: list[bool] | None = None, document_id: int | None = None) -> DocumentDraft:
    """Chunks of `text`, without those flagged as not relevant."""
    chunks = split_into_chunks(text)
    flags = relevant if relevant is not None else [True] * len(chunks)
    kept = [chunk for chunk, keep in zip(chunks, flags, strict=True) if keep]
    return DocumentDraft(document_id=document_id, kind=kind, name=name, source_uri=source_uri,
                         content_hash=content_hash(text), chunks=kept, dropped=len(chunks) - len(kept))


@task(name="chunk-pages", retries=2, retry_delay_seconds=[5, 30])
def chunk_pages(pages: list[PageText], document_ids: list[int | None] | None = None) -> list[DocumentDraft]:
    """Split each page into chunks and drop the boilerplate ones (the LLM block's relevance check)."""
    llm = load_profile().llm
    ids = document_ids or [None] * len(pages)
    drafts = []
    for page, document_id in zip(pages, ids, strict=True):
        chunks = split_into_chunks(page.text)
        flags = llm.relevant_chunks(page.title, chunks) if chunks else []
        drafts.append(draft("webpage", page.title or page.url, page.url, page.text, flags, document_id))
    return drafts


@task(name="register-documents", retries=2, retry_delay_seconds=[2, 10])
def register_documents(owner_user_id: int, drafts: list[DocumentDraft]) -> list[DocumentDraft]:
    """Give each page its document: the owner's live one for that URL, else a new pending one.

    Pages left without chunks (all boilerplate) get none: a document is never stored empty.
    """
    now = utcnow()
    for empty in (d for d in drafts if not d.chunks):
        run_logger().warning("%s: every chunk was boilerplate; not stored", empty.source_uri)
    with load_profile().database.session() as session:
        return [
            d.model_copy(update={"document_id": store.claim_webpage(session, owner_user_id, d.source_uri or "",
                                                                    d.name, now)})
            for d in drafts
            if d.chunks
        ]


@task(name="record-failed-document", retries=2, retry_delay_seconds=[2, 10])
def record_failed_document(owner_user_id: int, url: str, error: str) -> int:
    """A failed webpage document for a URL that gave nothing, so the owner sees why."""
    now = utcnow()
    with load_profile().database.session() as session:
        document_id = store.claim_webpage(session, owner_user_id, url, url, now)
        store.mark_failed(session, [document_id], error, now)
    return document_id


# --- embed, store, sync -----------------------------------------------------------------------------


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
    ids = [d.document_id for d in drafts if d.document_id is not None]
    for d in drafts:
        with profile.database.session() as session:  # one transaction per document: its swap
            store.replace_chunks(session, d.document_id, rows[d.document_id], d.content_hash, d.name, now)
    sync_vectors(profile, ids)
    with profile.database.session() as session:
        store.mark_ready(session, ids, utcnow())
    return [
        DocumentResult(document_id=d.document_id, name=d.name, source_uri=d.source_uri, status="ready",
                       chunks=len(d.chunks), embedded=counts[d.document_id][0], reused=counts[d.document_id][1],
                       dropped=d.dropped)
        for d in drafts
    ]


def embed_drafts(profile: Any, drafts: list[DocumentDraft]) -> tuple[dict[int, list[ChunkRow]], dict[int, tuple[int, int]]]:
    """Chunk rows per document, embedding only chunks whose (document, content hash) has no embedding yet."""
    embedder = profile.embedder
    model = embedder.model_name
    ids = [d.document_id for d in drafts]
    with profile.database.session() as session:
        known = store.stored_embeddings(session, ids, model)
    rows: dict[int, list[ChunkRow]] = {}
    missing: list[ChunkRow] = []
    counts: dict[int, tuple[int, int]] = {}
    for d in drafts:
        rows[d.document_id] = []
        for position, text in enumerate(d.chunks):
            digest = content_hash(text)
            old = known.get((d.document_id, digest))
            row = ChunkRow(position, text, digest, model, old.embedding if old else None,
                           old.created_at if old else None)
            rows[d.document_id].append(row)
            if old is None:
                missing.append(row)
        fresh = sum(r.embedding is None for r in rows[d.document_id])
        counts[d.document_id] = (fresh, len(d.chunks) - fresh)
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


# --- update -------------------------------------------------------------------------------------------


def _worth_retrying(task: Any, task_run: Any, state: Any) -> bool:
    """A refused URL, a gone page, a missing document or a bad argument fails the same way every time."""
    error = state.result(raise_on_failure=False)
    return getattr(error, "retryable", True) and not isinstance(error, (FetchRefused, LookupError, ValueError))


@task(name="load-new-content", retries=2, retry_delay_seconds=[5, 30], retry_condition_fn=_worth_retrying)
def load_new_content(document_id: int, text: str | None) -> DocumentDraft:
    """The document's new content: the given text (text documents) or the page fetched again (webpages)."""
    with load_profile().database.session() as session:
        document = store.live_document(session, document_id)
        kind, name, uri = document.kind, document.name, document.source_uri
    if kind == "text":
        if text is None or not text.strip():
            raise ValueError(f"document {document_id} is a text document: pass its new, non-empty text")
        return draft("text", name, uri, text, document_id=document_id)
    if kind != "webpage":
        raise ValueError(f"document {document_id} is a {kind} document: update it with its own flow")
    if text is not None:
        raise ValueError(f"document {document_id} is a webpage: it is fetched again, do not pass text")
    page = fetch_page_text(uri or "")
    chunks = split_into_chunks(page.text)
    new = draft("webpage", page.title or name, uri, page.text, load_profile().llm.relevant_chunks(page.title, chunks),
                document_id)
    if not new.chunks:
        raise FetchFailed(f"{uri}: only boilerplate left on the page; document {document_id} keeps its chunks",
                          retryable=False)
    return new


# --- reading and deleting -----------------------------------------------------------------------------


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


@task(name="delete-document", retries=2, retry_delay_seconds=[2, 10])
def delete_document(document_id: int) -> None:
    """Soft-delete the document and drop its vectors (searches skip it even before the vectors go)."""
    profile = load_profile()
    with profile.database.session() as session:
        owner = store.soft_delete(session, document_id, utcnow())
    collection = collection_name(owner)
    with profile.vector_store.writing(collection):
        profile.vector_store.delete(collection, where={"document_id": document_id})


# --- report -------------------------------------------------------------------------------------------


def report_markdown(title: str, results: list[DocumentResult], site: CrawledSite | None = None) -> str:
    """The run's artifact: each document with its chunk counts, and what the crawl skipped or noted."""
    failed = [r for r in results if r.status == "failed"]
    chunks = (f"- chunks: {sum(r.chunks for r in results)} stored, {sum(r.embedded for r in results)} embedded, "
              f"{sum(r.reused for r in results)} reused, {sum(r.dropped for r in results)} dropped as boilerplate")
    lines = [f"# {title}", "", f"- documents: {len(results)} ({len(failed)} failed)", chunks]
    if site is not None:
        lines.append(f"- start: {site.start_url}; pages with text: {len(site.pages)}; "
                     f"skipped: {len(site.skipped)}; PDF links noted: {len(site.pdf_links)}")
    lines.append("")
    lines += ["| document | status | chunks | embedded | reused | dropped | source | error |",
              "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r.document_id} | {r.status} | {r.chunks} | {r.embedded} | {r.reused} | {r.dropped} | "
              f"{markdown_cell(r.source_uri or r.name)} | {markdown_cell(r.error or '')} |" for r in results]
    if site is not None and site.skipped:
        lines += ["", "## Skipped", "", "| url | reason |", "|---|---|"]
        lines += [f"| {markdown_cell(s.url)} | {markdown_cell(s.reason)} |" for s in site.skipped[:100]]
    if site is not None and site.pdf_links:
        lines += ["", "## PDF links (not crawled as HTML; ingest them as PDFs)", ""]
        lines += [f"- {u}" for u in site.pdf_links[:100]]
    return "\n".join(lines)



@task(name="publish-documents-report")
def publish_documents_report(markdown: str, key: str) -> None:
    create_markdown_artifact(markdown=markdown, key=key, description="Documents stored, chunk counts, skipped URLs")
