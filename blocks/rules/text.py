"""Lines, sentences and the one normalizer that decides when two todos are the same."""

from __future__ import annotations

import re
import unicodedata

_BULLET = re.compile(r"^\s*(?:[-*•·▪‣]|\d{1,2}[.)]|\[[ xX]?\])\s+")
_MARKDOWN = re.compile(r"^\s*#+\s*|\*\*|__")
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”»)]*\s+")
# A sentence does not end after "e.g." or "Mr.", nor before a lower-case letter ("am 3. anrufen").
_ABBREVIATION = re.compile(r"\b(?:e\.g|i\.e|mr|mrs|ms|dr|vs|approx|cf|mme|mlle|st|no)\.$", re.IGNORECASE)


def split_lines(text: str) -> list[tuple[str, bool]]:
    """Non-empty lines with list markers and markdown emphasis removed, each with whether it was a bullet."""
    lines = []
    for raw in text.splitlines():
        is_bullet = bool(_BULLET.match(raw))
        line = _MARKDOWN.sub("", _BULLET.sub("", raw)).strip()
        if line:
            lines.append((line, is_bullet))
    return lines


def split_sentences(text: str) -> list[str]:
    """Split on line breaks and on . ! ? … followed by a space and a sentence start."""
    sentences: list[str] = []
    for line, _ in split_lines(text):
        in_line: list[str] = []
        for part in _SENTENCE_END.split(line):
            if in_line and (part[:1].islower() or _ABBREVIATION.search(in_line[-1])):
                in_line[-1] = f"{in_line[-1]} {part}"
            elif part.strip():
                in_line.append(part)
        sentences.extend(sentence.strip() for sentence in in_line)
    return sentences


def normalize_description(text: str) -> str:
    """Casefold, drop punctuation, collapse whitespace: the key used to skip duplicates.

    Dashes and slashes become spaces ("follow-up" = "follow up"); other punctuation goes ("don't" = "dont").
    """
    chars = []
    for ch in text.casefold():
        if ch in "-‐–—/":
            chars.append(" ")
        elif not unicodedata.category(ch).startswith("P"):
            chars.append(ch)
    return " ".join("".join(chars).split())
