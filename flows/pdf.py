"""PDF ingestion (spec 6): one source of a collection into its owner's vector store."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from prefect import flow
from prefect.artifacts import create_progress_artifact, update_progress_artifact

from blocks.prefect_calls import sync_result
from blocks.profile import load_profile
from tasks.fanout import side_by_side
from tasks.pdf.chunk import element_kinds, in_page_order
from tasks.pdf.job import PdfOutcome
from tasks.pdf.partition import PagesPartition, page_batches
from tasks.pdf.processes import close_partition_processes
from tasks.pdf.report import elapsed, short_error
from tasks.pdf.steps import (
    EMBED_BATCH,
    check_coverage,
    chunk_pdf,
    download_pdf,
    email_owner,
    embed_chunks,
    inspect_pdf,
    load_source,
    mark_source_failed,
    mark_source_ingested,
    measure_coverage,
    ocr_scanned_pages,
    partition_pages,
    persist_vector_store,
    publish_pdf_report,
    replace_source_vectors,
    save_assets,
)
from tasks.runtime import utcnow


class SourceNotMarked(RuntimeError):
    """The passages are stored but the source could not be marked ingested: hidden until a re-run marks it."""


@flow(name="ingest-pdf", flow_run_name="ingest-pdf-source-{source_id}")
def ingest_pdf(collection_id: int, source_id: int, strategy: Literal["fast", "hi_res"] = "fast") -> PdfOutcome:
    """Download, partition, chunk by title, measure coverage, save images and tables, embed, upsert, mark, email."""
    started, outcome, job = utcnow(), PdfOutcome(source_id=source_id, status="failed", strategy=strategy), None
    try:
        job = load_source(collection_id, source_id)
        data = download_pdf(job)
        outcome.pages = inspect_pdf(data, job)
        progress = sync_result(create_progress_artifact(0.0, key=f"pdf-source-{source_id}-progress",
                                                        description=f"ingest-pdf source {source_id}"),
                               "create_progress_artifact")
        parts = _partition(data, outcome.pages, strategy, job, progress)
        scanned = ocr_scanned_pages(data, job)
        outcome.ocr_pages, outcome.ocr_seconds = scanned.ocr_pages, scanned.ocr_seconds
        elements = in_page_order([*parts, scanned])
        outcome.elements, outcome.element_kinds = len(elements), element_kinds(elements)
        chunks = chunk_pdf(elements, job)
        outcome.chunks = len(chunks)
        coverage = measure_coverage(data, chunks, job)
        outcome.coverage, outcome.pages_without_text = coverage.share, coverage.pages_without_text
        outcome.artefacts = coverage.artefacts
        outcome.warning = check_coverage(coverage, job, scanned.unread_pages)
        saved = save_assets(parts, job)
        outcome.images, outcome.tables = saved["images"], saved["tables"]
        vectors = []
        for first in range(0, len(chunks), EMBED_BATCH):  # batches across chunks
            vectors.append(embed_chunks(chunks[first:first + EMBED_BATCH], first))
            update_progress_artifact(progress, 60.0 + 35.0 * min(len(chunks), first + EMBED_BATCH) / len(chunks))
        outcome.embedding_model = load_profile().embedder.model_name
        # Searches show a source's passages only once it is marked ingested (tasks.documents.search.search_chunks).
        replace_source_vectors(job, chunks, np.concatenate(vectors))
        outcome.snapshot_uri = persist_vector_store(job)
        marked = mark_source_ingested(job, outcome.coverage, outcome.warning, return_state=True)
        if not marked.is_completed():
            raise SourceNotMarked(
                f"source {source_id}: its {len(chunks)} passages are stored but it could not be marked ingested "
                f"({marked.message}); they stay hidden from search until ingest-pdf runs again for this source"
            )
        outcome.status = "ingested"
        update_progress_artifact(progress, 100.0)
    except Exception as exc:
        outcome.error = short_error(exc)
        failed = mark_source_failed(source_id, outcome.error, return_state=True)
        if not failed.is_completed():  # the database is away: the run's state and the report say it
            outcome.error += f" (the source could not be marked failed either: {failed.message})"
        if job is not None:  # tell the owner; a mail failure must not hide the ingestion's error
            email_owner(job, outcome, return_state=True)
        publish_pdf_report(outcome, elapsed(started))
        raise
    email_owner(job, outcome)
    publish_pdf_report(outcome, elapsed(started))
    return outcome


def _partition(data: bytes, pages: int, strategy: Literal["fast", "hi_res"], job: Any, progress: Any) -> list[PagesPartition]:
    """hi_res on the whole document; fast in page batches, each in a partition process under PdfLimits."""
    if strategy == "hi_res":
        return [partition_pages(data, 0, pages, strategy, job)]
    try:
        return side_by_side(
            lambda pages_range: partition_pages.submit(data, pages_range[0], pages_range[1], strategy, job, in_process=True),
            page_batches(pages),
            on_done=lambda pages_range: update_progress_artifact(progress, 60.0 * pages_range[1] / pages),
        )
    finally:  # side_by_side leaves no batch running when the partition processes stop
        close_partition_processes()
