"""Recommender steps (spec 7): sentences, cached embeddings, a recall-tuned Annoy index, versioned packages.

Also the engine a worker keeps loaded, and swaps when a newer version is current.
"""

from __future__ import annotations

import atexit
import datetime as dt
import hashlib
import io
import json
import re
import shutil
import tarfile
import tempfile
import threading
import time
import unicodedata
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
from annoy import AnnoyIndex
from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.concurrency.sync import concurrency
from prefect.events import emit_event
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
from pydantic import BaseModel

from blocks.profile import load_profile
from blocks.settings import RecommenderLimits
from store import recommender as queries
from tasks.runtime import run_logger, utcnow

BUILD_LIMIT = "nightshift-recommender-build"
EVENT_PUBLISHED = "nightshift.recommender.published"
FORMAT = 1
FILES = ("index.ann", "sentence_publication_ids.npy", "publication_ids.npy", "publication_vectors.npy")
MIN_SENTENCE_WORDS = 4
MAX_SENTENCE_WORDS = 64
# A refused version is not downloaded again on every query; it is retried after this long.
RETRY_REFUSED_SECONDS = 60.0


class NoPublications(LookupError):
    """The publication table holds no text to index."""


class RecallTooLow(RuntimeError):
    """No index configuration reached the required recall against exact search."""


class PackageRefused(ValueError):
    """A downloaded package failed verification (checksum, layout or unsafe member)."""


class NoCurrentVersion(LookupError):
    """No recommender version is current (or none could be loaded)."""


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


# ---- sentences and hashes -------------------------------------------------------------------------

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


def content_hash(sentence: str) -> str:
    """Key of a sentence's embedding: the same text (up to Unicode form and spacing) has the same key."""
    normal = " ".join(unicodedata.normalize("NFC", sentence).split())
    return hashlib.sha256(normal.encode()).hexdigest()


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


# ---- index, exact search and recall ---------------------------------------------------------------


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


# ---- packages --------------------------------------------------------------------------------------


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def content_checksum(files: dict[str, str]) -> str:
    """Checksum of the package's content: its files' checksums, in name order."""
    return hashlib.sha256("".join(f"{n}:{files[n]}\n" for n in sorted(files)).encode()).hexdigest()


def pack(folder: Path, manifest: dict[str, Any]) -> bytes:
    """A flat tar of the package files and manifest.json (uncompressed: float vectors barely shrink)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name in FILES:
            archive.add(folder / name, arcname=name, recursive=False)
        data = json.dumps(manifest, indent=2, sort_keys=True).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size, info.mtime = len(data), int(time.time())
        archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def unpack_safely(data: bytes, destination: Path) -> dict[str, Any]:
    """Extract a package into `destination` after checking every member and file; return its manifest.

    Only the expected names as flat regular files are accepted (absolute paths, "..", links, devices
    and sparse members are refused), their declared sizes must fit NIGHTSHIFT_RECOMMENDER_MAX_UNPACKED_BYTES,
    and each file must match the manifest's checksum, all read from the archive in memory before
    anything is written.
    """
    try:
        archive = tarfile.open(fileobj=io.BytesIO(data), mode="r:")  # noqa: SIM115 — closed below
        members = archive.getmembers()
    except tarfile.TarError as exc:
        raise PackageRefused(f"not a recommender package: {exc}") from exc
    with archive:
        _check_members(members)
        by_name = {member.name: member for member in members}
        manifest = _read_manifest(archive, by_name["manifest.json"])
        for name in FILES:
            digest = hashlib.sha256()
            source = archive.extractfile(by_name[name])
            assert source is not None  # regular files always have content
            for block in iter(lambda: source.read(1 << 20), b""):  # noqa: B023 — consumed within the iteration
                digest.update(block)
            if digest.hexdigest() != manifest["files"].get(name):
                raise PackageRefused(f"{name} does not match the checksum in the manifest")
        if content_checksum(manifest["files"]) != manifest.get("checksum"):
            raise PackageRefused("the manifest's checksum does not match its files")
        destination.mkdir(parents=True, exist_ok=True)
        for member in members:
            source = archive.extractfile(member)
            assert source is not None
            with source, (destination / member.name).open("wb") as target:
                shutil.copyfileobj(source, target)
    return manifest


MANIFEST_MAX_BYTES = 1_000_000


def _read_manifest(archive: tarfile.TarFile, member: tarfile.TarInfo) -> dict[str, Any]:
    if member.size > MANIFEST_MAX_BYTES:
        raise PackageRefused(f"manifest.json is {member.size:,} bytes; a manifest is never over {MANIFEST_MAX_BYTES:,}")
    source = archive.extractfile(member)
    assert source is not None
    try:
        manifest = json.loads(source.read())
    except ValueError as exc:
        raise PackageRefused(f"manifest.json is not JSON: {exc}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise PackageRefused("manifest.json has no file checksums")
    return manifest


def _check_members(members: list[tarfile.TarInfo]) -> None:
    """Refuse anything but the expected flat regular files, and more bytes than a worker grants."""
    expected = {*FILES, "manifest.json"}
    for member in members:
        path = PurePosixPath(member.name)
        if path.is_absolute() or ".." in path.parts or len(path.parts) != 1:
            raise PackageRefused(f"unsafe path in package: {member.name!r}")
        # tarfile counts GNU sparse members as regular files: a few KB declaring gigabytes of holes.
        if member.issparse() or member.type not in (tarfile.REGTYPE, tarfile.AREGTYPE):
            kind = "a sparse file" if member.issparse() else "not a regular file (links are refused)"
            raise PackageRefused(f"package member {member.name!r} is {kind}")
        if member.name not in expected:
            raise PackageRefused(f"unexpected file in package: {member.name!r}")
    if {m.name for m in members} != expected or len(members) != len(expected):
        raise PackageRefused(
            f"package files {sorted(m.name for m in members)} differ from {sorted(expected)}"
        )
    limit = RecommenderLimits().max_unpacked_bytes
    total = sum(member.size for member in members)
    if total > limit:
        raise PackageRefused(f"package unpacks to {total:,} bytes, over the limit of {limit:,} "
                             "(NIGHTSHIFT_RECOMMENDER_MAX_UNPACKED_BYTES)")


def package_key(checksum: str) -> str:
    """Each version's objects live under the checksum of its package: a new id per build, verifiable."""
    return f"recommender/versions/{checksum}/recommender.tar"


# ---- the engine a worker keeps loaded -------------------------------------------------------------


class Engine:
    """One loaded version: the Annoy index (memory-mapped) and the id maps."""

    def __init__(self, version_id: int, checksum: str, folder: Path, manifest: dict[str, Any]) -> None:
        self.version_id, self.checksum, self.folder, self.manifest = version_id, checksum, folder, manifest
        self.index = AnnoyIndex(manifest["dim"], "angular")
        self.index.load(str(folder / "index.ann"))
        self.sentence_publications = np.load(folder / "sentence_publication_ids.npy", allow_pickle=False)
        self.publication_ids = np.load(folder / "publication_ids.npy", allow_pickle=False)
        self.publication_vectors = np.load(folder / "publication_vectors.npy", allow_pickle=False)
        self._row = {int(p): row for row, p in enumerate(self.publication_ids)}

    def by_vector(self, vector: Any, k: int, exclude: int | None = None) -> list[tuple[int, float]]:
        """Top-k publications for a query vector: the best cosine of any of their sentences."""
        n_trees, search_k = self.manifest["n_trees"], self.manifest["search_k"]
        total = len(self.sentence_publications)
        wanted = max(10 * k, 50)  # sentences; more when they fall in fewer than k publications
        while True:
            items, distances = self.index.get_nns_by_vector(
                vector, min(wanted, total), search_k=max(search_k, n_trees * wanted), include_distances=True
            )
            best: dict[int, float] = {}
            for item, distance in zip(items, distances):
                publication = int(self.sentence_publications[item])
                if publication != exclude and publication not in best:
                    best[publication] = 1.0 - distance * distance / 2.0  # angular distance -> cosine
            if len(best) >= k or wanted >= total:
                return sorted(best.items(), key=lambda pair: -pair[1])[:k]
            wanted *= 4

    def by_publication(self, publication_id: int, k: int) -> list[tuple[int, float]]:
        row = self._row.get(publication_id)
        if row is None:
            raise LookupError(
                f"publication {publication_id} is not in recommender version {self.version_id} "
                f"(no sentences, or added after the build): rebuild the recommender"
            )
        return self.by_vector(self.publication_vectors[row], k, exclude=publication_id)

    def close(self) -> None:
        self.index.unload()
        shutil.rmtree(self.folder, ignore_errors=True)


class EngineCache:
    """The current engine of this process; one indexed query per use tells whether a newer one is current."""

    def __init__(self) -> None:
        self._engine: Engine | None = None
        self._previous: Engine | None = None
        self._refused: dict[int, tuple[float, str]] = {}
        self._lock = threading.Lock()
        atexit.register(self.close)

    def close(self) -> None:
        """Unload the engines and remove their folders."""
        with self._lock:
            for engine in (self._previous, self._engine):
                if engine is not None:
                    engine.close()
            self._engine = self._previous = None

    def get(self, profile: Any) -> Engine:
        with profile.database.session() as session:
            current = queries.current_version(session)
        if current is None:
            raise NoCurrentVersion("no recommender version is current: run the build-recommender deployment")
        engine = self._engine
        if engine is not None and (engine.version_id, engine.checksum) == current:
            return engine
        with self._lock:
            if self._engine is None or (self._engine.version_id, self._engine.checksum) != current:
                self._try_load(profile, *current)
            if self._engine is None:
                reason = self._refused.get(current[0], (0, "not loaded"))[1]
                raise NoCurrentVersion(f"recommender version {current[0]} could not be loaded: {reason}")
            return self._engine

    def refused(self) -> dict[int, str]:
        return {version: reason for version, (_, reason) in self._refused.items()}

    def _try_load(self, profile: Any, version_id: int, checksum: str) -> None:
        refused_at = self._refused.get(version_id)
        if refused_at and time.monotonic() - refused_at[0] < RETRY_REFUSED_SECONDS:
            return
        try:
            engine = load_engine(profile.storage, version_id, checksum)
        except Exception as exc:  # noqa: BLE001 — the version in service keeps serving; the error is logged
            self._refused[version_id] = (time.monotonic(), str(exc))
            run_logger().error(
                "recommender version %s refused, keeping version %s: %s",
                version_id,
                self._engine.version_id if self._engine else None,
                exc,
            )
            return
        self._refused.pop(version_id, None)
        # Queries still running on the version before keep it for one more swap; the one before goes.
        if self._previous is not None:
            self._previous.close()
        self._previous, self._engine = self._engine, engine
        run_logger().info(
            "recommender version %s loaded (%s sentences)", version_id, engine.manifest["sentences"]
        )


def load_engine(storage: Any, version_id: int, checksum: str) -> Engine:
    """Download a version, verify it and unpack it into a private folder."""
    data = storage.get_bytes(package_key(checksum))
    actual = hashlib.sha256(data).hexdigest()
    if actual != checksum:
        raise PackageRefused(
            f"package of version {version_id} has checksum {actual[:12]}…, expected {checksum[:12]}…"
        )
    folder = Path(tempfile.mkdtemp(prefix=f"nightshift-recommender-v{version_id}-"))
    try:
        manifest = unpack_safely(data, folder)
        return Engine(version_id, checksum, folder, manifest)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


ENGINES = EngineCache()


# ---- build tasks ---------------------------------------------------------------------------------


@contextmanager
def build_slot(wait_seconds: float) -> Iterator[bool]:
    """Hold the single build slot (a Prefect global concurrency limit of 1); False when it stayed taken."""
    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(BUILD_LIMIT)
        except ObjectNotFound:  # created once; an operator may then change or deactivate it in the UI
            try:
                client.create_global_concurrency_limit(
                    GlobalConcurrencyLimitCreate(name=BUILD_LIMIT, limit=1)
                )
            except ObjectAlreadyExists:
                pass
    stack = ExitStack()
    try:
        stack.enter_context(concurrency(BUILD_LIMIT, occupy=1, timeout_seconds=wait_seconds, strict=True))
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


@task(
    name="collect-sentences",
    retries=2,
    retry_delay_seconds=[2, 10],
    retry_condition_fn=retry_transient,
    cache_policy=NO_CACHE,
)
def collect_sentences() -> SentenceCorpus:
    """Every publication's text, split into sentences."""
    with load_profile().database.session() as session:
        corpus = corpus_from(list(queries.publication_texts(session)))
    if corpus.sentences == 0:
        raise NoPublications(
            "no publication with text to index: load publications first (python -m deployments.corpus …)"
        )
    return corpus


@task(
    name="find-missing-embeddings",
    retries=2,
    retry_delay_seconds=[2, 10],
    retry_condition_fn=retry_transient,
    cache_policy=NO_CACHE,
)
def find_missing_embeddings(corpus: SentenceCorpus) -> list[str]:
    """Hashes of the sentences not embedded yet with the profile's model."""
    profile = load_profile()
    with profile.database.session() as session:
        stored = queries.embedded_hashes(session, profile.embedder.model_name, corpus.texts)
    return [h for h in corpus.texts if h not in stored]


def _embed_run_name() -> str:
    from prefect.runtime import task_run

    return f"embed-sentences-{len(task_run.parameters.get('texts') or {})}"


@task(
    name="embed-sentences",
    task_run_name=_embed_run_name,
    retries=1,
    retry_delay_seconds=5,
    retry_condition_fn=retry_transient,
    cache_policy=NO_CACHE,
)
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


@task(
    name="load-sentence-vectors",
    retries=2,
    retry_delay_seconds=[2, 10],
    retry_condition_fn=retry_transient,
    cache_policy=NO_CACHE,
)
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


@task(
    name="publish-recommender-package",
    retries=2,
    retry_delay_seconds=[2, 10],
    retry_condition_fn=retry_transient,
    cache_policy=NO_CACHE,
)
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


@task(
    name="make-recommender-version-current",
    retries=2,
    retry_delay_seconds=[2, 10],
    retry_condition_fn=retry_transient,
    cache_policy=NO_CACHE,
)
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


def build_report(outcome: BuildOutcome) -> str:
    figures = outcome.figures
    lines = [
        "# Recommender build",
        "",
        f"- status: **{outcome.status}**; version {outcome.version_id}",
    ]
    if outcome.status == "published":
        lines += [
            (
                f"- publications: {figures['publications']}; sentences: {figures['sentences']} "
                f"({figures['distinct_sentences']} distinct; {figures['reused']} embeddings reused, "
                f"{figures['embedded']} embedded)"
            ),
            f"- model: {figures['model']} (dim {figures['dim']})",
            (
                f"- Annoy: {figures['n_trees']} trees, search_k {figures['search_k']}, "
                f"recall@{figures['recall_k']} {figures['recall']:.3f} against exact search"
            ),
            f"- package: {figures['size_mb']:.1f} MB at `{outcome.uri}`",
            f"- checksum: `{outcome.checksum}`",
            "",
            "| step | seconds |",
            "|---|---|",
            *(f"| {step} | {seconds:.2f} |" for step, seconds in figures["seconds"].items()),
        ]
    return "\n".join(lines)


@task(name="report-recommender-build")
def report_build(outcome: BuildOutcome) -> str:
    """The run's artifact and, for a new version, the event other automations listen to."""
    markdown = build_report(outcome)
    create_markdown_artifact(
        markdown=markdown, key="recommender-build", description="Recommender build figures"
    )
    if outcome.status == "published":
        emit_event(
            event=EVENT_PUBLISHED,
            resource={
                "prefect.resource.id": f"nightshift.recommender.version.{outcome.version_id}",
                "prefect.resource.name": f"recommender version {outcome.version_id}",
            },
            payload={
                **{k: v for k, v in outcome.figures.items() if k != "seconds"},
                "version_id": outcome.version_id,
                "checksum": outcome.checksum,
                "uri": outcome.uri,
            },
        )
    return markdown


# ---- recommend -----------------------------------------------------------------------------------


class Recommendation(BaseModel):
    publication_id: int
    title: str
    score: float


class Recommendations(BaseModel):
    version_id: int
    query: str
    items: list[Recommendation]


def recommend_with(profile: Any, text: str | None, publication_id: int | None, k: int) -> Recommendations:
    """Top-k publications for a text or a publication, from this process's current engine."""
    if (text is None) == (publication_id is None):
        raise ValueError("give either a text or a publication_id")
    engine = ENGINES.get(profile)
    if text is not None:
        [vector] = profile.embedder.embed([text])
        scored, query = engine.by_vector(vector, k), f"text {text[:80]!r}"
    else:
        assert publication_id is not None
        scored, query = engine.by_publication(publication_id, k), f"publication {publication_id}"
    with profile.database.session() as session:
        titles = queries.publication_titles(session, [p for p, _ in scored])
    items = [Recommendation(publication_id=p, title=titles.get(p, ""), score=round(s, 4)) for p, s in scored]
    return Recommendations(version_id=engine.version_id, query=query, items=items)


@task(name="recommend-publications", retries=1, retry_delay_seconds=2, cache_policy=NO_CACHE)
def recommend_publications(
    text: str | None = None, publication_id: int | None = None, k: int = 10
) -> Recommendations:
    """Top-k publications (with cosine scores) for a text or a publication id."""
    return recommend_with(load_profile(), text, publication_id, k)


def recommendations_markdown(result: Recommendations) -> str:
    lines = [
        f"# Recommendations for {result.query}",
        "",
        f"version {result.version_id}",
        "",
        "| publication | title | score |",
        "|---|---|---|",
    ]
    lines += [f"| {r.publication_id} | {r.title.replace('|', '/')} | {r.score:.3f} |" for r in result.items]
    return "\n".join(lines)


@task(name="report-recommendations")
def report_recommendations(result: Recommendations) -> str:
    markdown = recommendations_markdown(result)
    create_markdown_artifact(markdown=markdown, key="recommendations", description="Recommended publications")
    return markdown
