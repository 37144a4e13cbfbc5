"""What a PDF ingestion tells: the owner's mail and the run's artifact."""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage
from typing import TYPE_CHECKING

from tasks.emails.notices import document_notice
from tasks.runtime import utcnow

if TYPE_CHECKING:
    from tasks.pdf.job import PdfOutcome, SourceJob


def outcome_message(job: SourceJob, outcome: PdfOutcome) -> EmailMessage:
    """The owner's mail, in their language: plain words and what to do (the technical error and the
    warning's settings go to the operators and the run's report)."""
    return document_notice(job.owner_name, job.owner_email, job.filename, ingested=outcome.status == "ingested",
                           pages=outcome.pages, chunks=outcome.chunks, error=outcome.error,
                           warning=outcome.warning, share_read=outcome.share_read,
                           unread_pages=outcome.unread_pages, language=job.owner_language)


def report_markdown(outcome: PdfOutcome, seconds: float) -> str:
    coverage = "no text layer" if outcome.coverage is None else f"{outcome.coverage:.1%}"
    lines = [
        f"# PDF ingestion of source {outcome.source_id}: {outcome.status}",
        "",
        "| | |", "|---|---|",
        f"| strategy | {outcome.strategy} |",
        f"| pages | {outcome.pages} |",
        f"| elements | {outcome.elements} ({', '.join(f'{k} {v}' for k, v in outcome.element_kinds.items())}) |",
        f"| chunks | {outcome.chunks} |",
        f"| coverage of the text layer | {coverage} |",
        f"| pages without a text layer | {', '.join(map(str, outcome.pages_without_text)) or '—'} |",
        f"| pages read by OCR | {len(outcome.ocr_pages)} in {outcome.ocr_seconds:.1f} s |",
        f"| artefacts in chunks | {', '.join(f'{k} {v}' for k, v in outcome.artefacts.items()) or 'none'} |",
        f"| images / tables saved | {outcome.images} / {outcome.tables} |",
        f"| embedding model | {outcome.embedding_model} |",
        f"| vector store snapshot | {outcome.snapshot_uri or '—'} |",
        f"| seconds | {seconds:.1f} |",
    ]
    if outcome.warning:
        lines += ["", f"**Warning:** {outcome.warning}"]
    if outcome.error:
        lines += ["", f"**Error:** {outcome.error}"]
    return "\n".join(lines)


def short_error(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 2000 else text[:2000] + "…"


def elapsed(start: dt.datetime) -> float:
    return (utcnow() - start).total_seconds()
