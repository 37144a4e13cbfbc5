"""PDFs made for tests, byte by byte: text inside a form XObject, a rotated margin stamp, hyphenated lines."""

from __future__ import annotations

import io


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _text_lines(lines: list[str], x: float, y: float, size: float = 11) -> str:
    shown = " T* ".join(f"({_escape(line)}) Tj" for line in lines)
    return f"BT /F1 {size} Tf {size * 1.25:.1f} TL {x} {y} Td {shown} ET"


def build_pdf(pages: list[dict[str, object]]) -> bytes:
    """A PDF of Helvetica text. Each page: body (lines at the top), figure (lines drawn by a form
    XObject), stamp (one line rotated 90 degrees in the left margin), each optional."""
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog = add(b"")  # filled in below
    pages_obj = add(b"")
    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    kids = []
    for page in pages:
        content, xobjects = [], ""
        if page.get("body"):
            content.append(_text_lines(list(page["body"]), 72, 720))  # type: ignore[arg-type]
        if page.get("figure"):
            form = _text_lines(list(page["figure"]), 10, 280).encode()  # type: ignore[arg-type]
            fm = add(b"<< /Type /XObject /Subtype /Form /BBox [0 0 468 300] /Resources << /Font << /F1 %d 0 R >> >> "
                     b"/Length %d >>\nstream\n%s\nendstream" % (font, len(form), form))
            xobjects = f"/XObject << /Fm1 {fm} 0 R >>"
            content.append("q 1 0 0 1 72 300 cm /Fm1 Do Q")
        if page.get("stamp"):
            content.append(f"BT /F1 9 Tf 0 1 -1 0 30 250 Tm ({_escape(str(page['stamp']))}) Tj ET")
        stream = "\n".join(content).encode()
        contents = add(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
        kids.append(add(f"<< /Type /Page /Parent {pages_obj} 0 R /MediaBox [0 0 612 792] "
                        f"/Resources << /Font << /F1 {font} 0 R >> {xobjects} >> /Contents {contents} 0 R >>".encode()))
    objects[catalog - 1] = f"<< /Type /Catalog /Pages {pages_obj} 0 R >>".encode()
    objects[pages_obj - 1] = f"<< /Type /Pages /Kids [{' '.join(f'{k} 0 R' for k in kids)}] /Count {len(kids)} >>".encode()
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, catalog, xref))
    return out.getvalue()


def with_scanned_page(text_pdf: bytes, scanned_pdf: bytes) -> bytes:
    """The pages of `text_pdf` followed by those of `scanned_pdf` (pages with images and no text layer)."""
    import pypdfium2 as pdfium

    merged = pdfium.PdfDocument.new()
    for data in (text_pdf, scanned_pdf):
        source = pdfium.PdfDocument(data)
        merged.import_pages(source)
    buffer = io.BytesIO()
    merged.save(buffer)
    return buffer.getvalue()


def scanned_pdf(lines: list[str], dpi: int = 150) -> bytes:
    """A one-page PDF whose only content is a picture of `lines` (no text layer), as a scanner makes."""
    import pypdfium2 as pdfium

    source = pdfium.PdfDocument(build_pdf([{"body": lines}]))
    top = 792 - 720 - 14  # the body starts at y=720 with 11 pt text
    bitmap = source[0].render(scale=dpi / 72, crop=(50, 792 - 72 - 14 * (len(lines) + 2), 60, top))
    width, height = bitmap.width * 72 / dpi, bitmap.height * 72 / dpi
    document = pdfium.PdfDocument.new()
    page = document.new_page(width, height)
    image = pdfium.PdfImage.new(document)
    image.set_bitmap(bitmap)
    image.set_matrix(pdfium.PdfMatrix().scale(width, height))
    page.insert_obj(image)
    page.gen_content()
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()
