"""Sentences of the publications, each keyed by the hash of its content (the embedding cache's key)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tasks.text import content_hash

MIN_SENTENCE_WORDS = 4
MAX_SENTENCE_WORDS = 64


class NoPublications(LookupError):
    """The publication table holds no text to index."""


_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9À-Ý])")


def split_sentences(text: str) -> list[str]:
    """Sentences of a text: split after . ! ? before a capital; short fragments dropped, long ones cut."""
    sentences = []
    for paragraph in re.split(r"\n\s*\n|\n(?=[A-Z•\-–])", text):
        flat = " ".join(paragraph.split())
        for sentence in _SENTENCE_END.split(flat):
            words = sentence.split()
            if len(words) < MIN_SENTENCE_WORDS:
                continue
            # The model reads 256 word pieces at most, and padding makes long inputs slow for a whole batch.
            for start in range(0, len(words), MAX_SENTENCE_WORDS):
                piece = words[start : start + MAX_SENTENCE_WORDS]
                if len(piece) >= MIN_SENTENCE_WORDS:
                    sentences.append(" ".join(piece))
    return sentences


@dataclass
class SentenceCorpus:
    """Every indexed sentence: its publication and its content hash, in index order."""

    publication_ids: list[int]
    hashes: list[str]
    texts: dict[str, str]  # one text per distinct hash
    publications: int

    @property
    def sentences(self) -> int:
        return len(self.hashes)


def corpus_from(publications: list[tuple[int, str]]) -> SentenceCorpus:
    """Split publications into sentences; a sentence repeated inside one publication counts once."""
    ids: list[int] = []
    hashes: list[str] = []
    texts: dict[str, str] = {}
    with_text = 0
    for publication_id, text in publications:
        seen: set[str] = set()
        for sentence in split_sentences(text):
            key = content_hash(sentence)
            if key not in seen:
                seen.add(key)
                ids.append(publication_id)
                hashes.append(key)
                texts.setdefault(key, sentence)
        with_text += bool(seen)
    return SentenceCorpus(publication_ids=ids, hashes=hashes, texts=texts, publications=with_text)
