"""What reaches the chunks of a PDF: every word of its text layer, as paragraphs a reader would write.

Each defect is shown on the old assembly (one element per PDF line, top-level text boxes only, kept
behind NIGHTSHIFT_PDF_ASSEMBLY=lines) and fixed on the default one.
"""

from __future__ import annotations

import re

import pytest
from conftest import SHARED_DATA
from pdf_samples import build_pdf, scanned_pdf

from tasks.pdf.chunk import CHUNK_MAX_CHARS, chunk_elements
from tasks.pdf.coverage import artefacts, measure, page_texts
from tasks.pdf.ocr import paragraphs_of, read_page
from tasks.pdf.paragraphs import Line, box_paragraphs, clean_text, join_lines, sentence_pieces, sentences
from tasks.pdf.partition import count_pages, open_pdf, partition_fast, scanned_pages

PDF = SHARED_DATA / "pdf"
BODY = ["The annual report describes the connais-", "sance of the market and the results of the",
        "year in detail. Revenue grew by ten percent."]
FIGURE = ["Figure text: operating margin rose to twelve percent.", "Net income doubled compared with the previous year."]
STAMP = "arXiv:2612.00001v1 [cs.CL] 1 Dec 2026"
SENTENCE_END = re.compile(r"[.!?:;][\"'”’)\]]*$")


def _texts(data: bytes, assembly: str = "paragraphs") -> list[str]:
    return [e.text for e in partition_fast(data, 0, count_pages(data, 1), "x.pdf", 1, assembly=assembly).elements]


def test_text_inside_a_form_xobject_reaches_the_chunks() -> None:
    data = build_pdf([{"body": BODY, "figure": FIGURE}, {"figure": ["Second page only has figure text here."]}])
    old, new = _texts(data, "lines"), _texts(data)
    assert not any("operating margin" in t for t in old)  # the defect: figure text was dropped
    assert any("operating margin rose to twelve percent" in t for t in new)
    assert any("Second page only has figure text" in t for t in new)
    assert measure(page_texts(data, 1), old).share < 0.8
    assert measure(page_texts(data, 1), new).share == 1.0


def test_lines_become_paragraphs_without_broken_words() -> None:
    data = build_pdf([{"body": BODY}])
    assert _texts(data, "lines")[:2] == BODY[:2]
    [paragraph] = _texts(data)
    assert paragraph == ("The annual report describes the connaissance of the market and the results of the "
                         "year in detail. Revenue grew by ten percent.")


def test_a_rotated_margin_stamp_is_one_line() -> None:
    data = build_pdf([{"body": BODY, "stamp": STAMP}])
    old = _texts(data, "lines")
    assert sum(len(t) == 1 for t in old) > 20  # the defect: one element per letter
    new = _texts(data)
    assert STAMP in new and not any(len(t) <= 2 for t in new)


def test_a_real_paper_keeps_its_text_layer_without_artefacts() -> None:
    """multi-column.pdf (13 pages, two columns): ligatures, (cid:NN), hyphenation, columns."""
    data = (PDF / "multi-column.pdf").read_bytes()
    old_chunks = [c.text for c in chunk_elements(partition_fast(data, 0, 13, "x.pdf", 1, assembly="lines").elements)]
    old = artefacts("\n".join(old_chunks))
    assert old.get("ligature", 0) > 50 and old.get("cid", 0) > 10
    chunks = [c.text for c in chunk_elements(partition_fast(data, 0, 13, "x.pdf", 1).elements)]
    found = artefacts("\n".join(chunks))
    assert not found.get("ligature") and not found.get("cid") and not found.get("control"), found
    assert found.get("broken word", 0) <= 2, found
    coverage = measure(page_texts(data, 1), chunks)
    assert coverage.share is not None and coverage.share >= 0.98, coverage
    assert all(len(c) <= CHUNK_MAX_CHARS for c in chunks)
    ending = sum(bool(SENTENCE_END.search(c)) for c in chunks) / len(chunks)
    old_ending = sum(bool(SENTENCE_END.search(c)) for c in old_chunks) / len(old_chunks)
    assert ending >= 0.8 and old_ending < 0.5, (ending, old_ending)


def test_a_real_paper_s_rotated_arxiv_stamp_is_read() -> None:
    texts = _texts((PDF / "layout-parser-paper-fast.pdf").read_bytes())
    assert "arXiv:2103.15348v2 [cs.CV] 21 Jun 2021" in texts


def test_pages_without_a_text_layer_are_named() -> None:
    data = (PDF / "loremipsum-flat.pdf").read_bytes()
    coverage = measure(page_texts(data, 1), [])
    assert coverage.share is None and coverage.pages_without_text == [1]


@pytest.mark.parametrize(("raw", "clean"), [
    ("e\ufb03cient \ufb01eld", "efficient field"),
    ("the (cid:12)value(cid:3) is", "the value is"),
    ("a\u00adb\x07c\ufffe d", "abc d"),
    ("Ｆｕｌｌ ｗｉｄｔｈ", "Full width"),
])
def test_clean_text(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean


def test_line_end_hyphens() -> None:
    assert join_lines(["connais-", "sance"]) == "connaissance"
    assert join_lines(["state-of-the-", "art methods"]) == "state-of-the-art methods"
    assert join_lines(["Franco-", "German talks"]) == "Franco-German talks"
    assert join_lines(["a list -", "item"]) == "a list - item"


def test_paragraph_ends_and_list_items_split_a_box() -> None:
    lines = [Line("First paragraph starts here and runs on to", 0, 300),
             Line("the end of its sentence.", 0, 150),
             Line("Second paragraph starts here.", 0, 300),
             Line("• a bullet item", 0, 120),
             Line("• another item", 0, 120)]
    assert box_paragraphs(lines) == ["First paragraph starts here and runs on to the end of its sentence.",
                                     "Second paragraph starts here.", "• a bullet item", "• another item"]


def test_sentences_and_pieces() -> None:
    text = ("Dr. Smith et al. measured it, e.g. in Fig. 3. The result was clear! Was it new? "
            "Il a dit: « Non. » Yes, J. R. R. Tolkien wrote it.")
    assert sentences(text) == ["Dr. Smith et al. measured it, e.g. in Fig. 3.", "The result was clear!",
                               "Was it new?", "Il a dit: « Non. » Yes, J. R. R. Tolkien wrote it."]
    long = " ".join(f"Sentence number {i} says something about the topic at hand." for i in range(30))
    pieces = sentence_pieces(long, 200)
    assert " ".join(pieces) == long and all(len(p) <= 200 and p.endswith(".") for p in pieces)


def test_a_scanned_page_is_found_and_read_by_ocr() -> None:
    data = scanned_pdf(["Scanned invoices are read by optical character", "recognition on the worker."])
    assert scanned_pages(data, 1) == [1]
    assert scanned_pages(build_pdf([{"body": BODY}]), 1) == []  # a text layer: nothing to OCR
    document = open_pdf(data, 1)
    try:
        [paragraph] = read_page(document, 0, 150)
    finally:
        document.close()
    # RapidOCR's recognition model (trained mostly on Chinese) often drops spaces in English text.
    assert "scannedinvoicesarereadbyopticalcharacterrecognitionontheworker" in "".join(paragraph.split()).lower()


def test_ocr_lines_become_paragraphs_by_their_gaps() -> None:
    def box(top: float, left: float, right: float) -> list[list[float]]:
        return [[left, top], [right, top], [right, top + 20], [left, top + 20]]

    lines = [(box(100, 10, 400), "A first paragraph that runs over"), (box(124, 10, 200), "two lines."),
             (box(200, 10, 400), "A second one after a gap.")]
    assert paragraphs_of(lines) == ["A first paragraph that runs over two lines.", "A second one after a gap."]
