"""Partitioning PDF pages with unstructured, without Prefect: what the partition processes import.

What a partition process does with its page range: pdfminer's layout to paragraphs, tables and images,
then unstructured's elements. tasks.pdf.processes runs partition_fast in processes of its own under
PdfLimits; the checks made before partitioning and the page batches are in tasks.pdf.document.
"""

from __future__ import annotations

import os

# unstructured reads these at import: no call home, no nvidia-smi probe.
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("UNSTRUCTURED_DISABLE_NOTICE", "1")

import io
import re
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from blocks.settings import PdfLimits
from tasks.pdf.chunk import CHUNK_MAX_CHARS
from tasks.pdf.coverage import PageLayers
from tasks.pdf.document import (  # the checks and page batches, importable from here as before
    PAGES_PER_BATCH,
    PdfLimitExceeded,
    PdfRejected,
    count_pages,
    open_pdf,
    page_batches,
    page_range,
    scanned_pages,
)
from tasks.pdf.images import ImageCollector
from tasks.pdf.paragraphs import (
    Glyph,
    Line,
    box_paragraphs,
    join_spaced_letters,
    merge_continuations,
    rotated_lines,
    sentence_pieces,
)
from tasks.pdf.sentences import use_offline_sentence_model
from tasks.pdf.tables import (
    FoundTable,
    TableFinder,
    TableGrid,
    outside_tables,
    read_tables,
    upright_lines,
)

__all__ = [
    "PAGES_PER_BATCH", "PRELOAD", "Assembly", "HiResUnavailable", "PagesPartition", "PdfFidelity", "PdfLimitExceeded",
    "PdfRejected", "count_pages", "open_pdf", "page_batches", "paragraph_elements", "partition_fast",
    "partition_hi_res", "scanned_pages",
]

# What the fork server imports before forking a partition process (the costly part of a start).
PRELOAD = [__name__, "tasks.pdf.processes", "tasks.pdf.sentences", "tasks.pdf.paragraphs", "pdfminer.converter",
           "pdfminer.pdfinterp", "pdfminer.pdfpage", "pdfminer.layout", "pdfminer.image",
           "unstructured.partition.text", "unstructured.cleaners.core", "unstructured.documents.elements", "spacy",
           "pypdfium2", "blocks.settings", "tasks.pdf.tables", "pdfplumber"]


class HiResUnavailable(RuntimeError):
    """strategy="hi_res" asked for on a worker without unstructured's layout models."""


class PagesPartition(BaseModel):
    """Elements of a page range, and the embedded images found on the way (file name, bytes)."""

    model_config = {"arbitrary_types_allowed": True}

    elements: list[Any]
    images: list[tuple[str, bytes]] = []
    ocr_pages: list[int] = []  # 1-based pages read by OCR (no text layer)
    unread_pages: list[int] = []  # pages with images and no text layer that OCR did not read (limit, or no OCR)
    ocr_seconds: float = 0.0
    table_pages: list[int] = []  # 1-based pages searched for tables (their layout holds rules)


Assembly = Literal["paragraphs", "lines"]


class PdfFidelity(BaseSettings):
    """How PDF text becomes elements, and what a low coverage does (environment, NIGHTSHIFT_PDF_*)."""

    model_config = SettingsConfigDict(env_prefix="NIGHTSHIFT_PDF_")

    assembly: Assembly = Field("paragraphs", description=(
        "paragraphs: lines merged by layout, cleaned and cut at sentence ends; lines: one element per "
        "PDF line as before (kept for comparison)"))
    min_coverage: float = Field(0.95, ge=0, le=1, description=(
        "Share of the PDF's text layer that must reach the chunks; below it the source gets a warning."))
    below_min_coverage: Literal["warn", "fail"] = Field("warn", description=(
        "warn: the source is ingested with a warning the owner and the run's report show; fail: it fails."))
    ocr_max_pages: int = Field(20, ge=0, description=(
        "Pages without a text layer read by OCR per document (0: none); the others are named in a warning."))
    ocr_dpi: int = Field(150, ge=72, le=400, description="Resolution pages are rendered at for OCR.")
    tables: bool = Field(True, description=(
        "Find ruled tables (pdfplumber) on pages whose layout holds rules; each becomes a Table element "
        "with HTML, saved as an asset, its words taken out of the paragraphs."))


def partition_fast(data: bytes, first: int, last: int, filename: str, source_id: int,
                   limits: PdfLimits | None = None, assembly: Assembly = "paragraphs",
                   tables: bool | None = None) -> PagesPartition:
    """unstructured's "fast" strategy on pages [first, last): pdfminer text, classified by unstructured.

    Text inside figures and form XObjects is laid out too (all_texts). The same pdfminer pass collects
    the embedded images. pdfminer reads only a copy of those pages: finding page `first` in the whole
    document would walk every page before it, for every batch. Pages whose layout holds rules are
    searched for ruled tables by pdfplumber (NIGHTSHIFT_PDF_TABLES; not with the "lines" assembly).
    """
    from pdfminer.converter import PDFPageAggregator
    from pdfminer.layout import LAParams
    from pdfminer.pdfdocument import PDFPasswordIncorrect
    from pdfminer.pdfinterp import PDFPageInterpreter, PDFResourceManager
    from pdfminer.pdfpage import PDFPage
    from pdfminer.psparser import PSException

    limits = limits or PdfLimits()
    tables = PdfFidelity().tables if tables is None else tables
    use_offline_sentence_model()
    manager = PDFResourceManager()
    device = PDFPageAggregator(manager, laparams=LAParams(all_texts=assembly == "paragraphs"))
    interpreter = PDFPageInterpreter(manager, device)
    images = ImageCollector(source_id, limits)
    paragraphs: list[tuple[str, int]] = []
    flow: list[FlowItem] = []
    finder = TableFinder(source_id, first, enabled=tables and assembly == "paragraphs")
    layers: PageLayers | None = None
    try:
        finder.pages = page_range(data, first, last, source_id)
        layers = PageLayers(finder.pages)
        for page_number, page in enumerate(PDFPage.get_pages(io.BytesIO(finder.pages)), start=first + 1):
            interpreter.process_page(page)
            layout = device.get_result()
            if assembly == "lines":
                paragraphs += _page_lines(layout, page_number, images)
            else:
                flow += _page_paragraphs(layout, page_number, images, finder.grids(layout, page_number),
                                         partial(layers.text, page_number - first - 1))
    except PdfRejected:
        raise
    except PDFPasswordIncorrect:
        raise PdfRejected(
            f"source {source_id}: the PDF is encrypted (password-protected); upload an unprotected copy"
        ) from None
    except (PSException, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise PdfRejected(
            f"source {source_id}: the PDF is corrupt near page {first + 1}-{last} "
            f"({type(exc).__name__}: {exc}); re-export or repair it"
        ) from None
    finally:
        images.close()
        finder.close()
        if layers is not None:
            layers.close()
    if assembly == "paragraphs":
        return PagesPartition(elements=paragraph_elements(flow, filename), images=images.found,
                              table_pages=finder.searched)
    return PagesPartition(elements=_elements(paragraphs, filename), images=images.found)


# A paragraph (text, page, in the text flow) or a table found on the page, in reading order.
FlowItem = tuple["str | FoundTable", int, bool]


def paragraph_elements(flow: Sequence[FlowItem], filename: str) -> list[Any]:
    """Elements of paragraphs and tables: continuations merged (not across a table), cut at sentence ends."""
    elements: list[Any] = []
    segment: list[tuple[str, int, bool]] = []
    for item, page, in_flow in flow:
        if isinstance(item, str):
            segment.append((item, page, in_flow))
            continue
        elements += _paragraph_elements(segment, filename) + [_table_element(item, page, filename)]
        segment = []
    return elements + _paragraph_elements(segment, filename)


def _paragraph_elements(flow: list[tuple[str, int, bool]], filename: str) -> list[Any]:
    pieces = [(piece, page) for text, page in merge_continuations(flow)
              for piece in sentence_pieces(text, CHUNK_MAX_CHARS)]
    return _elements(pieces, filename)


def _table_element(table: FoundTable, page_number: int, filename: str) -> Any:
    from unstructured.documents.elements import ElementMetadata, Table

    return Table(text=table.text, metadata=ElementMetadata(filename=filename, page_number=page_number,
                                                           text_as_html=table.html))


def _page_paragraphs(layout: Any, page_number: int, images: ImageCollector,
                     grids: list[TableGrid] | None = None, layer: Callable[[], str] = str) -> list[FlowItem]:
    """The page's paragraphs and tables in pdfminer's reading order, figures' text included, images collected.

    Boxes whose glyphs are mostly turned (a rotated margin stamp) are read as lines of their own, last.
    A table comes after the first text box that holds some of its words; its words leave the paragraphs.
    """
    from pdfminer.layout import LTChar, LTContainer, LTImage, LTTextBox, LTTextLine

    found: list[str | FoundTable] = []
    turned: list[Glyph] = []
    tables = read_tables(grids, upright_lines(layout)) if grids else []
    pending = list(tables)

    def walk(item: Any) -> None:
        if isinstance(item, LTTextBox):
            lines = [line for line in item if isinstance(line, LTTextLine)]
            chars = [c for line in lines for c in line if isinstance(c, LTChar)]
            rotated = [c for c in chars if not c.upright]
            if chars and len(rotated) * 2 >= len(chars):
                turned.extend(Glyph(c.get_text(), c.x0, c.y0, c.x1, c.y1, c.matrix[1] > 0) for c in rotated)
            elif not tables:
                found.extend(box_paragraphs([Line(join_spaced_letters(line.get_text(), layer), line.x0, line.x1)
                                             for line in lines]))
            else:
                found.extend(box_paragraphs([Line(join_spaced_letters(outside_tables(line, tables), layer), line.x0,
                                                  line.x1) for line in lines]))
                for table in [t for t in pending if any(t.holds((c.x0 + c.x1) / 2, (c.y0 + c.y1) / 2) for c in chars)]:
                    found.append(table)
                    pending.remove(table)
        elif isinstance(item, LTImage):
            images.collect(item, page_number)
        elif isinstance(item, LTContainer):
            for child in item:
                walk(child)

    walk(layout)
    return ([(item, page_number, True) for item in found + pending]
            + [(text, page_number, False) for text in rotated_lines(turned)])


def _page_lines(layout: Any, page_number: int, images: ImageCollector) -> list[tuple[str, int]]:
    """One text per PDF line of the page's top-level text boxes, as unstructured's fast strategy gives."""
    from pdfminer.layout import LTTextBox
    from unstructured.cleaners.core import clean_extra_whitespace
    from unstructured.nlp.patterns import PARAGRAPH_PATTERN

    found = []
    for box in layout:
        if not isinstance(box, LTTextBox):
            images.collect(box, page_number)
            continue
        for paragraph in re.split(PARAGRAPH_PATTERN, box.get_text()):
            text = clean_extra_whitespace(paragraph)
            if text:
                found.append((text, page_number))
    return found


def _elements(paragraphs: list[tuple[str, int]], filename: str) -> list[Any]:
    """unstructured elements (Title, NarrativeText, ListItem, …) of the texts, each with its page."""
    from unstructured.documents.elements import ElementMetadata
    from unstructured.partition.text import element_from_text

    use_offline_sentence_model()  # element_from_text would download en_core_web_sm (OCR calls it here too)
    elements = []
    for text, page_number in paragraphs:
        element = element_from_text(text)
        element.metadata = ElementMetadata(filename=filename, page_number=page_number)
        elements.append(element)
    return elements


def partition_hi_res(data: bytes, filename: str, source_id: int) -> PagesPartition:
    """unstructured's "hi_res" strategy with table structure; HiResUnavailable when its models are absent."""
    hint = (
        f"source {source_id}: strategy='hi_res' needs unstructured[pdf] (unstructured-inference) and its "
        "layout model yolo_x_layout in the Hugging Face cache (HF_HOME), which this worker lacks; run the "
        "ingest-pdf-gpu deployment on a gpu worker that has them, or set strategy='fast'"
    )
    try:
        import unstructured_inference  # noqa: F401
        from unstructured.partition.pdf import partition_pdf
    except ImportError as exc:
        raise HiResUnavailable(f"{hint} (missing: {exc.name})") from None
    use_offline_sentence_model()
    try:
        elements = partition_pdf(
            file=io.BytesIO(data), metadata_filename=filename, strategy="hi_res",
            infer_table_structure=True, extract_image_block_types=["Image"],
            extract_image_block_to_payload=True,
        )
    except OSError as exc:  # the hub lookup of the model, offline
        raise HiResUnavailable(f"{hint} ({exc})") from None
    import base64

    images = [
        (f"page-{e.metadata.page_number or 0:04d}-image-{i}.{(e.metadata.image_mime_type or 'image/png').split('/')[-1]}",
         base64.b64decode(e.metadata.image_base64))
        for i, e in enumerate(elements) if type(e).__name__ == "Image" and e.metadata.image_base64
    ]
    return PagesPartition(elements=elements, images=images)
