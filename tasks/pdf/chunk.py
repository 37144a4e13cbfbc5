"""Chunking a PDF's elements by title (spec 6 sizes); each chunk keeps the page it starts on."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

# Spec 6: chunk by title, at most 512 characters, a new chunk after 384, sections under 256 combined.
CHUNK_MAX_CHARS = 512
CHUNK_NEW_AFTER_CHARS = 384
CHUNK_COMBINE_UNDER_CHARS = 256


class PdfChunk(BaseModel):
    position: int
    text: str
    page_number: int | None


def chunk_elements(elements: list[Any]) -> list[PdfChunk]:
    """Chunk by title with the spec's sizes; each chunk keeps the page it starts on."""
    from unstructured.chunking.title import chunk_by_title

    chunks = chunk_by_title(
        elements, max_characters=CHUNK_MAX_CHARS, new_after_n_chars=CHUNK_NEW_AFTER_CHARS,
        combine_text_under_n_chars=CHUNK_COMBINE_UNDER_CHARS,
    )
    return [
        PdfChunk(position=i, text=chunk.text, page_number=chunk.metadata.page_number)
        for i, chunk in enumerate(c for c in chunks if c.text.strip())
    ]


def in_page_order(parts: list[Any]) -> list[Any]:
    """The elements of partitions (page batches, pages read by OCR) in page order, each page's as found."""
    elements = [element for part in parts for element in part.elements]
    return sorted(elements, key=lambda e: e.metadata.page_number or 0)


def element_kinds(elements: list[Any]) -> dict[str, int]:
    kinds: dict[str, int] = {}
    for element in elements:
        kinds[type(element).__name__] = kinds.get(type(element).__name__, 0) + 1
    return dict(sorted(kinds.items(), key=lambda item: -item[1]))


def table_files(elements: list[Any]) -> list[tuple[str, bytes]]:
    """Tables as HTML files: every table hi_res finds, the ruled ones the fast strategy finds (tasks.pdf.tables)."""
    tables = [e for e in elements if type(e).__name__ == "Table"]
    return [
        (f"table-{i:04d}-page-{t.metadata.page_number or 0}.html",
         (t.metadata.text_as_html or f"<pre>{t.text}</pre>").encode())
        for i, t in enumerate(tables, start=1)
    ]


def chunk_id(source_id: int, position: int) -> str:
    """Ids scoped by source: re-ingesting a source overwrites its own ids and nothing else."""
    return f"source-{source_id}-{position}"
