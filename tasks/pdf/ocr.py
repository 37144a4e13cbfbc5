"""Reading pages that have no text layer (scanned pages) with OCR, offline on CPU.

RapidOCR (rapidocr-onnxruntime) runs PaddleOCR's detection and recognition models with onnxruntime;
the models ship inside the wheel, so nothing is downloaded. A page is rendered by pdfium, its text
lines are detected and read, and lines close below one another become paragraphs, cleaned and cut
like the text layer's (tasks.pdf.paragraphs). On this machine kind a page costs seconds to tens of
seconds of CPU, so pages are read up to NIGHTSHIFT_PDF_OCR_MAX_PAGES per document.
"""

from __future__ import annotations

import threading
from typing import Any

from tasks.pdf.paragraphs import Line, box_paragraphs

_engine: Any = None
_engine_lock = threading.Lock()


class OcrUnavailable(RuntimeError):
    """The OCR package is not installed on this worker."""


def ocr_engine() -> Any:
    """The RapidOCR engine, loaded once per process (its models come from the installed package)."""
    global _engine
    with _engine_lock:
        if _engine is None:
            try:
                from rapidocr_onnxruntime import RapidOCR
            except ImportError as exc:
                raise OcrUnavailable(f"OCR needs rapidocr-onnxruntime, which this worker lacks ({exc})") from None
            _engine = RapidOCR()
        return _engine


def read_page(document: Any, index: int, dpi: int) -> list[str]:
    """The paragraphs OCR reads on page `index` (zero-based) of a pdfium document."""
    page = document[index]
    try:
        image = page.render(scale=dpi / 72).to_numpy()
    finally:
        page.close()
    found, _ = ocr_engine()(image, use_cls=False)
    return paragraphs_of([(box, text) for box, text, _score in found or []])


def paragraphs_of(lines: list[tuple[list[list[float]], str]]) -> list[str]:
    """OCR lines (corner points, text) as paragraphs: top to bottom, a new one after a gap taller than a line."""
    placed = sorted(
        ((min(p[1] for p in box), max(p[1] for p in box), min(p[0] for p in box), max(p[0] for p in box), text)
         for box, text in lines if text.strip()),
    )
    groups: list[list[tuple[float, float, float, float, str]]] = []
    for line in placed:
        top, bottom = line[0], line[1]
        if groups and top - groups[-1][-1][1] <= (bottom - top):
            groups[-1].append(line)
        else:
            groups.append([line])
    return [text for group in groups
            for text in box_paragraphs([Line(text, x0, x1) for _, _, x0, x1, text in group])]
