"""Website ingestion (spec 4) and document update (spec 5)."""

from __future__ import annotations

from typing import cast
from urllib.parse import urlsplit

from prefect import flow
from prefect.client.schemas.objects import State
from prefect.runtime import flow_run
from pydantic import BaseModel

from tasks.documents.crawl import SkippedUrl, crawl_website
from tasks.documents.drafts import (
    DocumentDraft,
    chunk_pages,
    load_new_content,
    record_failed_document,
    register_documents,
)
from tasks.documents.report import REPORT_DESCRIPTION, report_markdown
from tasks.documents.save import STORE_BATCH_DOCUMENTS, DocumentResult, fail_documents, store_documents
from tasks.fanout import fan_out, raise_for_failures
from tasks.reports import publish_report


class IngestionFailed(RuntimeError):
    """Some documents could not be stored; they are marked failed with the error, the others are ready."""


class IngestOutcome(BaseModel):
    """What one website ingestion did (page texts stay out: this is the run's persisted result)."""

    start_url: str
    owner_user_id: int
    documents: list[DocumentResult]
    skipped: list[SkippedUrl]
    pdf_links: list[str]


def _website_run_name() -> str:
    parameters = flow_run.parameters
    host = urlsplit(str(parameters.get("url", ""))).hostname or "site"
    return f"ingest-website-{host}-user-{parameters.get('owner_user_id')}"


@flow(name="ingest-website", flow_run_name=_website_run_name)
def ingest_website(url: str, owner_user_id: int, max_pages: int = 100) -> IngestOutcome:
    """Crawl a site from `url`, keep each page's main text, and store its chunks for the owner."""
    site = crawl_website(url, max_pages)
    if not site.pages:
        reason = "; ".join(f"{s.url}: {s.reason}" for s in site.skipped[:3]) or "no page found"
        record_failed_document(owner_user_id, site.start_url, f"nothing to ingest from {site.start_url}: {reason}")
        publish_report(report_markdown(f"Website ingestion: {site.start_url}", [], site),
                       key=f"ingest-website-user-{owner_user_id}", description=REPORT_DESCRIPTION)
        raise IngestionFailed(f"nothing to ingest from {site.start_url}: {reason}")
    drafts = register_documents(owner_user_id, chunk_pages(site.pages))
    results = _store_in_batches(drafts)
    publish_report(report_markdown(f"Website ingestion: {site.start_url}", results, site),
                   key=f"ingest-website-user-{owner_user_id}", description=REPORT_DESCRIPTION)
    _fail_on_errors(results)
    return IngestOutcome(start_url=site.start_url, owner_user_id=owner_user_id, documents=results,
                         skipped=site.skipped, pdf_links=site.pdf_links)


@flow(name="update-document", flow_run_name="update-document-{document_id}")
def update_document(document_id: int, text: str | None = None) -> DocumentResult:
    """Re-chunk a document from new text (text documents) or a fresh fetch (webpages); re-embed what changed."""
    new_content = load_new_content(document_id, text)  # a failed fetch stops here: nothing changed
    if new_content.unchanged:  # 304 Not Modified or the same text: nothing to embed or store
        result = DocumentResult(document_id=document_id, name=new_content.name, source_uri=new_content.source_uri,
                                status="ready", unchanged=True)
    else:
        [result] = _store_in_batches([new_content])
    publish_report(report_markdown(f"Document update: {document_id}", [result]),
                   key=f"update-document-{document_id}", description=REPORT_DESCRIPTION)
    _fail_on_errors([result])
    return result


def _store_in_batches(drafts: list[DocumentDraft]) -> list[DocumentResult]:
    """Embed and store documents in batches (one task per batch); a failed batch fails its documents."""
    return fan_out(store_documents, drafts, STORE_BATCH_DOCUMENTS, on_failed_chunk=_fail_batch)


def _fail_batch(batch: list[DocumentDraft], state: State) -> list[DocumentResult]:
    error = f"storing failed: {state.message or state.name}; re-run to retry"
    ids = [cast(int, d.document_id) for d in batch]  # registered drafts: every one has its id
    fail_documents(ids, error)
    return [DocumentResult(document_id=document_id, name=d.name, source_uri=d.source_uri,
                           status="failed", error=error) for document_id, d in zip(ids, batch, strict=True)]


def _fail_on_errors(results: list[DocumentResult]) -> None:
    raise_for_failures(results, failed=lambda r: r.status == "failed",
                       describe=lambda r: f"document {r.document_id}: {r.error}",
                       error=IngestionFailed, what="documents failed", shown=5)
