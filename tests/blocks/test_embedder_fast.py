"""The fast embedder (int8 ONNX export of the shipped model) stays close to the torch reference, and is faster."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED_DATA

from blocks.embedder import SentenceTransformerEmbedder


@pytest.fixture(scope="module")
def real_texts() -> list[str]:
    """About 200 chunk-sized passages of real PDF text (a paper and a manual)."""
    import pypdfium2 as pdfium

    texts = []
    for name, pages in (("layout-parser-paper-fast.pdf", range(0, 16)), ("DA-619p.pdf", range(20, 40))):
        document = pdfium.PdfDocument(str(SHARED_DATA / "pdf" / name))
        for index in pages:
            if index >= len(document):
                break
            words = document[index].get_textpage().get_text_range().split()
            # Mixed lengths, as chunk_by_title produces them (up to ~512 characters).
            step = 25 + (index % 4) * 15
            texts.extend(" ".join(words[i:i + step]) for i in range(0, len(words), step))
        document.close()
    return [t for t in texts if len(t) > 20][:200]


@pytest.fixture(scope="module")
def export_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("exports")


def _neighbour_recall(reference: np.ndarray, other: np.ndarray, k: int = 10, within: int = 10) -> float:
    """Mean share of each text's k nearest neighbours (by `reference`) among its `within` nearest by `other`."""
    ref, oth = reference @ reference.T, other @ other.T
    np.fill_diagonal(ref, -np.inf), np.fill_diagonal(oth, -np.inf)
    near_ref, near_oth = np.argsort(-ref, axis=1)[:, :k], np.argsort(-oth, axis=1)[:, :within]
    return float(np.mean([len(set(near_ref[i]) & set(near_oth[i])) / k for i in range(len(ref))]))


def test_int8_stays_within_cosine_099_of_torch_on_real_text(real_texts: list[str], export_folder: Path) -> None:
    fast = SentenceTransformerEmbedder(export_folder=str(export_folder))
    torch = SentenceTransformerEmbedder(backend="torch")
    assert fast.model_name == "all-MiniLM-L6-v2+onnx-int8-matmul-avx512_vnni"
    assert torch.model_name == "all-MiniLM-L6-v2"
    a, b = np.array(fast.embed(real_texts)), np.array(torch.embed(real_texts))
    assert a.shape == b.shape == (len(real_texts), 384)
    cosines = (a * b).sum(axis=1)
    assert cosines.mean() >= 0.992 and cosines.min() >= 0.98, (cosines.mean(), cosines.min())
    # Cosine alone hides reordering: the nearest neighbours must agree too. Near-ties swap places in the
    # exact top 10 (measured 0.93 here), but the torch top 10 stays within the int8 top 20 (0.9995).
    top10 = _neighbour_recall(b, a)
    within20 = _neighbour_recall(b, a, within=20)
    assert top10 >= 0.88 and within20 >= 0.99, (top10, within20)
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-4)


def test_int8_vector_of_a_text_does_not_depend_on_its_companions(real_texts: list[str], export_folder: Path) -> None:
    fast = SentenceTransformerEmbedder(export_folder=str(export_folder))
    alone = np.array(fast.embed([real_texts[3]]))[0]
    among = np.array(fast.embed(real_texts[:40]))[3]
    assert float(alone @ among) > 0.99999


def test_fp32_onnx_matches_torch_and_order_is_kept(real_texts: list[str], export_folder: Path) -> None:
    onnx = SentenceTransformerEmbedder(backend="onnx", export_folder=str(export_folder))
    torch = SentenceTransformerEmbedder(backend="torch")
    # Lengths deliberately unsorted: results must come back in the caller's order. The third text is
    # longer than the model's 256 tokens: both paths must cut it at the same place.
    texts = [real_texts[5], "short", " ".join(real_texts[:10]), "a bit longer text here"]
    a, b = np.array(onnx.embed(texts)), np.array(torch.embed(texts))
    assert ((a * b).sum(axis=1) > 0.9999).all()
    assert onnx.model_name == "all-MiniLM-L6-v2+onnx"


def test_export_is_cached_on_disk(export_folder: Path) -> None:
    embedder = SentenceTransformerEmbedder(export_folder=str(export_folder))
    embedder.embed(["warm"])
    int8 = embedder.export_path() / "onnx" / "model_int8-matmul_avx512_vnni.onnx"
    before = int8.stat().st_mtime_ns
    assert embedder._export() == embedder.export_path()
    assert int8.stat().st_mtime_ns == before
    assert not [p for p in export_folder.iterdir() if p.is_dir() and p.name.startswith(".")]


def test_int8_is_much_faster_than_torch(real_texts: list[str], export_folder: Path) -> None:
    """CPU time (best of three) is steadier than wall time on a shared machine.

    Measured 4-5x on a quiet machine and 2.49x with a test suite running beside it (onnxruntime's
    threads spin while they wait, which counts as CPU time): the check is that int8 keeps a clear lead;
    bench/ingest_pdf.py gives the figure."""
    fast = SentenceTransformerEmbedder(export_folder=str(export_folder))
    torch = SentenceTransformerEmbedder(backend="torch")
    texts = real_texts[:100]
    fast.embed(texts[:4]), torch.embed(texts[:4])

    def best_cpu(embedder: SentenceTransformerEmbedder) -> float:
        times = []
        for _ in range(3):
            start = time.process_time()
            embedder.embed(texts)
            times.append(time.process_time() - start)
        return min(times)

    ratio = best_cpu(torch) / best_cpu(fast)
    assert ratio >= 1.8, f"int8 only {ratio:.2f}x torch"
