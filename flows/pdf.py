"""PDF ingestion (spec 6): one source of a collection into its owner's vector store."""

from __future__ import annotations

from typing import Literal

from prefect import flow

from tasks.pdf.job import PdfOutcome
from tasks.pdf.run import PdfProgress, PdfRun, SourceNotMarked, embed_in_batches, partition_pdf
from tasks.pdf.steps import (
    check_coverage,
    chunk_pdf,
    download_pdf,
    inspect_pdf,
    load_source,
    measure_coverage,
    ocr_scanned_pages,
    persist_vector_store,
    replace_source_vectors,
    save_assets,
)

__all__ = ["SourceNotMarked", "ingest_pdf"]


@flow(name="ingest-pdf", flow_run_name="ingest-pdf-source-{source_id}")
def ingest_pdf(collection_id: int, source_id: int, strategy: Literal["fast", "hi_res"] = "fast") -> PdfOutcome:
    """Download, partition, chunk by title, measure coverage, save images and tables, embed, upsert, mark, email."""
    run = PdfRun(source_id, strategy)
    with run.on_failure():  # marks the source failed, tells the owner, publishes the report, raises again
        job = run.loaded(load_source(collection_id, source_id))
        data = download_pdf(job)
        pages = run.counted(inspect_pdf(data, job))
        progress = PdfProgress(source_id)
        parts = partition_pdf(data, pages, strategy, job, progress)
        scanned = ocr_scanned_pages(data, job)
        chunks = run.chunked(chunk_pdf(run.elements_in_page_order(parts, scanned), job))
        coverage = run.measured(measure_coverage(data, chunks, job))
        run.warned(check_coverage(coverage, job, scanned.unread_pages))
        run.saved(save_assets(parts, job))
        vectors = run.embedded(embed_in_batches(chunks, progress))
        # Searches show a source's passages only once it is marked ingested (tasks.documents.search.search_chunks).
        replace_source_vectors(job, chunks, vectors)
        run.persisted(persist_vector_store(job))
        run.mark_ingested(job)  # SourceNotMarked when the database refuses: the passages stay hidden
        progress.finished()
    return run.succeeded(job)  # tells the owner, publishes the report
