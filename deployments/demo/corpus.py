"""A real corpus of publications for the recommender: PDF pages and HTML sections of local documents.

    python -m deployments.demo.corpus --database-url sqlite:///.nightshift/nightshift.db /path/to/docs

Each PDF page and each HTML section (about `section_words` words, cut at paragraph boundaries) becomes
one publication. Loading is idempotent: a publication whose title is already stored is skipped.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from store.db import session_scope
from store.recommender import ensure_publications

# PDFs that are documents to read (not encrypted or deliberately broken test files).
SKIP_PDFS = {"password.pdf", "invalid-pdf-structure-pdfminer-one-page.pdf"}
MIN_WORDS = 20


@dataclass(frozen=True)
class PublicationText:
    title: str
    body: str


def pdf_pages(path: Path, max_pages: int | None = None) -> Iterator[PublicationText]:
    """One publication per page with text (pypdfium2: the fastest text extraction measured here)."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(str(path))
    try:
        for number in range(min(len(document), max_pages or len(document))):
            page = document[number]
            text = page.get_textpage().get_text_range()
            body = _clean(text)
            if len(body.split()) >= MIN_WORDS:
                yield PublicationText(title=f"{path.stem}, page {number + 1}", body=body)
    finally:
        document.close()


def html_sections(path: Path, section_words: int = 400) -> Iterator[PublicationText]:
    """The main text of a page (trafilatura drops navigation and scripts), cut into sections."""
    import trafilatura

    text = trafilatura.extract(path.read_bytes(), include_tables=False, favor_recall=True) or ""
    section: list[str] = []
    number = 0
    for paragraph in [p.strip() for p in text.split("\n") if p.strip()] + [""]:
        if paragraph:
            section.append(paragraph)
        words = sum(len(p.split()) for p in section)
        if section and (words >= section_words or not paragraph):
            body = _clean("\n".join(section))
            section = []
            if len(body.split()) >= MIN_WORDS:
                number += 1
                yield PublicationText(title=f"{path.stem}, section {number}", body=body)


def _clean(text: str) -> str:
    """Join words hyphenated across lines and drop layout whitespace."""
    text = text.replace("\ufffe", "").replace("\u00ad", "")  # soft hyphens (pdfium reports U+FFFE)
    text = re.sub(r"(\w)-\s*\n\s*(\w)", r"\1\2", text.replace("\r", "\n"))
    return re.sub(r"[ \t\f\v]+", " ", re.sub(r"\s*\n\s*", "\n", text)).strip()


def publications_from(paths: Iterable[Path], max_pages: int | None = None) -> list[PublicationText]:
    """Publications from PDF and HTML files (folders are walked, sorted by name)."""
    found: list[PublicationText] = []
    for path in paths:
        files = sorted(path.rglob("*")) if path.is_dir() else [path]
        for file in files:
            if file.suffix.lower() == ".pdf" and file.name not in SKIP_PDFS:
                found.extend(pdf_pages(file, max_pages))
            elif file.suffix.lower() in {".html", ".htm"}:
                found.extend(html_sections(file))
    return found


def load_publications(database_url: str, publications: Iterable[PublicationText]) -> list[int]:
    """Insert the publications whose title is not stored yet; return the ids of all of them."""
    with session_scope(database_url) as session:
        return ensure_publications(session, [(p.title, p.body) for p in publications])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path, help="PDF or HTML files, or folders of them")
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--max-pages", type=int, default=None, help="pages per PDF at most")
    args = parser.parse_args(argv)
    ids = load_publications(args.database_url, publications_from(args.paths, args.max_pages))
    print(f"{len(ids)} publications in {args.database_url.split('@')[-1]}")


if __name__ == "__main__":
    main()
