"""The recommender's Prefect tasks: the build (one slot at a time) and a recommendation."""

from __future__ import annotations

import atexit
import datetime as dt
import hashlib
import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.concurrency.sync import concurrency
from pydantic import BaseModel

from blocks.concurrency import ensure_global_limit
from blocks.profile import load_profile
from store import recommender as queries
from tasks.recommender.engine import Recommendations, recommend_with
from tasks.recommender.index import RecallTooLow, publication_vectors, to_bytes, tune_index
from tasks.recommender.package import (
    FILES,
    FORMAT,
    PackageRefused,
    content_checksum,
    pack,
    package_key,
    sha256_file,
)
from tasks.recommender.sentences import NoPublications, SentenceCorpus, corpus_from
from tasks.runtime import utcnow

BUILD_LIMIT = "nightshift-recommender-build"

# Retrying cannot fix these: a missing corpus, an unreachable recall, a refused package, storage
# that is not a folder or not writable. Anything else (network, locks, timeouts) is retried.
PERMANENT_ERRORS = (
    NoPublications,
    RecallTooLow,
    PackageRefused,
    NotADirectoryError,
    IsADirectoryError,
    PermissionError,
    FileExistsError,
)


def retry_transient(_task: Any, _task_run: Any, state: Any) -> bool:
    """retry_condition_fn of the build tasks: retry unless the error is one of PERMANENT_ERRORS."""
    return not isinstance(getattr(state, "data", None), PERMANENT_ERRORS)


def build_step(**options: Any) -> Any:
    """The decorator of a build task: two retries of transient errors, no cache (it reads the live database)."""
    return task(
        **{"retries": 2, "retry_delay_seconds": [2, 10], "retry_condition_fn": retry_transient,
           "cache_policy": NO_CACHE, **options}
    )


@contextmanager
def build_slot(wait_seconds: float) -> Iterator[bool]:
    """Hold the single build slot (a Prefect global concurrency limit of 1); False when it stayed taken."""
    stack = ExitStack()
    try:
        stack.enter_context(
            concurrency(ensure_global_limit(BUILD_LIMIT), occupy=1, timeout_seconds=wait_seconds, strict=True)
        )
    except TimeoutError:
        yield False
        return
    with stack:
        yield True


@task(name="recent-recommender-version", retries=2, retry_delay_seconds=[2, 10])
def recent_version(newer_than_hours: float | None) -> int | None:
    """Id of the current version when it is younger than `newer_than_hours` (a fallback run then skips)."""
    if newer_than_hours is None:
        return None
    with load_profile().database.session() as session:
        row = queries.current_version_row(session)
    if row and row.created_at >= utcnow() - dt.timedelta(hours=newer_than_hours):
        return row.id
    return None


@build_step(name="collect-sentences")
def collect_sentences() -> SentenceCorpus:
    """Every publication's text, split into sentences."""
    with load_profile().database.session() as session:
        corpus = corpus_from(list(queries.publication_texts(session)))
    if corpus.sentences == 0:
        raise NoPublications(
            "no publication with text to index: load publications first (python -m deployments.demo.corpus …)"
        )
    return corpus


@build_step(name="find-missing-embeddings")
def find_missing_embeddings(corpus: SentenceCorpus) -> list[str]:
    """Hashes of the sentences not embedded yet with the profile's model."""
    profile = load_profile()
    with profile.database.session() as session:
        stored = queries.embedded_hashes(session, profile.embedder.model_name, corpus.texts)
    return [h for h in corpus.texts if h not in stored]


def _embed_run_name() -> str:
    from prefect.runtime import task_run

    return f"embed-sentences-{len(task_run.parameters.get('texts') or {})}"


@build_step(name="embed-sentences", task_run_name=_embed_run_name, retries=1, retry_delay_seconds=5)
def embed_sentences(texts: dict[str, str]) -> int:
    """Embed one chunk of sentences and store the vectors (a retry redoes only unfinished chunks)."""
    profile = load_profile()
    order = sorted(texts, key=lambda h: len(texts[h]))  # similar lengths batch with little padding
    vectors = profile.embedder.embed([texts[h] for h in order])
    with profile.database.session() as session:
        queries.save_embeddings(
            session,
            profile.embedder.model_name,
            len(vectors[0]),
            {h: to_bytes(v) for h, v in zip(order, vectors, strict=True)},
            utcnow(),
        )
    return len(order)


@build_step(name="load-sentence-vectors")
def load_sentence_vectors(corpus: SentenceCorpus) -> np.ndarray:
    """The vectors of every indexed sentence, in index order."""
    profile = load_profile()
    with profile.database.session() as session:
        stored = queries.stored_embeddings(session, profile.embedder.model_name, corpus.texts)
    missing = [h for h in corpus.texts if h not in stored]
    if missing:
        raise LookupError(
            f"{len(missing)} sentences have no stored embedding (first {missing[0][:12]}…): rerun the build"
        )
    by_hash = {h: np.frombuffer(v, dtype=np.float32) for h, v in stored.items()}
    return np.stack([by_hash[h] for h in corpus.hashes])


def previous_choice(model_name: str, dim: int) -> tuple[int, int] | None:
    """(trees, search_k) of the current version, when it indexed the same model's vectors."""
    with load_profile().database.session() as session:
        current = queries.current_version_row(session)
        if current is None or current.model_name != model_name or current.dim != dim:
            return None
        if current.n_trees is None or current.search_k is None:
            return None
        return current.n_trees, current.search_k


@dataclass
class BuiltPackage:
    folder: str
    manifest: dict[str, Any]
    seconds: float


@task(name="build-annoy-index", cache_policy=NO_CACHE)
def build_index(
    corpus: SentenceCorpus, vectors: np.ndarray, k: int = 10, min_recall: float = 0.95
) -> BuiltPackage:
    """An angular Annoy index whose trees and search_k reach min_recall@k against exact search."""
    started = time.perf_counter()
    model = load_profile().embedder.model_name
    index, choice = tune_index(vectors, k=k, min_recall=min_recall, hint=previous_choice(model, vectors.shape[1]))
    folder = Path(tempfile.mkdtemp(prefix="nightshift-recommender-build-"))
    atexit.register(shutil.rmtree, folder, True)  # publishing removes it; a failed build leaves nothing either
    index.save(str(folder / "index.ann"))
    index.unload()
    publications, publication_vecs = publication_vectors(corpus.publication_ids, vectors)
    np.save(folder / "sentence_publication_ids.npy", np.asarray(corpus.publication_ids, dtype=np.int64))
    np.save(folder / "publication_ids.npy", publications)
    np.save(folder / "publication_vectors.npy", publication_vecs)
    files = {name: sha256_file(folder / name) for name in FILES}
    manifest = {
        "format": FORMAT,
        "model": model,
        "dim": int(vectors.shape[1]),
        "metric": "angular",
        "publications": len(publications),
        "sentences": corpus.sentences,
        "distinct_sentences": len(corpus.texts),
        "n_trees": choice.n_trees,
        "search_k": choice.search_k,
        "recall_k": k,
        "recall": round(choice.recall, 4),
        "tuning": [list(t) for t in choice.tried],
        "created_at": utcnow().isoformat(),
        "files": files,
        "checksum": content_checksum(files),
    }
    return BuiltPackage(str(folder), manifest, time.perf_counter() - started)


@dataclass
class PublishedPackage:
    key: str
    uri: str
    checksum: str
    size: int


@build_step(name="publish-recommender-package")
def publish_package(built: BuiltPackage) -> PublishedPackage:
    """Upload the package under its own version folder; nothing points at it yet."""
    data = pack(Path(built.folder), built.manifest)
    checksum = hashlib.sha256(data).hexdigest()
    storage = load_profile().storage
    key = package_key(checksum)
    uri = storage.put_bytes(key, data)
    storage.put_bytes(key.rsplit("/", 1)[0] + "/manifest.json", json.dumps(built.manifest, indent=2).encode())
    shutil.rmtree(built.folder, ignore_errors=True)
    return PublishedPackage(key=key, uri=uri, checksum=checksum, size=len(data))


@build_step(name="make-recommender-version-current")
def make_current(published: PublishedPackage, manifest: dict[str, Any]) -> int:
    """Record the version and flip the current pointer to it in one transaction."""
    with load_profile().database.session() as session:
        return queries.publish_version(
            session,
            {
                "artifact_uri": published.uri,
                "checksum": published.checksum,
                "model_name": manifest["model"],
                "dim": manifest["dim"],
                "n_items": manifest["publications"],
                "n_sentences": manifest["sentences"],
                "n_trees": manifest["n_trees"],
                "search_k": manifest["search_k"],
                "created_at": dt.datetime.fromisoformat(manifest["created_at"]),
            },
        )


class BuildOutcome(BaseModel):
    status: str  # "published" | "skipped-busy" | "skipped-recent"
    version_id: int | None = None
    checksum: str | None = None
    uri: str | None = None
    figures: dict[str, Any] = {}


@contextmanager
def timed(seconds: dict[str, float], step: str) -> Iterator[None]:
    """Record how long the block took, in seconds, under `step` (the build report's timing table)."""
    started = time.perf_counter()
    yield
    seconds[step] = round(time.perf_counter() - started, 3)


def published_outcome(
    corpus: SentenceCorpus,
    embedded: int,
    built: BuiltPackage,
    published: PublishedPackage,
    version_id: int,
    seconds: dict[str, float],
) -> BuildOutcome:
    """The outcome of a build that published `version_id`, with the figures its report shows."""
    # The file list, tuning trail and content checksum stay in the manifest; the version has its own.
    figures = {k: v for k, v in built.manifest.items() if k not in ("files", "tuning", "checksum")}
    figures |= {
        "reused": len(corpus.texts) - embedded,
        "embedded": embedded,
        "size_mb": published.size / 1e6,
        "seconds": seconds,
    }
    return BuildOutcome(
        status="published",
        version_id=version_id,
        checksum=published.checksum,
        uri=published.uri,
        figures=figures,
    )


@task(name="recommend-publications", retries=1, retry_delay_seconds=2, cache_policy=NO_CACHE)
def recommend_publications(
    text: str | None = None, publication_id: int | None = None, k: int = 10
) -> Recommendations:
    """Top-k publications (with cosine scores) for a text or a publication id."""
    return recommend_with(load_profile(), text, publication_id, k)
