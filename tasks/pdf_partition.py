"""Partitioning PDF pages with unstructured, without Prefect: what the partition processes import.

A long PDF's page batches are partitioned side by side in processes (pdfminer holds the GIL). They
fork from a multiprocessing fork server that has imported pdfminer, unstructured and spaCy once, so
a batch starts at once; the processes import neither Prefect nor nightshift's blocks (only its settings).
Each batch runs in a process of its own under an address-space and a time limit (PdfLimits).
"""

from __future__ import annotations

import os

# unstructured reads these at import: no call home, no nvidia-smi probe.
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("UNSTRUCTURED_DISABLE_NOTICE", "1")

import hashlib  # noqa: E402
import io  # noqa: E402
import re  # noqa: E402
import resource  # noqa: E402
import signal  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from concurrent.futures.process import BrokenProcessPool  # noqa: E402
from multiprocessing import context as mp_context  # noqa: E402
from multiprocessing import forkserver, popen_forkserver, reduction, spawn, util  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from pydantic import BaseModel  # noqa: E402

from blocks.settings import PdfLimits  # noqa: E402

# What the fork server imports before forking a partition process (the costly part of a start).
PRELOAD = [__name__, "pdfminer.converter", "pdfminer.pdfinterp", "pdfminer.pdfpage", "pdfminer.layout",
           "pdfminer.image", "unstructured.partition.text", "unstructured.cleaners.core",
           "unstructured.documents.elements", "spacy", "pypdfium2", "blocks.settings"]


class PdfRejected(ValueError):
    """The file is not an ingestible PDF (encrypted, empty, corrupt, not a PDF): retrying cannot help."""


class PdfLimitExceeded(PdfRejected):
    """The PDF needs more than a worker grants one document (pages, pixels, bytes, memory, time)."""


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


def partition_fast(data: bytes, first: int, last: int, filename: str, source_id: int,
                   limits: PdfLimits | None = None) -> PagesPartition:
    """unstructured's "fast" strategy on pages [first, last): pdfminer text boxes, classified by unstructured.

    The same pdfminer pass collects the embedded images. pdfminer reads only a copy of those pages:
    finding page `first` in the whole document would walk every page before it, for every batch.
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

    limits = limits or PdfLimits()
    use_offline_sentence_model()
    manager = PDFResourceManager()
    device = PDFPageAggregator(manager, laparams=LAParams())
    interpreter = PDFPageInterpreter(manager, device)
    elements: list[Any] = []
    images = ImageCollector(source_id, limits)
    try:
        pages = PDFPage.get_pages(io.BytesIO(page_range(data, first, last, source_id)))
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
    return PagesPartition(elements=elements, images=images.found)


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
    """Keeps the embedded images of pdfminer layouts (JPEG/JPEG 2000 as stored, others as BMP).

    Names are ours (page, index, content hash): an image's name in the PDF is the attacker's choice,
    and pdfminer's ImageWriter would write to it as a path. Sizes are checked before anything is decoded.
    """

    def __init__(self, source_id: int, limits: PdfLimits) -> None:
        self._folder = tempfile.TemporaryDirectory()
        self.source_id, self.limits = source_id, limits
        self.found: list[tuple[str, bytes]] = []

    def collect(self, item: Any, page: int) -> None:
        from pdfminer.image import ImageWriter
        from pdfminer.layout import LTContainer, LTImage

        if isinstance(item, LTImage):
            if not self._within_limits(item, page):
                return
            index = len(self.found) + 1
            item.name = f"image-{index}"  # the file pdfminer writes: ours, inside our folder
            try:
                written = Path(self._folder.name) / ImageWriter(self._folder.name).export_image(item)
            except Exception:  # a format pdfminer cannot write: skip that image, keep the text
                return
            size = written.stat().st_size
            if size > self.limits.max_asset_bytes:
                raise PdfLimitExceeded(
                    f"source {self.source_id}: an image on page {page} is {size:,} bytes, over the limit of "
                    f"{self.limits.max_asset_bytes:,} (NIGHTSHIFT_PDF_MAX_ASSET_BYTES)"
                )
            content = written.read_bytes()
            written.unlink()
            digest = hashlib.sha256(content).hexdigest()[:16]
            self.found.append((f"page-{page:04d}-image-{index:03d}-{digest}{written.suffix}", content))
        elif isinstance(item, LTContainer):
            for child in item:
                self.collect(child, page)

    def _within_limits(self, image: Any, page: int) -> bool:
        """False for an image without a usable size (skipped, as pdfminer would); PdfLimitExceeded when too big."""
        from pdfminer.pdftypes import resolve1

        width, height = (resolve1(value) for value in image.srcsize)
        if not isinstance(width, int) or not isinstance(height, int) or width <= 0 or height <= 0:
            return False
        if width * height > self.limits.max_image_pixels:
            raise PdfLimitExceeded(
                f"source {self.source_id}: an image on page {page} is {width} × {height} pixels, over the limit "
                f"of {self.limits.max_image_pixels:,} pixels (NIGHTSHIFT_PDF_MAX_IMAGE_PIXELS)"
            )
        image.srcsize = (width, height)
        return True

    def close(self) -> None:
        self._folder.cleanup()


# --- partition processes -------------------------------------------------------------------------


class _LibraryPopen(popen_forkserver.Popen):
    """Starts a process without importing the caller's __main__ in it.

    multiprocessing re-runs the main script in every child so that functions defined there can be
    unpickled; a script that calls ingest_pdf without an `if __name__ == "__main__"` guard would run
    again in each partition process. These processes only run functions of this module.
    """

    def _launch(self, process_obj: Any) -> None:  # CPython 3.11's, less the main module
        prep_data = spawn.get_preparation_data(process_obj._name)
        prep_data.pop("init_main_from_path", None)
        prep_data.pop("init_main_from_name", None)
        buf = io.BytesIO()
        mp_context.set_spawning_popen(self)
        try:
            reduction.dump(prep_data, buf)
            reduction.dump(process_obj, buf)
        finally:
            mp_context.set_spawning_popen(None)
        self.sentinel, w = forkserver.connect_to_new_process(self._fds)
        _parent_w = os.dup(w)
        self.finalizer = util.Finalize(self, util.close_fds, (_parent_w, self.sentinel))
        with open(w, "wb", closefd=True) as f:
            f.write(buf.getbuffer())
        self.pid = forkserver.read_signed(self.sentinel)


class _LibraryProcess(mp_context.ForkServerProcess):
    @staticmethod
    def _Popen(process_obj: Any) -> _LibraryPopen:
        return _LibraryPopen(process_obj)


class _LibraryContext(mp_context.ForkServerContext):
    Process = _LibraryProcess  # type: ignore[assignment]


def _on_alarm(signum: int, frame: Any) -> None:
    raise _OutOfTime


class _OutOfTime(BaseException):  # noqa: N818 — no `except Exception` inside pdfminer may swallow it
    """Raised by the alarm wherever pdfminer is; turned into PdfLimitExceeded."""


def partition_limited(data: bytes, first: int, last: int, filename: str, source_id: int,
                      limits: PdfLimits) -> PagesPartition:
    """partition_fast inside a partition process, under the memory and time limits (one batch per process)."""
    memory = limits.partition_memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    # The CPU limit backs the alarm up where a C call (zlib, say) does not return to Python in time.
    resource.setrlimit(resource.RLIMIT_CPU, (limits.partition_seconds + 10, limits.partition_seconds + 15))
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(limits.partition_seconds)
    try:
        return partition_fast(data, first, last, filename, source_id, limits)
    except MemoryError:
        raise PdfLimitExceeded(
            f"source {source_id}: pages {first + 1}-{last} need more than {limits.partition_memory_mb} MiB "
            "(NIGHTSHIFT_PDF_PARTITION_MEMORY_MB)"
        ) from None
    except _OutOfTime:
        raise PdfLimitExceeded(
            f"source {source_id}: pages {first + 1}-{last} took longer than {limits.partition_seconds} s "
            "(NIGHTSHIFT_PDF_PARTITION_SECONDS)"
        ) from None
    finally:
        signal.alarm(0)


_pool: ProcessPoolExecutor | None = None
_pool_lock = threading.Lock()


def partition_fast_in_process(data: bytes, first: int, last: int, filename: str, source_id: int) -> PagesPartition:
    """partition_fast in a partition process of its own, under PdfLimits (processes started on first use)."""
    from blocks.embedder import available_cpus  # the calling process only: partition processes stay lean

    global _pool
    limits = PdfLimits()
    with _pool_lock:
        if _pool is None:
            context = _LibraryContext()
            context.set_forkserver_preload(PRELOAD)
            # One batch per process: its limits are its own, and a process that hit one is gone.
            _pool = ProcessPoolExecutor(max_workers=available_cpus(), mp_context=context, max_tasks_per_child=1)
        pool = _pool
    future = pool.submit(partition_limited, data, first, last, filename, source_id, limits)
    try:
        # No timeout here: batches wait in the pool's queue; each one's own time runs in its process.
        return future.result()
    except BrokenProcessPool:
        with _pool_lock:
            if _pool is pool:  # the next batch gets fresh processes
                _pool = None
        pool.shutdown(wait=False, cancel_futures=True)
        raise PdfLimitExceeded(
            f"source {source_id}: the partition process of pages {first + 1}-{last} was stopped; it may have "
            f"exceeded {limits.partition_memory_mb} MiB (NIGHTSHIFT_PDF_PARTITION_MEMORY_MB) or "
            f"{limits.partition_seconds} s (NIGHTSHIFT_PDF_PARTITION_SECONDS)"
        ) from None


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
        stop = getattr(forkserver._forkserver, "_stop", None)  # CPython's own way to stop it (3.8+)
        if stop is not None:
            stop()
