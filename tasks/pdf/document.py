"""A PDF as a whole, with pdfium: the checks made before partitioning, its page batches and page ranges.

The checks (empty, not a PDF, encrypted, corrupt, too many pages) raise PdfRejected with what to do; the
page batches are what the partition processes work on (NIGHTSHIFT_PDF_PAGES_PER_BATCH); the scanned
pages are those only OCR can read. No Prefect: the partition processes import this.
"""

from __future__ import annotations

import io
from typing import Any

from blocks.settings import PdfLimits


class PdfRejected(ValueError):
    """The file is not an ingestible PDF (encrypted, empty, corrupt, not a PDF): retrying cannot help."""


class PdfLimitExceeded(PdfRejected):
    """The PDF needs more than a worker grants one document (pages, pixels, bytes, memory, time)."""

PAGES_PER_BATCH = PdfLimits.model_fields["pages_per_batch"].default


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


def page_batches(pages: int, size: int | None = None) -> list[tuple[int, int]]:
    """Zero-based [first, last) page ranges of `size` pages (NIGHTSHIFT_PDF_PAGES_PER_BATCH by default)."""
    size = size or PdfLimits().pages_per_batch
    return [(first, min(first + size, pages)) for first in range(0, pages, size)]



def open_pdf(data: bytes, source_id: int) -> Any:
    """The pdfium document of `data`; PdfRejected (with what to do) when it is encrypted or corrupt."""
    import pypdfium2 as pdfium

    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise PdfRejected(
                f"source {source_id}: the PDF is encrypted (password-protected); upload an unprotected copy"
            ) from None
        raise PdfRejected(f"source {source_id}: the PDF is corrupt ({exc}); re-export or repair it") from None


def scanned_pages(data: bytes, source_id: int) -> list[int]:
    """1-based pages with an image and no text layer: what only OCR can read."""
    import pypdfium2.raw as pdfium_c

    document = open_pdf(data, source_id)
    try:
        found = []
        for number, page in enumerate(document, start=1):
            textpage = page.get_textpage()
            has_text = bool(textpage.get_text_range().strip())
            textpage.close()
            images = page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,), max_depth=3)
            if not has_text and any(True for _ in images):
                found.append(number)
            page.close()
        return found
    finally:
        document.close()


def page_range(data: bytes, first: int, last: int, source_id: int) -> bytes:
    """Pages [first, last) of a PDF as a PDF of their own (pdfium copies them without decoding anything)."""
    import pypdfium2 as pdfium

    source = open_pdf(data, source_id)
    try:
        if first == 0 and last >= len(source):
            return data
        part = pdfium.PdfDocument.new()
        try:
            part.import_pages(source, list(range(first, min(last, len(source)))))
            buffer = io.BytesIO()
            part.save(buffer)
            return buffer.getvalue()
        finally:
            part.close()
    finally:
        source.close()
