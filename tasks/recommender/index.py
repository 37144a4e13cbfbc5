"""The Annoy index: built with the fewest trees and search_k whose measured recall reaches the target."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from annoy import AnnoyIndex


class RecallTooLow(RuntimeError):
    """No index configuration reached the required recall against exact search."""


def to_bytes(vector: Any) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


def exact_kth(vectors: np.ndarray, sample: np.ndarray, k: int) -> np.ndarray:
    """Cosine of each sampled item's exact k-th nearest other item, by brute force (unit vectors)."""
    exact = vectors[sample] @ vectors.T
    exact[np.arange(len(sample)), sample] = -np.inf  # the query item itself
    return -np.partition(-exact, k - 1, axis=1)[:, k - 1]


def recall_at_k(
    index: AnnoyIndex,
    vectors: np.ndarray,
    sample: np.ndarray,
    k: int,
    search_k: int,
    kth: np.ndarray | None = None,
) -> float:
    """Share of Annoy's top k (self excluded) at least as close as the exact k-th neighbour.

    Counting by distance, not by id, keeps ties (the same sentence in two publications) fair.
    """
    queries = vectors[sample]
    kth = exact_kth(vectors, sample, k) if kth is None else kth
    hits = 0
    for row, item in enumerate(sample):
        found = [i for i in index.get_nns_by_item(int(item), k + 1, search_k=search_k) if i != item][:k]
        hits += int(np.sum(vectors[found] @ queries[row] >= kth[row] - 1e-5))
    return hits / (k * len(sample))


@dataclass
class IndexChoice:
    n_trees: int
    search_k: int
    recall: float
    tried: list[tuple[int, int, float]] = field(default_factory=list)


def build_annoy(vectors: np.ndarray, n_trees: int, seed: int = 42) -> AnnoyIndex:
    index = AnnoyIndex(vectors.shape[1], "angular")
    index.set_seed(seed)
    for item, vector in enumerate(vectors):
        index.add_item(item, vector)
    index.build(n_trees, n_jobs=-1)
    return index


def tune_index(
    vectors: np.ndarray,
    k: int = 10,
    min_recall: float = 0.95,
    n_trees: int = 25,
    max_trees: int = 200,
    queries: int = 200,
    seed: int = 42,
    hint: tuple[int, int] | None = None,
) -> tuple[AnnoyIndex, IndexChoice]:
    """The cheapest (trees, search_k) whose measured recall@k reaches min_recall; more trees if none does.

    `hint` is the (trees, search_k) that met the target on the previous build: on a corpus that changed
    little it still does, so it is measured first and, when it holds, the search stops there. The recall
    is measured either way; a hint that falls short continues the usual search from its trees.
    """
    rng = np.random.default_rng(seed)
    sample = rng.choice(len(vectors), size=min(queries, len(vectors)), replace=False)
    k = min(k, len(vectors) - 1)
    kth = exact_kth(vectors, sample, k) if k > 0 else None  # once: the same truth for every candidate
    tried: list[tuple[int, int, float]] = []
    if hint is not None:
        n_trees = min(max(hint[0], 1), max_trees)
    while True:
        index = build_annoy(vectors, n_trees, seed)
        candidates = [factor * n_trees * k for factor in (1, 2, 5, 10, 20, 50)]
        if hint is not None and n_trees == hint[0]:
            candidates = [hint[1]] + [c for c in candidates if c > hint[1]]
        for search_k in candidates:
            recall = recall_at_k(index, vectors, sample, k, search_k, kth) if k > 0 else 1.0
            tried.append((n_trees, search_k, recall))
            if recall >= min_recall:
                return index, IndexChoice(n_trees, search_k, recall, tried)
        if n_trees * 2 > max_trees:
            best = max(tried, key=lambda t: t[2])
            raise RecallTooLow(
                f"recall@{k} reached {best[2]:.3f} at best ({best[0]} trees, search_k {best[1]}), "
                f"below {min_recall}: raise max_trees or lower min_recall"
            )
        n_trees *= 2


def publication_vectors(publication_ids: list[int], vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One unit vector per publication: the normalised mean of its sentence vectors."""
    ids = np.asarray(publication_ids, dtype=np.int64)
    unique, inverse = np.unique(ids, return_inverse=True)
    sums = np.zeros((len(unique), vectors.shape[1]), dtype=np.float64)
    np.add.at(sums, inverse, vectors)
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    return unique, (sums / np.where(norms == 0, 1, norms)).astype(np.float32)
