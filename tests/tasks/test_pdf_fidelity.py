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
from tasks.pdf.document import count_pages, open_pdf, scanned_pages
from tasks.pdf.ocr import paragraphs_of, read_page
from tasks.pdf.paragraphs import (
    Line,
    box_paragraphs,
    clean_text,
    join_lines,
    join_spaced_letters,
    sentence_pieces,
    sentences,
)
from tasks.pdf.partition import partition_fast

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
    assert not found.get("broken word"), found  # "single- and multi-dataset" is a suspended hyphen, not one
    assert artefacts("single- and multi-dataset; Ein- und Ausgang") == {} and artefacts("connais- sance") == {"broken word": 1}
    coverage = measure(page_texts(data, 1), chunks)
    assert coverage.share is not None and coverage.share >= 0.98, coverage
    assert all(len(c) <= CHUNK_MAX_CHARS for c in chunks)
    ending = sum(bool(SENTENCE_END.search(c)) for c in chunks) / len(chunks)
    old_ending = sum(bool(SENTENCE_END.search(c)) for c in old_chunks) / len(old_chunks)
    assert ending >= 0.8 and old_ending < 0.5, (ending, old_ending)


def test_letter_spaced_words_are_joined_where_the_text_layer_has_them_whole() -> None:
    """a1977-backus-p21.pdf sets formula words letter by letter ("p M L A S T"); pdfium's text layer has
    "pMLAST". They are joined (coverage 0.945 before, at least 0.98 now); single letters the layer also
    keeps apart stay apart."""
    data = (PDF / "a1977-backus-p21.pdf").read_bytes()
    chunks = [c.text for c in chunk_elements(partition_fast(data, 0, count_pages(data, 1), "x.pdf", 1).elements)]
    text = "\n".join(chunks)
    assert "p M L A S T" not in text and "pMLAST" in text and "Deff" in text
    coverage = measure(page_texts(data, 1), chunks)
    assert coverage.share is not None and coverage.share >= 0.98, coverage
    layer = "Def pCONS and the list a b c"
    assert join_spaced_letters("Def p C O N S and a b c", lambda: layer) == "Def pCONS and a b c"
    assert join_spaced_letters("no spaced letters here", lambda: 1 / 0) == "no spaced letters here"  # type: ignore[arg-type,return-value]


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


def _tables(data: bytes, **options: object) -> tuple[list[object], list[list[list[str]]]]:
    """The elements of a PDF, and the rows of each Table element's HTML (cell texts)."""
    from lxml import html

    elements = partition_fast(data, 0, count_pages(data, 1), "x.pdf", 1, **options).elements  # type: ignore[arg-type]
    grids = [[[cell.text_content() for cell in row.iter("td")] for row in html.fromstring(e.metadata.text_as_html).iter("tr")]
             for e in elements if type(e).__name__ == "Table"]
    return elements, grids


@pytest.mark.parametrize(("name", "rows", "once"), [
    # Rules above, under the header and below only (as papers set tables); rows are the body's lines.
    ("embedded-images-tables.pdf",
     [["Inhibitor concentration (g)", "bc (V/dec)", "ba (V/dec)", "Ecorr (V)", "icorr (A/cm2)",
       "Polarization resistance (Ω)", "Corrosion rate (mm/year)"],
      ["6", "0.3233", "0.0540", "0.8027", "5.39E-05", "373.180", "0.4318"]],
     ["373.180", "5.39E-05", "Polarization resistance"]),
    # Two tables side by side, a rule under every row.
    ("korean-text-with-tables.pdf", [["주유", "모든 주유소"], ["제과점", "파리바게뜨, 뚜레쥬르"], ["업종", "적립 대상"]],
     ["모든 주유소", "파리바게뜨", "세븐일레븐"]),
    # A few vertical rules between some columns: one table, not a part of it.
    ("layout-parser-paper-with-table.pdf",
     [["Dataset", "Base Model1", "Large Model", "Notes"],
      ["PRImA [3]", "M", "-", "Layouts of scanned modern magazines and scientific reports"]],
     ["HJDataset", "Layouts of history Japanese documents"]),
])
def test_a_real_ruled_table_is_a_table_element_and_its_words_appear_once(name: str, rows: list[list[str]],
                                                                           once: list[str]) -> None:
    data = (PDF / name).read_bytes()
    elements, grids = _tables(data)
    found = [row for grid in grids for row in grid]
    for row in rows:
        assert row in found, (row, grids)
    if name == "layout-parser-paper-with-table.pdf":
        assert len(grids) == 1 and len(grids[0]) == 6
    texts = [str(e.text) for e in elements]  # type: ignore[attr-defined]
    for cell in once:
        assert sum(text.count(cell) for text in texts) == 1, cell
    without, no_grids = _tables(data, tables=False)
    assert not no_grids
    chunks = [c.text for c in chunk_elements(elements)]
    old = [c.text for c in chunk_elements(without)]
    layer = page_texts(data, 1)
    assert measure(layer, chunks).share >= measure(layer, old).share  # type: ignore[operator]


def _grid_pdf(caption: str, rows: list[list[str]]) -> bytes:
    """One page: a caption line, then a table with every cell ruled (Helvetica, 120 x 20 points a cell)."""
    content = [f"BT /F1 11 Tf 72 720 Td ({caption}) Tj ET"]
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            x, y = 72 + 120 * c, 680 - 20 * r
            content += [f"{x} {y} 120 20 re S", f"BT /F1 10 Tf {x + 4} {y + 6} Td ({cell}) Tj ET"]
    stream = "\n".join(content).encode()
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
               b"/Contents 5 0 R >>", b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream)]
    out, offsets = bytearray(b"%PDF-1.7\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 6\n0000000000 65535 f \n" + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size 6 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def test_a_ruled_grid_is_a_table_after_its_caption() -> None:
    rows = [["Region", "Revenue", "Margin"], ["North", "1,204", "12.5%"], ["South", "877", "9.1%"]]
    data = _grid_pdf("Table 2: Revenue by region in the last quarter.", rows)
    elements, grids = _tables(data)
    assert grids == [rows]
    assert [type(e).__name__ for e in elements][1:] == ["Table"]  # the caption (a Title here), then the table
    assert elements[0].text == "Table 2: Revenue by region in the last quarter."  # type: ignore[attr-defined]
    assert elements[1].text == "Region Revenue Margin\nNorth 1,204 12.5%\nSouth 877 9.1%"  # type: ignore[attr-defined]
    assert "North" not in elements[0].text  # type: ignore[attr-defined]
    assert measure(page_texts(data, 1), [str(e.text) for e in elements]).share == 1.0  # type: ignore[attr-defined]
    assert not _tables(data, assembly="lines")[1]  # the old assembly stays as it was


def test_only_pages_whose_layout_holds_rules_are_parsed_by_pdfplumber() -> None:
    def searched(name: str) -> list[int]:
        data = (PDF / name).read_bytes()
        return partition_fast(data, 0, count_pages(data, 1), name, 1).table_pages

    # multi-column.pdf: its tables are on pages 4, 5, 6, 8 and 13; pages 1-3, 7 and 9-11 hold a rule or none.
    assert searched("multi-column.pdf") == [4, 5, 6, 8, 12, 13]
    assert searched("layout-parser-paper-fast.pdf") == []
    # single_table.pdf is a picture of a table (no text layer, a frame): OCR reads it, no table is sought.
    assert searched("single_table.pdf") == [] and scanned_pages((PDF / "single_table.pdf").read_bytes(), 1) == [1]
    data = (PDF / "multi-column.pdf").read_bytes()
    assert partition_fast(data, 0, 13, "x.pdf", 1, tables=False).table_pages == []
