"""From PDF text lines to the paragraphs a reader would write (pure functions, no pdfminer or Prefect).

pdfminer gives text boxes made of lines. A paragraph is the lines of a box joined (words broken at a
line end joined again), split where a line ends a sentence well short of the box's width or where a
list item starts; a box that only continues the previous paragraph (after a column break) is merged
into it. Text is cleaned of what no reader wrote: compatibility forms (ligatures) are
normalised (NFKC), pdfminer's `(cid:NN)` placeholders for glyphs without a Unicode mapping, control
characters and soft hyphens are removed. Text set at 90 degrees (a margin stamp) becomes one line.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

CID = re.compile(r"\(cid:\d+\)")
# C0/C1 controls (tab and newline kept), soft hyphen, the non-characters pdfium and pdfminer emit.
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\ufffe\uffff\ufffd]")
SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u205f\u3000]+")
HYPHENS = ("-", "\u2010", "\u2011")
BULLET = re.compile(r"^\s*(?:[•●○◦▪■□‣∙·*–—-]\s|\(?\d{1,2}[.)]\s|\(?[a-z][.)]\s)")
SENTENCE_END = re.compile(r"[.!?…:;][\"'”’)\]]*$")
# A sentence ends at . ! ? followed by a space and an upper-case letter, a digit or an opening quote,
# unless the word before the stop is a known abbreviation or a single letter (an initial).
SENTENCE_BREAK = re.compile(r"(?<=[.!?…])[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-ZÀ-ÖØ-Þ0-9])")
ABBREVIATIONS = frozenset(
    ["e.g", "i.e", "cf", "vs", "etc", "fig", "figs", "eq", "eqs", "al", "no", "nos", "vol", "pp", "p", "ch", "sec", "dr", "mr", "mrs", "ms", "prof", "st", "jr", "sr", "inc", "ltd", "co", "corp", "resp", "approx", "ca", "art", "chap", "ed", "eds", "ref", "refs", "tab", "mm", "cm", "km", "kg", "dept", "univ", "mt", "u.s", "n.b", "z.b", "bzw", "ggf", "vgl", "usw", "mme", "mlle"]
)


# Three or more single letters, each followed by one space: a word pdfminer set apart letter by letter.
SPACED_LETTERS = re.compile(r"(?<!\S)(?:[^\W\d_] ){2,}[^\W\d_](?!\S)")


def join_spaced_letters(text: str, layer: Callable[[], str]) -> str:
    """Letters pdfminer set apart ("p M L A S T": letter-spaced or wide glyphs) joined again where the
    page's text layer (`layer()`, read only when needed) holds them as one word; any other run of single
    letters ("a b c") is left as it is."""
    if not SPACED_LETTERS.search(text):
        return text
    page = layer()

    def join(match: re.Match[str]) -> str:
        word = match.group(0).replace(" ", "")
        return word if re.search(rf"(?<!\w){re.escape(word)}(?!\w)", page) else match.group(0)

    return SPACED_LETTERS.sub(join, text)


def clean_text(text: str) -> str:
    """NFKC, no `(cid:NN)`, no control characters or soft hyphens, single spaces."""
    text = unicodedata.normalize("NFKC", text)
    text = CONTROL.sub("", CID.sub("", text))
    return SPACES.sub(" ", text)


def join_lines(lines: list[str]) -> str:
    """Lines of one paragraph as one text; a word hyphenated at a line end is joined again.

    "connais-" + "sance" gives "connaissance"; a compound whose last part was broken keeps its hyphen
    ("state-of-the-" + "art" gives "state-of-the-art"), and so does a hyphen before an upper-case letter.
    """
    text = ""
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        if not text:
            text = line
            continue
        last_word = text.rsplit(" ", 1)[-1]
        if text.endswith(HYPHENS) and len(last_word) > 2 and last_word[-2].isalpha():
            compound = any(h in last_word[:-1] for h in HYPHENS) or not line[0].islower()
            text = (text if compound else text[:-1]) + line
        else:
            text += " " + line
    return text.strip()


@dataclass
class Line:
    text: str
    x0: float
    x1: float


def box_paragraphs(lines: list[Line]) -> list[str]:
    """The paragraphs of one text box (cleaned)."""
    lines = [Line(clean_text(line.text).strip(), line.x0, line.x1) for line in lines]
    lines = [line for line in lines if line.text]
    if not lines:
        return []
    width = max(line.x1 for line in lines) - min(line.x0 for line in lines)
    right = max(line.x1 for line in lines)
    paragraphs: list[list[str]] = [[]]
    for i, line in enumerate(lines):
        if i > 0 and BULLET.match(line.text):
            paragraphs.append([])
        paragraphs[-1].append(line.text)
        short = width > 0 and (right - line.x1) > 0.15 * width
        if short and SENTENCE_END.search(line.text) and i + 1 < len(lines):
            paragraphs.append([])
    return [text for text in (join_lines(p) for p in paragraphs) if text]


def continues(previous: str, following: str) -> bool:
    """`following` carries on the sentence `previous` left open (a column break between them)."""
    return (len(previous) > 40 and not SENTENCE_END.search(previous) and following[:1].islower()
            and not BULLET.match(following))


def merge_continuations(paragraphs: list[tuple[str, int, bool]]) -> list[tuple[str, int]]:
    """Paragraphs (text, page, in the text flow) with each continuation joined to the paragraph it continues.

    Within a page only (a column break): pages are partitioned in batches side by side, and a page's
    elements must not depend on the batch it falls in. Text outside the flow (a rotated margin line) is
    neither continued nor a continuation.
    """
    merged: list[tuple[str, int]] = []
    flowing = False
    for text, page, in_flow in paragraphs:
        if merged and flowing and in_flow and merged[-1][1] == page and continues(merged[-1][0], text):
            merged[-1] = (join_lines([merged[-1][0], text]), merged[-1][1])
        else:
            merged.append((text, page))
            flowing = in_flow
    return merged


def sentences(text: str) -> list[str]:
    """The sentences of a paragraph (abbreviations and initials do not end one)."""
    parts, start = [], 0
    for match in SENTENCE_BREAK.finditer(text):
        before = text[start:match.start()].rstrip("\"'”’)]").rsplit(" ", 1)[-1].rstrip(".!?…").lower()
        if before in ABBREVIATIONS or (len(before) == 1 and before.isalpha()):
            continue
        parts.append(text[start:match.start()].strip() + text[match.start():match.end()].strip())
        start = match.end()
    parts.append(text[start:].strip())
    return [part for part in parts if part]


def sentence_pieces(text: str, limit: int) -> list[str]:
    """`text` cut at sentence ends into pieces of at most `limit` characters where sentences allow."""
    if len(text) <= limit:
        return [text]
    pieces: list[str] = []
    for sentence in sentences(text):
        if pieces and len(pieces[-1]) + 1 + len(sentence) <= limit:
            pieces[-1] += " " + sentence
        else:
            pieces.append(sentence)
    return pieces


@dataclass
class Glyph:
    """A character set at an angle: its text, box, and the sign of its matrix's b (up or down the page)."""

    text: str
    x0: float
    y0: float
    x1: float
    y1: float
    upward: bool


def rotated_lines(glyphs: list[Glyph]) -> list[str]:
    """Text set at 90 degrees (a margin stamp, a vertical label) as lines read along their direction.

    Glyphs in one column (their centres within a glyph's width) form a line, read bottom-up when the
    text runs upward, top-down otherwise; a gap wider than a third of a glyph is a space.
    """
    columns: list[list[Glyph]] = []
    for glyph in sorted(glyphs, key=lambda g: (g.x0 + g.x1) / 2):
        centre, width = (glyph.x0 + glyph.x1) / 2, max(glyph.x1 - glyph.x0, 1.0)
        if columns and abs(centre - (columns[-1][-1].x0 + columns[-1][-1].x1) / 2) <= width / 2:
            columns[-1].append(glyph)
        else:
            columns.append([glyph])
    lines = []
    for column in columns:
        upward = sum(g.upward for g in column) * 2 >= len(column)
        ordered = sorted(column, key=lambda g: g.y0, reverse=not upward)
        text, previous = "", None
        for glyph in ordered:
            if previous is not None:
                gap = glyph.y0 - previous.y1 if upward else previous.y0 - glyph.y1
                if gap > (previous.y1 - previous.y0) / 3 and not text.endswith(" "):
                    text += " "
            text += glyph.text
            previous = glyph
        line = clean_text(text).strip()
        if line:
            lines.append(line)
    return lines
