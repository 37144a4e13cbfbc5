"""Text of documents (spec 4, 5): decode HTML, extract the main text, find links, split into chunks.

Main text comes from trafilatura, chosen on cleanliness, measured on ../shared/data/html with
bench/html_extraction.py: it dropped every boilerplate marker (header/footer, "Donate" menus, scripts)
and lost no text marker, while unstructured's partition_html kept the footer and the site menu as
elements of their own. partition_html is faster once warm (its sentence model aside), but it needs the
spaCy model en_core_web_sm, which is not installed and must not be downloaded at run time. trafilatura
(0.6-1 s on the 2.4 MB 10-K page) returns nothing for pages that are only a heading or a fragment
(fake-html-lang-de.html): those fall back to the page's visible text.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass

import charset_normalizer
import lxml.html
import trafilatura
from langchain_text_splitters import RecursiveCharacterTextSplitter
from trafilatura.metadata import Document

CHUNK_SIZE = 1000
CHUNK_OVERLAP = 100
# Paragraphs, then lines, then sentence ends (with closing quotes or citation marks such as "[3]",
# and CJK full stops), then clauses and words. Regular expressions.
SENTENCE_SEPARATORS = [
    r"\n\n", r"\n", r"[.!?…](?:\[\d+\]|[\"”’»)\]])*\s+", r"[。！？]", r";\s+", r",\s+", r"\s+", "",
]
# Undeclared, non-UTF-8 pages detected as any Latin code page read as windows-1252: the web's default,
# and a detector cannot tell these apart on short pages.
LATIN_CODE_PAGES = {"cp1250", "cp1252", "cp1254", "cp1257", "latin_1", "iso8859_2", "iso8859_15", "mac_latin2",
                    "mac_roman", "mac_iceland", "cp850", "cp437"}
META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([\w.:-]+)""", re.IGNORECASE)
INVISIBLE_TAGS = ("script", "style", "noscript", "template", "nav", "header", "footer", "aside")


@dataclass
class PageText:
    title: str
    text: str
    language: str | None


def decode_html(raw: bytes, declared_charset: str | None) -> str:
    """The page as text: the HTTP charset, else the <meta> charset, else UTF-8, else a detected one."""
    for charset in (declared_charset, _meta_charset(raw)):
        if charset:
            # Browsers read pages labelled latin-1 as windows-1252 (WHATWG encoding standard).
            if charset.lower().replace("_", "-") in ("iso-8859-1", "latin1", "latin-1", "us-ascii", "ascii"):
                charset = "cp1252"
            try:
                return raw.decode(charset)
            except (LookupError, UnicodeDecodeError):
                continue
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        best = charset_normalizer.from_bytes(raw).best()
        if best is None or best.encoding in LATIN_CODE_PAGES:
            return raw.decode("cp1252", "replace")
        return str(best)


def _meta_charset(raw: bytes) -> str | None:
    match = META_CHARSET.search(raw[:4096])
    return match.group(1).decode("ascii") if match else None


def normalize_text(text: str) -> str:
    """NFC, no control characters, single spaces inside lines, at most one blank line between blocks."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
    lines = [" ".join(line.split()) for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def extract_main_text(raw: bytes, declared_charset: str | None, url: str | None = None) -> PageText:
    """Title and main text of an HTML page (boilerplate removed), with its language when known."""
    html = decode_html(raw, declared_charset)
    extracted = trafilatura.bare_extraction(
        html, url=url, include_tables=True, include_comments=False, with_metadata=True
    )
    document = extracted if isinstance(extracted, Document) else None  # a dict only with as_dict=True
    text = normalize_text(document.text or "") if document is not None else ""
    title = (document.title or "") if document is not None else ""
    language = document.language if document is not None else None
    tree = _parse(html)
    if not text and tree is not None:
        text = visible_text(tree)
    if not title and tree is not None:
        title = _first_heading(tree)
    if language is None and tree is not None:
        language = (tree.get("lang") or "").split("-")[0].lower() or None
    return PageText(title=normalize_text(title)[:500], text=text, language=language)


def _parse(html: str) -> lxml.html.HtmlElement | None:
    try:
        return lxml.html.document_fromstring(html)
    except (lxml.etree.ParserError, ValueError):
        return None


def visible_text(tree: lxml.html.HtmlElement) -> str:
    """All text a reader sees, without scripts, styles and page chrome (for pages trafilatura skips)."""
    for element in tree.xpath("//" + " | //".join(INVISIBLE_TAGS)):
        element.drop_tree()
    blocks = tree.xpath("//h1|//h2|//h3|//h4|//h5|//h6|//p|//li|//pre|//td|//th|//blockquote|//div[not(*)]")
    texts = [normalize_text(b.text_content()) for b in blocks] or [normalize_text(tree.text_content())]
    return "\n\n".join(t for t in texts if t)


def _first_heading(tree: lxml.html.HtmlElement) -> str:
    for xpath in ("//title", "//h1", "//h2", "//h3"):
        found = tree.xpath(xpath)
        if found and found[0].text_content().strip():
            return found[0].text_content().strip()
    return ""


def find_links(raw: bytes, declared_charset: str | None, base_url: str) -> list[str]:
    """The href of every <a> and <area> in document order, resolved against <base href> when given."""
    tree = _parse(decode_html(raw, declared_charset))
    if tree is None:
        return []
    base = tree.xpath("//base/@href")
    if base:
        tree.make_links_absolute(base[0], resolve_base_href=False, handle_failures="discard")
    return [str(href) for href in tree.xpath("//a/@href | //area/@href")]


_splitter = RecursiveCharacterTextSplitter(
    chunk_size=CHUNK_SIZE,
    chunk_overlap=CHUNK_OVERLAP,
    separators=SENTENCE_SEPARATORS,
    is_separator_regex=True,
    keep_separator="end",  # a sentence keeps its full stop; the next chunk starts on a new sentence
    strip_whitespace=True,
)


def split_into_chunks(text: str) -> list[str]:
    """Chunks of about CHUNK_SIZE characters that end on paragraph or sentence boundaries when possible."""
    return [chunk for chunk in _splitter.split_text(text) if chunk.strip()]


def content_hash(text: str) -> str:
    """Identity of a chunk's content: whitespace and Unicode composition do not count as changes."""
    canonical = " ".join(unicodedata.normalize("NFC", text).split())
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
