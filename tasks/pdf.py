"""PDF ingestion steps (spec 6): download, partition, chunk by title, save assets, embed, upsert, report."""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage
from email.utils import formataddr
from typing import Any, Literal

import numpy as np
from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel

from blocks.profile import load_profile
from blocks.settings import PdfLimits
from blocks.storage import ObjectNotFound
from blocks.vectorstore import collection_name
from store.models import Collection, Source, User
from tasks.pdf_partition import (  # noqa: F401 — partitioning lives there; re-exported for callers
    PagesPartition,
    PdfLimitExceeded,
    PdfRejected,
    offline_sentence_model,
    open_pdf,
    partition_fast,
    partition_fast_in_process,
    partition_hi_res,
    use_offline_sentence_model,
)
from tasks.runtime import run_logger, utcnow

Strategy = Literal["fast", "hi_res"]

# Spec 6: chunk by title, at most 512 characters, a new chunk after 384, sections under 256 combined.
CHUNK_MAX_CHARS = 512
CHUNK_NEW_AFTER_CHARS = 384
CHUNK_COMBINE_UNDER_CHARS = 256
PAGES_PER_BATCH = 50
EMBED_BATCH = 512
# Database and object store steps: capped exponential backoff, never an endless loop.
BACKOFF = PdfLimits().retry_delays


def worth_retrying(task: Any, task_run: Any, state: Any) -> bool:
    """Bad input fails the same way every time: a refused PDF, an invalid or missing object key."""
    error = state.result(raise_on_failure=False)
    return not isinstance(error, (PdfRejected, ObjectNotFound, ValueError, LookupError))


RETRIED: dict[str, Any] = dict(retries=len(BACKOFF), retry_delay_seconds=BACKOFF, retry_condition_fn=worth_retrying)


class SourceJob(BaseModel):
    """What the steps need to know about one source and its owner."""

    source_id: int
    collection_id: int
    owner_user_id: int
    owner_name: str
    owner_email: str
    filename: str
    object_key: str


class PdfChunk(BaseModel):
    position: int
    text: str
    page_number: int | None


class PdfOutcome(BaseModel):
    """The report of one ingestion."""

    source_id: int
    status: Literal["ingested", "failed"]
    strategy: str
    pages: int = 0
    elements: int = 0
    element_kinds: dict[str, int] = {}
    chunks: int = 0
    images: int = 0
    tables: int = 0
    embedding_model: str = ""
    snapshot_uri: str | None = None
    error: str | None = None


# --- pure helpers ---------------------------------------------------------------------------------


def count_pages(data: bytes, source_id: int, max_pages: int | None = None) -> int:
    """Pages of a PDF; PdfRejected (with what to do) for anything that is not an ingestible PDF."""
    max_pages = max_pages or PdfLimits().max_pages
    if not data:
        raise PdfRejected(f"source {source_id}: the file is empty; upload the PDF again")
    if not data.lstrip()[:5].startswith(b"%PDF-"):
        raise PdfRejected(f"source {source_id}: not a PDF (no %PDF- header); upload a PDF file")
    document = open_pdf(data, source_id)
    try:
        pages = len(document)
    finally:
        document.close()
    if pages == 0:
        raise PdfRejected(f"source {source_id}: the PDF has no pages")
    if pages > max_pages:
        raise PdfLimitExceeded(f"source {source_id}: the PDF has {pages:,} pages, over the limit of {max_pages:,} "
                               "(NIGHTSHIFT_PDF_MAX_PAGES); split it")
    return pages


def page_batches(pages: int, size: int = PAGES_PER_BATCH) -> list[tuple[int, int]]:
    """Zero-based [first, last) page ranges."""
    return [(first, min(first + size, pages)) for first in range(0, pages, size)]


def chunk_elements(elements: list[Any]) -> list[PdfChunk]:
    """Chunk by title with the spec's sizes; each chunk keeps the page it starts on."""
    from unstructured.chunking.title import chunk_by_title

    chunks = chunk_by_title(
        elements, max_characters=CHUNK_MAX_CHARS, new_after_n_chars=CHUNK_NEW_AFTER_CHARS,
        combine_text_under_n_chars=CHUNK_COMBINE_UNDER_CHARS,
    )
    return [
        PdfChunk(position=i, text=chunk.text, page_number=chunk.metadata.page_number)
        for i, chunk in enumerate(c for c in chunks if c.text.strip())
    ]


def element_kinds(elements: list[Any]) -> dict[str, int]:
    kinds: dict[str, int] = {}
    for element in elements:
        kinds[type(element).__name__] = kinds.get(type(element).__name__, 0) + 1
    return dict(sorted(kinds.items(), key=lambda item: -item[1]))


def table_files(elements: list[Any]) -> list[tuple[str, bytes]]:
    """Tables found by hi_res (HTML of their structure); the fast strategy finds none."""
    tables = [e for e in elements if type(e).__name__ == "Table"]
    return [
        (f"table-{i:04d}-page-{t.metadata.page_number or 0}.html",
         (t.metadata.text_as_html or f"<pre>{t.text}</pre>").encode())
        for i, t in enumerate(tables, start=1)
    ]


def chunk_id(source_id: int, position: int) -> str:
    """Ids scoped by source: re-ingesting a source overwrites its own ids and nothing else."""
    return f"source-{source_id}-{position}"


def assets_prefix(job: SourceJob) -> str:
    return f"{job.owner_user_id}/{job.source_id}"


def short_error(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 2000 else text[:2000] + "…"


# --- tasks -----------------------------------------------------------------------------------------


@task(name="load-source", **RETRIED)
def load_source(collection_id: int, source_id: int) -> SourceJob:
    """Read the source and its owner, and mark it ingesting."""
    with load_profile().database.session() as session:
        row = session.get(Source, source_id)
        if row is None or row.collection_id != collection_id:
            raise LookupError(f"no source {source_id} in collection {collection_id}: check both ids")
        collection = session.get(Collection, collection_id)
        owner = session.get(User, collection.owner_user_id)
        row.status, row.error = "ingesting", None
        return SourceJob(
            source_id=source_id, collection_id=collection_id, owner_user_id=owner.id, owner_name=owner.name,
            owner_email=owner.email, filename=row.filename, object_key=row.object_key,
        )


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
    partition = partition_fast_in_process if in_process else partition_fast
    return partition(data, first, last, job.filename, job.source_id)


@task(name="chunk-pdf", cache_policy=NO_CACHE)
def chunk_pdf(elements: list[Any], job: SourceJob) -> list[PdfChunk]:
    """Chunk by title; an empty result means the partition found no text, which is a failure."""
    chunks = chunk_elements(elements)
    if not chunks:
        raise PdfRejected(
            f"source {job.source_id}: no text found in the PDF (scanned images need strategy='hi_res' with OCR)"
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


@task(name="mark-source-ingested", **RETRIED)
def mark_source_ingested(job: SourceJob) -> None:
    with load_profile().database.session() as session:
        row = session.get(Source, job.source_id)
        row.status, row.error, row.ingested_at = "ingested", None, utcnow()
        session.get(Collection, job.collection_id).updated_at = utcnow()


@task(name="mark-source-failed", **RETRIED)
def mark_source_failed(source_id: int, error: str) -> None:
    with load_profile().database.session() as session:
        row = session.get(Source, source_id)
        if row is not None:
            row.status, row.error = "failed", error


def outcome_message(job: SourceJob, outcome: PdfOutcome) -> EmailMessage:
    message = EmailMessage()
    message["To"] = formataddr((job.owner_name, job.owner_email))
    message["Auto-Submitted"] = "auto-generated"
    if outcome.status == "ingested":
        message["Subject"] = f"{job.filename} is ready to search"
        body = (f"Hello {job.owner_name},\n\n{job.filename} ({outcome.pages} pages) is now in your knowledge "
                f"base: {outcome.chunks} passages can be searched.\n")
    else:
        message["Subject"] = f"{job.filename} could not be added"
        body = f"Hello {job.owner_name},\n\n{job.filename} could not be added to your knowledge base:\n{outcome.error}\n"
    message.set_content(body)
    return message


@task(name="email-owner", **RETRIED)
def email_owner(job: SourceJob, outcome: PdfOutcome) -> str:
    return load_profile().mailer.send(outcome_message(job, outcome))


@task(name="publish-pdf-report")
def publish_pdf_report(outcome: PdfOutcome, seconds: float) -> None:
    lines = [
        f"# PDF ingestion of source {outcome.source_id}: {outcome.status}",
        "",
        "| | |", "|---|---|",
        f"| strategy | {outcome.strategy} |",
        f"| pages | {outcome.pages} |",
        f"| elements | {outcome.elements} ({', '.join(f'{k} {v}' for k, v in outcome.element_kinds.items())}) |",
        f"| chunks | {outcome.chunks} |",
        f"| images / tables saved | {outcome.images} / {outcome.tables} |",
        f"| embedding model | {outcome.embedding_model} |",
        f"| vector store snapshot | {outcome.snapshot_uri or '—'} |",
        f"| seconds | {seconds:.1f} |",
    ]
    if outcome.error:
        lines += ["", f"**Error:** {outcome.error}"]
    create_markdown_artifact("\n".join(lines), key=f"pdf-source-{outcome.source_id}",
                             description=f"PDF ingestion of source {outcome.source_id}")
    run_logger().info("source %s %s: %s chunks", outcome.source_id, outcome.status, outcome.chunks)


def elapsed(start: dt.datetime) -> float:
    return (utcnow() - start).total_seconds()
