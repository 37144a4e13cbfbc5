"""Hostile PDFs written as raw bytes: what an attacker uploads, built without any PDF library."""

from __future__ import annotations

import zlib


def _text_stream(text: str) -> bytes:
    return f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()


def build_pdf(pages: list[bytes | None], images: dict[bytes, bytes] | None = None,
              draw_images_on_first_page: bool = True) -> bytes:
    """A PDF with one content stream per page (None: an empty page) and image XObjects on the first page.

    `images` maps the raw XObject name as written in the file (e.g. b"/#2Ftmp#2Fx") to the whole image
    object (dictionary and stream); every image is drawn on the first page.
    """
    images = images or {}
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog = add(b"")  # filled below
    pages_id = add(b"")
    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    image_ids = {name: add(body) for name, body in images.items()}
    xobjects = b" ".join(name + b" " + f"{i} 0 R".encode() for name, i in image_ids.items())
    page_ids = []
    for number, content in enumerate(pages):
        draw = b""
        if number == 0 and draw_images_on_first_page:
            draw = b"".join(b"q 100 0 0 100 72 500 cm " + name + b" Do Q " for name in image_ids)
        stream = draw + (content or b"")
        content_id = add(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        resources = b"<< /Font << /F1 %d 0 R >> /XObject << %s >> >>" % (font, xobjects if number == 0 else b"")
        page_ids.append(add(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Resources %s /Contents %d 0 R >>"
                            % (pages_id, resources, content_id)))
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % pages_id
    kids = b" ".join(b"%d 0 R" % i for i in page_ids)
    objects[pages_id - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(page_ids))
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, catalog, xref)
    return bytes(out)


def text_page(text: str) -> bytes:
    return _text_stream(text)


def rgb_image(width: int = 2, height: int = 2) -> bytes:
    """A small deflated RGB image object (pdfminer writes it as a BMP)."""
    data = zlib.compress(b"\xff\x00\x00" * (width * height))
    return (b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB "
            b"/BitsPerComponent 8 /Filter /FlateDecode /Length %d >>\nstream\n" % (width, height, len(data))
            + data + b"\nendstream")


def huge_gray_image(width: int, height: int) -> bytes:
    """A width × height grey image of zeros, deflated: a few hundred KB that decode to width × height bytes."""
    compressor = zlib.compressobj(9)
    row_block = bytes(width * 64)
    parts = [compressor.compress(row_block) for _ in range(height // 64)]
    parts.append(compressor.compress(bytes(width * (height % 64))))
    parts.append(compressor.flush())
    data = b"".join(parts)
    return (b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
            b"/BitsPerComponent 8 /Filter /FlateDecode /Length %d >>\nstream\n" % (width, height, len(data))
            + data + b"\nendstream")


def bomb_pdf(decoded_bytes: int) -> bytes:
    """A one-page PDF whose content stream inflates to `decoded_bytes` bytes of spaces."""
    compressor = zlib.compressobj(1)  # fast to build; still about 1,000 to 1
    block = b" " * (1 << 20)
    data = b"".join(compressor.compress(block) for _ in range(decoded_bytes >> 20)) + compressor.flush()
    pdf = build_pdf([b"PLACEHOLDER"])
    stream = b"<< /Length 11 >>\nstream\nPLACEHOLDER\nendstream"
    replacement = b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(data) + data + b"\nendstream"
    return pdf.replace(stream, replacement)  # offsets are off now; every reader here repairs the xref
