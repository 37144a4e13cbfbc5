"""The steps of PDF ingestion (spec 6): load, download, inspect, partition, chunk, save assets, embed, upsert."""

from __future__ import annotations

import time
from typing import Any, Literal

import numpy as np
from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from blocks.profile import load_profile
from blocks.settings import PdfLimits
from blocks.storage import ObjectNotFound
from blocks.vectorstore import collection_name
from store import sources
from tasks.pdf.chunk import PdfChunk, chunk_elements, chunk_id, table_files
from tasks.pdf.coverage import Coverage, measure, page_texts
from tasks.pdf.document import PdfLimitExceeded, PdfRejected, count_pages, open_pdf, scanned_pages
from tasks.pdf.job import CoverageWarning, PdfOutcome, SourceJob
from tasks.pdf.ocr import OcrUnavailable, read_page
from tasks.pdf.partition import (
    PagesPartition,
    PdfFidelity,
    paragraph_elements,
    partition_fast,
    partition_hi_res,
)
from tasks.pdf.processes import partition_fast_in_process
from tasks.pdf.report import outcome_message, report_markdown
from tasks.runtime import run_logger, utcnow

Strategy = Literal["fast", "hi_res"]

EMBED_BATCH = 512
# Database and object store steps: capped exponential backoff, never an endless loop.
BACKOFF = PdfLimits().retry_delays


def worth_retrying(task: Any, task_run: Any, state: Any) -> bool:
    """Bad input fails the same way every time: a refused PDF, an invalid or missing object key."""
    error = state.result(raise_on_failure=False)
    return not isinstance(error, (PdfRejected, ObjectNotFound, ValueError, LookupError))


RETRIED: dict[str, Any] = {"retries": len(BACKOFF), "retry_delay_seconds": BACKOFF, "retry_condition_fn": worth_retrying}


def assets_prefix(job: SourceJob) -> str:
    return f"{job.owner_user_id}/{job.source_id}"


# --- tasks -----------------------------------------------------------------------------------------


@task(name="load-source", **RETRIED)
def load_source(collection_id: int, source_id: int) -> SourceJob:
    """Read the source and its owner, and mark it ingesting."""
    with load_profile().database.session() as session:
        return SourceJob.model_validate(sources.start_ingestion(session, collection_id, source_id))


@task(name="download-pdf", **RETRIED, cache_policy=NO_CACHE)
def download_pdf(job: SourceJob) -> bytes:
    return load_profile().storage.get_bytes(job.object_key)


@task(name="inspect-pdf", cache_policy=NO_CACHE)
def inspect_pdf(data: bytes, job: SourceJob) -> int:
    """The page count; PdfRejected (not retried) for empty, encrypted, corrupt or non-PDF files."""
    return count_pages(data, job.source_id)


@task(name="partition-pdf", task_run_name="partition-pdf-pages-{first}-{last}", cache_policy=NO_CACHE)
def partition_pages(data: bytes, first: int, last: int, strategy: Strategy, job: SourceJob,
                    in_process: bool = False) -> PagesPartition:
    """Elements of pages [first, last) (hi_res works on the whole document at once).

    in_process: partition in one of the partition processes (page batches of a long PDF side by side).
    """
    if strategy == "hi_res":
        return partition_hi_res(data, job.filename, job.source_id)
    assembly = PdfFidelity().assembly
    if in_process:
        return partition_fast_in_process(data, first, last, job.filename, job.source_id, assembly)
    return partition_fast(data, first, last, job.filename, job.source_id, assembly=assembly)


@task(name="ocr-scanned-pages", cache_policy=NO_CACHE)
def ocr_scanned_pages(data: bytes, job: SourceJob) -> PagesPartition:
    """Pages with images and no text layer, read by OCR on CPU (up to NIGHTSHIFT_PDF_OCR_MAX_PAGES)."""
    settings = PdfFidelity()
    scanned = scanned_pages(data, job.source_id)
    if not scanned:
        return PagesPartition(elements=[])
    to_read, unread = scanned[:settings.ocr_max_pages], scanned[settings.ocr_max_pages:]
    started, flow = time.perf_counter(), []
    try:
        document = open_pdf(data, job.source_id)
        try:
            for number in to_read:
                flow += [(text, number, True) for text in read_page(document, number - 1, settings.ocr_dpi)]
        finally:
            document.close()
    except OcrUnavailable as exc:
        run_logger().warning("source %s: %s; %d scanned page(s) not read", job.source_id, exc, len(scanned))
        return PagesPartition(elements=[], unread_pages=scanned)
    seconds = time.perf_counter() - started
    run_logger().info("source %s: OCR read %d page(s) in %.1f s", job.source_id, len(to_read), seconds)
    return PagesPartition(elements=paragraph_elements(flow, job.filename), ocr_pages=to_read, unread_pages=unread,
                          ocr_seconds=round(seconds, 2))


@task(name="chunk-pdf", cache_policy=NO_CACHE)
def chunk_pdf(elements: list[Any], job: SourceJob) -> list[PdfChunk]:
    """Chunk by title; an empty result means the partition found no text, which is a failure."""
    chunks = chunk_elements(elements)
    if not chunks:
        raise PdfRejected(
            f"source {job.source_id}: no text found in the PDF (no text layer, and OCR read nothing)"
        )
    return chunks


@task(name="save-pdf-assets", **RETRIED, cache_policy=NO_CACHE)
def save_assets(parts: list[PagesPartition], job: SourceJob) -> dict[str, int]:
    """Images and tables under {user}/{source}/images|tables/; leftovers of an earlier ingestion removed."""
    storage = load_profile().storage
    saved: dict[str, int] = {}
    images = [image for part in parts for image in part.images]
    tables = table_files([element for part in parts for element in part.elements])
    limit = PdfLimits().max_asset_bytes
    for name, content in images + tables:  # hi_res images and tables are checked here, fast images when found
        if len(content) > limit:
            raise PdfLimitExceeded(f"source {job.source_id}: {name} is {len(content):,} bytes, over the limit of "
                                   f"{limit:,} (NIGHTSHIFT_PDF_MAX_ASSET_BYTES)")
    for kind, files in (("images", images), ("tables", tables)):
        prefix = f"{assets_prefix(job)}/{kind}/"
        keys = {prefix + name for name, _ in files}
        for name, content in files:
            storage.put_bytes(prefix + name, content)
        for stale in set(storage.list_keys(prefix)) - keys:
            storage.delete(stale)
        saved[kind] = len(files)
    return saved


@task(name="embed-chunks", task_run_name="embed-chunks-{first}", cache_policy=NO_CACHE)
def embed_chunks(chunks: list[PdfChunk], first: int) -> np.ndarray:
    """One array, not lists of floats: Prefect walks list parameters item by item (seconds for 600k floats)."""
    return np.asarray(load_profile().embedder.embed([chunk.text for chunk in chunks]), dtype=np.float32)


@task(name="upsert-source-vectors", **RETRIED, cache_policy=NO_CACHE)
def replace_source_vectors(job: SourceJob, chunks: list[PdfChunk], vectors: np.ndarray) -> str:
    """Upsert this source's chunks, then drop its chunks beyond the new count, under the owner's lock."""
    profile = load_profile()
    store, model = profile.vector_store, profile.embedder.model_name
    collection = collection_name(job.owner_user_id)
    metadatas = [
        {"source_id": job.source_id, "collection_id": job.collection_id, "position": c.position,
         "page_number": c.page_number or 0, "filename": job.filename, "embedding_model": model}
        for c in chunks
    ]
    with store.writing(collection):
        store.upsert(collection, [chunk_id(job.source_id, c.position) for c in chunks], vectors.tolist(),
                     [c.text for c in chunks], metadatas)
        store.delete(collection, where={"$and": [{"source_id": job.source_id},
                                                 {"position": {"$gte": len(chunks)}}]})
    return collection


@task(name="persist-vector-store", **RETRIED)
def persist_vector_store(job: SourceJob) -> str | None:
    """Embedded store: a snapshot of its folder in object storage. A Chroma server persists itself."""
    profile = load_profile()
    snapshot = profile.vector_store.snapshot()
    if snapshot is None:
        return None
    return profile.storage.put_bytes("vector-store/chroma-snapshot.tar.gz", snapshot)


@task(name="measure-coverage", cache_policy=NO_CACHE)
def measure_coverage(data: bytes, chunks: list[PdfChunk], job: SourceJob) -> Coverage:
    """The share of the PDF's text layer (pdfium) that reached the chunks."""
    return measure(page_texts(data, job.source_id), [chunk.text for chunk in chunks])


@task(name="check-coverage", cache_policy=NO_CACHE)
def check_coverage(coverage: Coverage, job: SourceJob, unread_pages: list[int]) -> CoverageWarning | None:
    """A warning when chunks hold less of the text layer than NIGHTSHIFT_PDF_MIN_COVERAGE; PdfRejected instead
    when NIGHTSHIFT_PDF_BELOW_MIN_COVERAGE=fail. Scanned pages OCR did not read are named either way."""
    settings = PdfFidelity()
    notes = []
    low = coverage.share is not None and coverage.share < settings.min_coverage
    if low:
        notes.append(f"only {coverage.share:.1%} of the PDF's text layer reached the searchable passages "
                     f"(minimum {settings.min_coverage:.0%}, NIGHTSHIFT_PDF_MIN_COVERAGE): some text cannot be found")
    if unread_pages:
        notes.append(f"{len(unread_pages)} page(s) have no text layer and were not read (scanned; over "
                     f"NIGHTSHIFT_PDF_OCR_MAX_PAGES or no OCR on this worker): {page_list(unread_pages)}")
    if not notes:
        return None
    warning = f"source {job.source_id}: " + "; ".join(notes)
    if settings.below_min_coverage == "fail" and low:
        raise PdfRejected(warning + " (NIGHTSHIFT_PDF_BELOW_MIN_COVERAGE=fail)")
    run_logger().warning(warning)
    return CoverageWarning(text=warning, share_read=coverage.share if low else None, unread_pages=unread_pages)


def page_list(pages: list[int], shown: int = 10) -> str:
    return ", ".join(map(str, pages[:shown])) + (f" and {len(pages) - shown} more" if len(pages) > shown else "")


@task(name="mark-source-ingested", **RETRIED)
def mark_source_ingested(job: SourceJob, coverage: float | None = None, warning: str | None = None) -> None:
    with load_profile().database.session() as session:
        sources.mark_ingested(session, job.source_id, job.collection_id, utcnow(), coverage, warning)


@task(name="mark-source-failed", **RETRIED)
def mark_source_failed(source_id: int, error: str) -> None:
    with load_profile().database.session() as session:
        sources.mark_failed(session, source_id, error)


@task(name="email-owner", **RETRIED)
def email_owner(job: SourceJob, outcome: PdfOutcome) -> str:
    return load_profile().mailer.send(outcome_message(job, outcome))


@task(name="publish-pdf-report")
def publish_pdf_report(outcome: PdfOutcome, seconds: float) -> None:
    create_markdown_artifact(report_markdown(outcome, seconds), key=f"pdf-source-{outcome.source_id}",
                             description=f"PDF ingestion of source {outcome.source_id}")
    run_logger().info("source %s %s: %s chunks", outcome.source_id, outcome.status, outcome.chunks)
