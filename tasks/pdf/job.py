"""One PDF ingestion's job (the source and its owner) and its outcome, as the steps and the report share them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class SourceJob(BaseModel):
    """What the steps need to know about one source and its owner."""

    source_id: int
    collection_id: int
    owner_user_id: int
    owner_name: str
    owner_email: str
    owner_language: str | None = None  # the owner's language code: their mail is written in it
    filename: str
    object_key: str


class CoverageWarning(BaseModel):
    """What check_coverage found: its text for the operators and the run's report, and the facts the owner's
    mail tells in plain words."""

    text: str
    share_read: float | None = None  # the share of the text layer read, when under the minimum
    unread_pages: list[int] = []  # scanned pages nobody read (no OCR on the worker, or over its limit)


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
    coverage: float | None = None  # share of the text layer's words found in the chunks
    pages_without_text: list[int] = []
    ocr_pages: list[int] = []  # pages without a text layer, read by OCR
    ocr_seconds: float = 0.0
    artefacts: dict[str, int] = {}
    warning: str | None = None
    share_read: float | None = None  # CoverageWarning's facts, for the owner's mail
    unread_pages: list[int] = []
    error: str | None = None
