"""One ingest-pdf run around its steps: the outcome they fill, its progress bar, and what a failure does.

The flow calls these from inside its run (they call the steps' tasks), so that it reads as the spec's
sequence of steps: the outcome's bookkeeping, the progress arithmetic and the failure handling are here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import numpy as np
from prefect.artifacts import create_progress_artifact, update_progress_artifact

from blocks.prefect_calls import sync_result
from blocks.profile import load_profile
from tasks.fanout import side_by_side
from tasks.pdf.chunk import PdfChunk, element_kinds, in_page_order
from tasks.pdf.coverage import Coverage
from tasks.pdf.document import page_batches
from tasks.pdf.job import CoverageWarning, PdfOutcome, SourceJob
from tasks.pdf.partition import PagesPartition
from tasks.pdf.processes import close_partition_processes
from tasks.pdf.report import elapsed, short_error
from tasks.pdf.steps import (
    EMBED_BATCH,
    Strategy,
    email_owner,
    embed_chunks,
    mark_source_failed,
    mark_source_ingested,
    partition_pages,
    publish_pdf_report,
)
from tasks.runtime import utcnow


class SourceNotMarked(RuntimeError):
    """The passages are stored but the source could not be marked ingested: hidden until a re-run marks it."""


class PdfProgress:
    """The run's progress artifact pdf-source-{id}-progress: partitioning fills 60 %, embedding 35 %, marking the rest."""

    def __init__(self, source_id: int) -> None:
        self.artifact: UUID = sync_result(
            create_progress_artifact(0.0, key=f"pdf-source-{source_id}-progress",
                                     description=f"ingest-pdf source {source_id}"),
            "create_progress_artifact")

    def partitioned(self, last_page: int, pages: int) -> None:
        update_progress_artifact(self.artifact, 60.0 * last_page / pages)

    def embedded(self, done: int, total: int) -> None:
        update_progress_artifact(self.artifact, 60.0 + 35.0 * done / total)

    def finished(self) -> None:
        update_progress_artifact(self.artifact, 100.0)


def partition_pdf(data: bytes, pages: int, strategy: Strategy, job: SourceJob,
                  progress: PdfProgress) -> list[PagesPartition]:
    """hi_res on the whole document; fast in page batches, each in a partition process under PdfLimits."""
    if strategy == "hi_res":
        return [partition_pages(data, 0, pages, strategy, job)]
    try:
        return side_by_side(
            lambda pages_range: partition_pages.submit(data, pages_range[0], pages_range[1], strategy, job,
                                                       in_process=True),
            page_batches(pages),
            on_done=lambda pages_range: progress.partitioned(pages_range[1], pages),
        )
    finally:  # side_by_side leaves no batch running when the partition processes stop
        close_partition_processes()


def embed_in_batches(chunks: list[PdfChunk], progress: PdfProgress) -> np.ndarray:
    """The chunks' vectors, EMBED_BATCH chunks per task run; each batch moves the progress bar."""
    vectors = []
    for first in range(0, len(chunks), EMBED_BATCH):
        vectors.append(embed_chunks(chunks[first:first + EMBED_BATCH], first))
        progress.embedded(min(len(chunks), first + EMBED_BATCH), len(chunks))
    return np.concatenate(vectors)


class PdfRun:
    """One run's outcome as its steps fill it (the report shows how far a failed run got), and its source."""

    def __init__(self, source_id: int, strategy: Strategy) -> None:
        self.started = utcnow()
        self.outcome = PdfOutcome(source_id=source_id, status="failed", strategy=strategy)
        self.job: SourceJob | None = None

    @contextmanager
    def on_failure(self) -> Iterator[None]:
        """An error marks the source failed, tells the owner, publishes the report, and is raised again."""
        try:
            yield
        except Exception as exc:
            self._report_failure(exc)
            raise

    def _report_failure(self, exc: Exception) -> None:
        outcome = self.outcome
        outcome.error = short_error(exc)
        failed = mark_source_failed(outcome.source_id, outcome.error, return_state=True)
        if not failed.is_completed():  # the database is away: the run's state and the report say it
            outcome.error += f" (the source could not be marked failed either: {failed.message})"
        if self.job is not None:  # tell the owner; a mail failure must not hide the ingestion's error
            email_owner(self.job, outcome, return_state=True)
        publish_pdf_report(outcome, elapsed(self.started))

    def loaded(self, job: SourceJob) -> SourceJob:
        self.job = job
        return job

    def counted(self, pages: int) -> int:
        self.outcome.pages = pages
        return pages

    def elements_in_page_order(self, parts: list[PagesPartition], scanned: PagesPartition) -> list[Any]:
        """The partitions' elements and the pages OCR read, in page order."""
        self.outcome.ocr_pages, self.outcome.ocr_seconds = scanned.ocr_pages, scanned.ocr_seconds
        elements = in_page_order([*parts, scanned])
        self.outcome.elements, self.outcome.element_kinds = len(elements), element_kinds(elements)
        return elements

    def chunked(self, chunks: list[PdfChunk]) -> list[PdfChunk]:
        self.outcome.chunks = len(chunks)
        return chunks

    def measured(self, coverage: Coverage) -> Coverage:
        self.outcome.coverage, self.outcome.pages_without_text = coverage.share, coverage.pages_without_text
        self.outcome.artefacts = coverage.artefacts
        return coverage

    def warned(self, warning: CoverageWarning | None) -> None:
        if warning is not None:
            self.outcome.warning = warning.text
            self.outcome.share_read, self.outcome.unread_pages = warning.share_read, warning.unread_pages

    def saved(self, saved: dict[str, int]) -> None:
        self.outcome.images, self.outcome.tables = saved["images"], saved["tables"]

    def embedded(self, vectors: np.ndarray) -> np.ndarray:
        self.outcome.embedding_model = load_profile().embedder.model_name
        return vectors

    def persisted(self, snapshot_uri: str | None) -> None:
        self.outcome.snapshot_uri = snapshot_uri

    def mark_ingested(self, job: SourceJob) -> None:
        """Mark the source ingested; SourceNotMarked (its passages stay hidden) when the database refuses."""
        marked = mark_source_ingested(job, self.outcome.coverage, self.outcome.warning, return_state=True)
        if not marked.is_completed():
            raise SourceNotMarked(
                f"source {self.outcome.source_id}: its {self.outcome.chunks} passages are stored but it could not be marked "
                f"ingested ({marked.message}); they stay hidden from search until ingest-pdf runs again for this "
                "source"
            )
        self.outcome.status = "ingested"

    def succeeded(self, job: SourceJob) -> PdfOutcome:
        """Tell the owner, publish the report."""
        email_owner(job, self.outcome)
        publish_pdf_report(self.outcome, elapsed(self.started))
        return self.outcome
