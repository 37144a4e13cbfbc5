"""Lexical ranking beside the dense one: BM25 over a candidate set, and reciprocal rank fusion.

The shipped embedder (all-MiniLM-L6-v2) is trained on English sentences: it places names, numbers,
identifiers and text in other languages poorly. A word-level score over the dense model's candidates
brings a passage that holds the query's rare words up, and the fusion keeps what the dense model
ranks high.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Hashable, Sequence
from typing import TypeVar

WORD = re.compile(r"\w+")
# Hangul, kana and CJK ideographs: words are written without spaces between them, or with
# particles attached (빅포인트는 = 빅포인트 + 는), so they are compared by overlapping character pairs.
CJK = re.compile(r"[\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u3400-\u9fff\uac00-\ud7af]")
# Okapi BM25's usual constants.
K1 = 1.2
B = 0.75
# Cormack, Clarke and Büttcher (2009): 60 keeps one list's top ranks from drowning the other list.
RRF_K = 60

Item = TypeVar("Item", bound=Hashable)


@functools.lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    """English plural and -ed/-ing endings off (installed = install); other words are left as they are."""
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith("ies") and not word.endswith(("aies", "eies")):
        word = word[:-3] + "y"
    elif word.endswith("s") and not word.endswith(("us", "ss")):
        word = word[:-1]
    if len(word) > 5:
        for ending in ("ing", "ed"):
            if word.endswith(ending):
                return word[: -len(ending)]
    return word


def terms(text: str) -> list[str]:
    """The words of `text` as BM25 compares them: NFKC, case-folded, lightly stemmed; CJK as character pairs."""
    text = unicodedata.normalize("NFKC", text).casefold()
    if not CJK.search(text):
        return [_stem(word) for word in WORD.findall(text)]
    out: list[str] = []
    for word in WORD.findall(text):
        if len(word) > 2 and CJK.search(word):
            out.extend(word[i:i + 2] for i in range(len(word) - 1))
        else:
            out.append(_stem(word))
    return out


def bm25_scores(query: str, passages: Sequence[str]) -> list[float]:
    """Okapi BM25 of each passage for `query`, with document frequencies taken over `passages` themselves.

    Over a dense model's candidates, a word every candidate shares (the topic's own name) weighs little
    and a word few of them hold weighs much: the score separates the candidates, not the whole corpus.
    """
    query_terms = set(terms(query))
    bags = [Counter(terms(p)) for p in passages]
    if not bags or not query_terms:
        return [0.0] * len(bags)
    mean_length = sum(sum(bag.values()) for bag in bags) / len(bags) or 1.0
    frequency = {t: sum(1 for bag in bags if t in bag) for t in query_terms}
    weight = {t: math.log(1 + (len(bags) - n + 0.5) / (n + 0.5)) for t, n in frequency.items()}
    scores = []
    for bag in bags:
        norm = K1 * (1 - B + B * sum(bag.values()) / mean_length)
        scores.append(sum(weight[t] * bag[t] * (K1 + 1) / (bag[t] + norm) for t in query_terms if t in bag))
    return scores


def reciprocal_rank_fusion(rankings: Sequence[Sequence[Item]], k: int = RRF_K) -> dict[Item, float]:
    """Each item's sum of 1 / (k + rank) over the rankings that hold it (rank from 1), best first."""
    fused: dict[Item, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + 1.0 / (k + rank)
    return dict(sorted(fused.items(), key=lambda pair: -pair[1]))
