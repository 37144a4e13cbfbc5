"""The embedded images of pdfminer layouts, kept as files of our own naming under PdfLimits."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import Any

from blocks.settings import PdfLimits
from tasks.pdf.document import PdfLimitExceeded


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
            except Exception:  # noqa: BLE001 — a format pdfminer cannot write: skip that image, keep the text
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
