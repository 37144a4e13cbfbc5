"""PDF ingestion (spec 6): one source of a collection into its owner's vector store."""

from __future__ import annotations

from typing import Literal

import numpy as np
from prefect import flow
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.futures import wait

from blocks.profile import load_profile
from tasks.pdf import (
    EMBED_BATCH,
    PdfOutcome,
    chunk_pdf,
    download_pdf,
    element_kinds,
    embed_chunks,
    elapsed,
    email_owner,
    inspect_pdf,
    load_source,
    mark_source_failed,
    mark_source_ingested,
    page_batches,
    partition_pages,
    persist_vector_store,
    publish_pdf_report,
    replace_source_vectors,
    save_assets,
    short_error,
)
from tasks.pdf_partition import close_partition_processes
from tasks.runtime import utcnow


@flow(name="ingest-pdf", flow_run_name="ingest-pdf-source-{source_id}")
def ingest_pdf(collection_id: int, source_id: int, strategy: Literal["fast", "hi_res"] = "fast") -> PdfOutcome:
    """Download, partition, chunk by title, save images and tables, embed, upsert, persist, mark, email."""
    started, outcome, job = utcnow(), PdfOutcome(source_id=source_id, status="failed", strategy=strategy), None
    try:
        job = load_source(collection_id, source_id)
        data = download_pdf(job)
        outcome.pages = inspect_pdf(data, job)
        progress = create_progress_artifact(0.0, key=f"pdf-source-{source_id}-progress",
                                            description=f"ingest-pdf source {source_id}")
        ranges = [(0, outcome.pages)] if strategy == "hi_res" else page_batches(outcome.pages)
        if len(ranges) == 1:
            parts = [partition_pages(data, *ranges[0], strategy, job)]
        else:  # page batches side by side in partition processes (pdfminer holds the GIL), read in order
            futures = [partition_pages.submit(data, first, last, strategy, job, in_process=True)
                       for first, last in ranges]
            parts = []
            try:
                for (_, last), future in zip(ranges, futures, strict=True):
                    parts.append(future.result())
                    update_progress_artifact(progress, 60.0 * last / outcome.pages)
            finally:  # no batch left running (or still to start) when its processes stop
                wait(futures)
                close_partition_processes()
        elements = [element for part in parts for element in part.elements]
        chunks = chunk_pdf(elements, job)
        saved = save_assets(parts, job)
        vectors = []
        for first in range(0, len(chunks), EMBED_BATCH):  # batches across chunks
            vectors.append(embed_chunks(chunks[first:first + EMBED_BATCH], first))
            update_progress_artifact(progress, 60.0 + 35.0 * min(len(chunks), first + EMBED_BATCH) / len(chunks))
        replace_source_vectors(job, chunks, np.concatenate(vectors))
        outcome.snapshot_uri = persist_vector_store(job)
        mark_source_ingested(job)
        update_progress_artifact(progress, 100.0)
        outcome = outcome.model_copy(update=dict(
            status="ingested", elements=len(elements), element_kinds=element_kinds(elements), chunks=len(chunks),
            images=saved["images"], tables=saved["tables"], embedding_model=load_profile().embedder.model_name,
        ))
        email_owner(job, outcome)
    except Exception as exc:
        outcome.error = short_error(exc)
        mark_source_failed(source_id, outcome.error)
        if job is not None:  # tell the owner; a mail failure must not hide the ingestion's error
            email_owner(job, outcome, return_state=True)
        raise
    finally:
        publish_pdf_report(outcome, elapsed(started))
    return outcome

