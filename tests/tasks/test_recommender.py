"""Recommender helpers on real text: sentences, recall-tuned Annoy index, safe packages, the engine."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED_DATA

from blocks.embedder import SentenceTransformerEmbedder
from blocks.storage import LocalFolderStorage
from deployments.demo.corpus import html_sections, pdf_pages, publications_from
from tasks.recommender.engine import load_engine
from tasks.recommender.index import RecallTooLow, publication_vectors, recall_at_k, tune_index
from tasks.recommender.package import (
    FILES,
    PackageRefused,
    content_checksum,
    pack,
    package_key,
    sha256_file,
    unpack_safely,
)
from tasks.recommender.sentences import corpus_from, split_sentences
from tasks.text import content_hash


@pytest.fixture(scope="module")
def real_corpus():  # type: ignore[no-untyped-def]
    """About 400 sentences of real language: 12 pages of DA-619p.pdf and an essay page."""
    pubs = publications_from([SHARED_DATA / "pdf" / "DA-619p.pdf"], max_pages=12)
    pubs += publications_from([SHARED_DATA / "html" / "ideas-page.html"])
    corpus = corpus_from([(i + 1, f"{p.title}\n{p.body}") for i, p in enumerate(pubs)])
    vectors = np.asarray(
        SentenceTransformerEmbedder().embed([corpus.texts[h] for h in corpus.hashes]), dtype=np.float32
    )
    return corpus, vectors


def test_split_sentences_keeps_real_sentences_and_drops_fragments() -> None:
    text = "Intro.\nThe Blight began in the north. Then it spread! Did the wardens stop it? Yes.\n\nPage 12"
    assert split_sentences(text) == ["The Blight began in the north.", "Did the wardens stop it?"]
    long = " ".join(f"word{i}" for i in range(150))
    assert [len(s.split()) for s in split_sentences(long)] == [64, 64, 22]
    assert content_hash("A  sentence here.") == content_hash("A sentence here.")
    assert content_hash("A sentence here.") != content_hash("A sentence there.")


def test_corpus_reads_pdf_pages_and_html_sections() -> None:
    pages = list(pdf_pages(SHARED_DATA / "pdf" / "DA-619p.pdf", max_pages=5))
    assert [p.title for p in pages][:1] == ["DA-619p, page 1"] and len(pages) >= 3
    sections = list(html_sections(SHARED_DATA / "html" / "example-10k.html"))
    assert len(sections) > 10 and all(s.title.startswith("example-10k, section") for s in sections)
    assert not any("<script" in s.body for s in sections)
    assert "\ufffe" not in "".join(p.body for p in pages)


def test_tuned_index_reaches_recall_against_exact_search(real_corpus) -> None:  # type: ignore[no-untyped-def]
    corpus, vectors = real_corpus
    assert corpus.sentences > 300
    index, choice = tune_index(vectors, k=10, min_recall=0.95)
    assert choice.recall >= 0.95
    # Recall measured again, independently, with exact neighbour ids on other queries.
    rng = np.random.default_rng(7)
    hits = 0
    sample = rng.choice(len(vectors), 50, replace=False)
    for item in sample:
        scores = vectors @ vectors[item]
        scores[item] = -np.inf
        kth = np.sort(scores)[-10]
        found = [i for i in index.get_nns_by_item(int(item), 11, search_k=choice.search_k) if i != item][:10]
        hits += int(np.sum(scores[found] >= kth - 1e-5))
    assert hits / (10 * len(sample)) >= 0.93
    assert recall_at_k(index, vectors, sample, 10, choice.search_k) == pytest.approx(hits / 500, abs=1e-9)
    with pytest.raises(RecallTooLow, match="below 1.01"):
        tune_index(vectors, k=10, min_recall=1.01, n_trees=2, max_trees=4)


def test_tuning_starts_from_the_previous_choice_and_still_measures(real_corpus) -> None:  # type: ignore[no-untyped-def]
    _, vectors = real_corpus
    _, first = tune_index(vectors, k=10, min_recall=0.95)
    # The previous build's choice still holds: one measurement, the same parameters.
    _, again = tune_index(vectors, k=10, min_recall=0.95, hint=(first.n_trees, first.search_k))
    assert (again.n_trees, again.search_k) == (first.n_trees, first.search_k)
    assert len(again.tried) == 1 and again.recall >= 0.95
    # A hint that no longer reaches the target is measured, found short, and the search goes on from it.
    _, weak = tune_index(vectors, k=10, min_recall=0.95, hint=(2, 1))
    assert weak.tried[0][:2] == (2, 1) and weak.tried[0][2] < 0.95
    assert weak.recall >= 0.95 and len(weak.tried) > 1


def _package(folder: Path, vectors: np.ndarray, publication_ids: list[int]) -> bytes:
    index, choice = tune_index(vectors, k=5, min_recall=0.95, n_trees=10)
    index.save(str(folder / "index.ann"))
    pubs, pub_vectors = publication_vectors(publication_ids, vectors)
    np.save(folder / "sentence_publication_ids.npy", np.asarray(publication_ids, dtype=np.int64))
    np.save(folder / "publication_ids.npy", pubs)
    np.save(folder / "publication_vectors.npy", pub_vectors)
    files = {name: sha256_file(folder / name) for name in FILES}
    manifest = {
        "dim": int(vectors.shape[1]),
        "n_trees": choice.n_trees,
        "search_k": choice.search_k,
        "sentences": len(vectors),
        "files": files,
        "checksum": content_checksum(files),
    }
    return pack(folder, manifest)


def _tar(members: list[tarfile.TarInfo], contents: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for info in members:
            data = contents.get(info.name, b"")
            info.size = len(data) if info.isreg() else 0
            archive.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buffer.getvalue()


def test_engine_loads_a_verified_package_and_answers_like_exact_search(real_corpus, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    corpus, vectors = real_corpus
    (tmp_path / "build").mkdir()
    data = _package(tmp_path / "build", vectors, corpus.publication_ids)
    storage = LocalFolderStorage(root=str(tmp_path / "objects"))
    checksum = hashlib.sha256(data).hexdigest()
    storage.put_bytes(package_key(checksum), data)

    engine = load_engine(storage, 1, checksum)
    query = vectors[3]
    found = engine.by_vector(query, k=5)
    assert len(found) == 5 and [s for _, s in found] == sorted((s for _, s in found), reverse=True)
    # The best publication is the one holding the query sentence, with cosine ~1.
    assert found[0][0] == corpus.publication_ids[3] and found[0][1] == pytest.approx(1.0, abs=1e-3)
    exact = {}
    for sentence, publication in enumerate(corpus.publication_ids):
        exact[publication] = max(exact.get(publication, -1.0), float(vectors[sentence] @ query))
    top_exact = sorted(exact, key=lambda p: -exact[p])[:5]
    assert len({p for p, _ in found} & set(top_exact)) >= 4
    others = engine.by_publication(corpus.publication_ids[0], k=3)
    assert corpus.publication_ids[0] not in [p for p, _ in others] and len(others) == 3
    with pytest.raises(LookupError, match="publication 999999 is not in recommender version 1"):
        engine.by_publication(999999, k=3)
    engine.close()

    middle = len(data) // 2
    storage.put_bytes(
        package_key(checksum),
        data[:middle] + bytes(b ^ 0xFF for b in data[middle : middle + 16]) + data[middle + 16 :],
    )
    with pytest.raises(PackageRefused, match="checksum"):
        load_engine(storage, 1, checksum)


@pytest.mark.parametrize(
    "member, message",
    [
        ("../escape.npy", "unsafe path"),
        ("/etc/passwd", "unsafe path"),
        ("sub/index.ann", "unsafe path"),
        ("symlink", "not a regular file"),
        ("extra.txt", "unexpected file"),
    ],
)
def test_unsafe_packages_are_refused_before_anything_is_written(
    member: str, message: str, tmp_path: Path
) -> None:
    contents = dict.fromkeys(FILES, b"x")
    infos = [tarfile.TarInfo(name) for name in FILES]
    bad = tarfile.TarInfo("index.ann" if member == "symlink" else member)
    if member == "symlink":
        bad.type, bad.linkname = tarfile.SYMTYPE, "/etc/passwd"
        infos = [i for i in infos if i.name != "index.ann"]
    infos.append(bad)
    with pytest.raises(PackageRefused, match=message):
        unpack_safely(_tar(infos, contents), tmp_path / "out")
    assert not (tmp_path / "out").exists() and not (tmp_path / "escape.npy").exists()


def test_a_file_changed_after_packing_is_refused(real_corpus, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    corpus, vectors = real_corpus
    (tmp_path / "build").mkdir()
    data = _package(tmp_path / "build", vectors[:60], corpus.publication_ids[:60])
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        contents = {m.name: archive.extractfile(m).read() for m in archive.getmembers()}  # type: ignore[union-attr]
    unpack_safely(data, tmp_path / "good")
    assert json.loads((tmp_path / "good" / "manifest.json").read_bytes())["sentences"] == 60
    contents["publication_ids.npy"] = contents["publication_ids.npy"][:-8] + b"\x01" * 8
    tampered = _tar([tarfile.TarInfo(n) for n in contents], contents)
    with pytest.raises(PackageRefused, match="publication_ids.npy does not match"):
        unpack_safely(tampered, tmp_path / "bad")


def _version(checksum: str) -> dict:
    return {
        "artifact_uri": f"file:///{checksum}",
        "checksum": checksum,
        "model_name": "m",
        "dim": 3,
        "n_items": 1,
        "n_sentences": 1,
    }


def test_publish_version_flips_the_single_current_row(db_url: str) -> None:
    from sqlalchemy import func, select

    from store import recommender as queries
    from store.db import get_engine, session_scope
    from store.models import RecommenderVersion

    with session_scope(db_url) as session:
        assert queries.current_version(session) is None
        first = queries.publish_version(session, _version("a" * 64))
    with session_scope(db_url) as session:
        second = queries.publish_version(session, _version("b" * 64))
    with session_scope(db_url) as session:
        assert queries.current_version(session) == (second, "b" * 64)
        # A retried flip of an already recorded package adds no row; it makes that row current again.
        assert queries.publish_version(session, _version("a" * 64)) == first
    with session_scope(db_url) as session:
        assert queries.current_version(session) == (first, "a" * 64)
        assert session.scalar(select(func.count()).select_from(RecommenderVersion)) == 2
    engine = get_engine(db_url)
    if engine.dialect.name == "sqlite":  # the cheap check a worker runs before each use is an index lookup
        with engine.connect() as conn:
            plan = conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN SELECT id, checksum FROM recommender_version WHERE recommender_version.is_current"
            ).all()
        assert "uq_recommender_version_current" in str(plan)


def test_save_embeddings_keeps_what_is_stored(db_url: str) -> None:
    from store import recommender as queries
    from store.db import session_scope
    from tasks.runtime import utcnow

    vector = np.arange(4, dtype=np.float32).tobytes()
    with session_scope(db_url) as session:
        queries.save_embeddings(session, "m", 4, {"h1": vector}, utcnow())
    with session_scope(db_url) as session:
        queries.save_embeddings(session, "m", 4, {"h1": b"\0" * 16, "h2": vector}, utcnow())
        queries.save_embeddings(session, "other-model", 4, {"h1": b"\1" * 16}, utcnow())
    with session_scope(db_url) as session:
        assert queries.stored_embeddings(session, "m", ["h1", "h2", "h3"]) == {"h1": vector, "h2": vector}
        assert queries.stored_embeddings(session, "other-model", ["h1"]) == {"h1": b"\1" * 16}
