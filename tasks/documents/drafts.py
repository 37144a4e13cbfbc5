"""Pages and texts to document drafts: chunks with the boilerplate dropped, each draft given its document."""

from __future__ import annotations

from typing import Any, Literal

from prefect import task
from pydantic import BaseModel

from blocks.profile import load_profile
from store import documents as store
from tasks.documents.crawl import PageText, fetch_page_text
from tasks.documents.fetch import FetchFailed, FetchRefused, Validators
from tasks.runtime import run_logger, utcnow
from tasks.text import content_hash, split_into_chunks


class DocumentDraft(BaseModel):
    """A document's new content, chunked and filtered, not yet embedded or stored."""

    document_id: int | None = None
    kind: Literal["webpage", "text"]
    name: str
    source_uri: str | None
    content_hash: str
    chunks: list[str]
    dropped: int = 0
    etag: str | None = None  # the page's validators as fetched (webpages)
    last_modified: str | None = None
    unchanged: bool = False  # an update found the page as stored (304, or the same text): nothing to store


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
        drafts.append(draft("webpage", page.title or page.url, page.url, page.text, flags, document_id)
                      .model_copy(update={"etag": page.etag, "last_modified": page.last_modified}))
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


def _worth_retrying(task: Any, task_run: Any, state: Any) -> bool:
    """A refused URL, a gone page, a missing document or a bad argument fails the same way every time."""
    error = state.result(raise_on_failure=False)
    return getattr(error, "retryable", True) and not isinstance(error, (FetchRefused, LookupError, ValueError))


@task(name="load-new-content", retries=2, retry_delay_seconds=[5, 30], retry_condition_fn=_worth_retrying)
def load_new_content(document_id: int, text: str | None) -> DocumentDraft:
    """The document's new content: the given text (text documents) or the page fetched again (webpages)."""
    with load_profile().database.session() as session:
        document = store.live_document(session, document_id)
        kind, name, uri, stored_hash = document.kind, document.name, document.source_uri, document.content_hash
        validators = Validators(document.etag, document.last_modified)
    if kind == "text":
        if text is None or not text.strip():
            raise ValueError(f"document {document_id} is a text document: pass its new, non-empty text")
        return draft("text", name, uri, text, document_id=document_id)
    if kind != "webpage":
        raise ValueError(f"document {document_id} is a {kind} document: update it with its own flow")
    if text is not None:
        raise ValueError(f"document {document_id} is a webpage: it is fetched again, do not pass text")
    page = fetch_page_text(uri or "", validators)
    if page is None or content_hash(page.text) == stored_hash:  # 304 Not Modified, or the same text
        run_logger().info("document %s: %s is unchanged; nothing re-embedded", document_id, uri)
        return DocumentDraft(document_id=document_id, kind="webpage", name=name, source_uri=uri,
                             content_hash=stored_hash or "", chunks=[], unchanged=True)
    chunks = split_into_chunks(page.text)
    new = draft("webpage", page.title or name, uri, page.text, load_profile().llm.relevant_chunks(page.title, chunks),
                document_id).model_copy(update={"etag": page.etag, "last_modified": page.last_modified})
    if not new.chunks:
        raise FetchFailed(f"{uri}: only boilerplate left on the page; document {document_id} keeps its chunks",
                          retryable=False)
    return new
