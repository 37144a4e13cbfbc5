"""Partitioning PDF pages with unstructured, without Prefect: what the partition processes import.

A long PDF's page batches are partitioned side by side in processes (pdfminer holds the GIL). They
fork from a multiprocessing fork server that has imported pdfminer, unstructured and spaCy once, so
a batch starts at once; the processes import neither Prefect nor nightshift's blocks.
"""

from __future__ import annotations

import os

# unstructured reads these at import: no call home, no nvidia-smi probe.
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("UNSTRUCTURED_DISABLE_NOTICE", "1")

import io  # noqa: E402
import multiprocessing  # noqa: E402
import re  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from pydantic import BaseModel  # noqa: E402

# What the fork server imports before forking a partition process (the costly part of a start).
PRELOAD = [__name__, "pdfminer.converter", "pdfminer.pdfinterp", "pdfminer.pdfpage", "pdfminer.layout",
           "pdfminer.image", "unstructured.partition.text", "unstructured.cleaners.core",
           "unstructured.documents.elements", "spacy"]


class PdfRejected(ValueError):
    """The file is not an ingestible PDF (encrypted, empty, corrupt, not a PDF): retrying cannot help."""


class HiResUnavailable(RuntimeError):
    """strategy="hi_res" asked for on a worker without unstructured's layout models."""


# --- the offline sentence model ------------------------------------------------------------------

# Auxiliaries and modals: nearly every English sentence of running text has one of these or a
# past / -ing form, which is all unstructured's narrative-text check asks of a tagger.
_VERB_WORDS = frozenset(
    "is are was were be been being am has have had do does did can could will would shall should may "
    "might must provides provide includes include uses use shows show makes make gives give".split()
)
_offline_lock = threading.Lock()
_offline_installed = False


def offline_sentence_model() -> Any:
    """A blank English spaCy pipeline with a sentencizer and a rule-based verb tagger (no download)."""
    import spacy
    from spacy.language import Language

    if "nightshift_verb_tagger" not in Language.factories:

        @Language.component("nightshift_verb_tagger")
        def _tag_verbs(doc: Any) -> Any:
            for token in doc:
                lower = token.lower_
                if lower in _VERB_WORDS:
                    token.tag_ = "VBZ"
                elif token.is_alpha and len(lower) > 4 and lower.endswith(("ed", "ing")):
                    token.tag_ = "VBD" if lower.endswith("ed") else "VBG"
            return doc

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("nightshift_verb_tagger")
    return nlp


def use_offline_sentence_model() -> None:
    """Give unstructured a sentence model without its run-time download of en_core_web_sm.

    When en_core_web_sm is installed as a package it is used as unstructured intends; otherwise
    unstructured would download it, and offline its PDF partitioning silently returns nothing.
    """
    global _offline_installed
    with _offline_lock:
        if _offline_installed:
            return
        import spacy.util
        import unstructured.nlp.tokenize as tokenize

        if not spacy.util.is_package("en_core_web_sm"):
            nlp = offline_sentence_model()
            tokenize._get_nlp = lambda: nlp
        _offline_installed = True


class PagesPartition(BaseModel):
    """Elements of a page range, and the embedded images found on the way (file name, bytes)."""

    model_config = {"arbitrary_types_allowed": True}

    elements: list[Any]
    images: list[tuple[str, bytes]] = []


def partition_fast(data: bytes, first: int, last: int, filename: str, source_id: int) -> PagesPartition:
    """unstructured's "fast" strategy on pages [first, last): pdfminer text boxes, classified by unstructured.

    The same pdfminer pass collects the embedded images.
    """
    from pdfminer.converter import PDFPageAggregator
    from pdfminer.layout import LAParams, LTTextBox
    from pdfminer.pdfdocument import PDFPasswordIncorrect
    from pdfminer.pdfinterp import PDFPageInterpreter, PDFResourceManager
    from pdfminer.pdfpage import PDFPage
    from pdfminer.psparser import PSException
    from unstructured.cleaners.core import clean_extra_whitespace
    from unstructured.documents.elements import ElementMetadata
    from unstructured.nlp.patterns import PARAGRAPH_PATTERN
    from unstructured.partition.text import element_from_text

    use_offline_sentence_model()
    manager = PDFResourceManager()
    device = PDFPageAggregator(manager, laparams=LAParams())
    interpreter = PDFPageInterpreter(manager, device)
    elements: list[Any] = []
    images = ImageCollector()
    try:
        pages = PDFPage.get_pages(io.BytesIO(data), pagenos=set(range(first, last)))
        for page_number, page in enumerate(pages, start=first + 1):
            interpreter.process_page(page)
            for box in device.get_result():
                if not isinstance(box, LTTextBox):
                    images.collect(box, page_number)
                    continue
                for paragraph in re.split(PARAGRAPH_PATTERN, box.get_text()):
                    text = clean_extra_whitespace(paragraph)
                    if text:
                        element = element_from_text(text)
                        element.metadata = ElementMetadata(filename=filename, page_number=page_number)
                        elements.append(element)
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
    return PagesPartition(elements=elements, images=images.found)


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


class ImageCollector:
    """Writes the embedded images of pdfminer layouts as files (JPEG/JPEG 2000 as stored, others as BMP)."""

    def __init__(self) -> None:
        self._folder = tempfile.TemporaryDirectory()
        self.found: list[tuple[str, bytes]] = []

    def collect(self, item: Any, page: int) -> None:
        from pdfminer.image import ImageWriter
        from pdfminer.layout import LTContainer, LTImage

        if isinstance(item, LTImage):
            try:
                name = ImageWriter(self._folder.name).export_image(item)
            except Exception:  # a format pdfminer cannot write: skip that image, keep the text
                return
            self.found.append((f"page-{page:04d}-{name}", (Path(self._folder.name) / name).read_bytes()))
        elif isinstance(item, LTContainer):
            for child in item:
                self.collect(child, page)

    def close(self) -> None:
        self._folder.cleanup()


# --- partition processes -------------------------------------------------------------------------

_pool: ProcessPoolExecutor | None = None
_pool_lock = threading.Lock()


def partition_fast_in_process(data: bytes, first: int, last: int, filename: str, source_id: int) -> PagesPartition:
    """partition_fast in one of the partition processes (started on first use, one per core)."""
    from blocks.embedder import available_cpus  # the calling process only: partition processes stay lean

    global _pool
    with _pool_lock:
        if _pool is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(PRELOAD)
            _pool = ProcessPoolExecutor(max_workers=available_cpus(), mp_context=context)
        pool = _pool
    return pool.submit(partition_fast, data, first, last, filename, source_id).result()


def close_partition_processes() -> None:
    """Stop the partition processes and their fork server (a flow run ends them when its pages are done).

    The fork server holds unstructured and spaCy in memory; the next long PDF starts a new one.
    """
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
        if pool is None:
            return
        pool.shutdown(wait=True, cancel_futures=True)
        from multiprocessing import forkserver

        stop = getattr(forkserver._forkserver, "_stop", None)  # CPython's own way to stop it (3.8+)
        if stop is not None:
            stop()
