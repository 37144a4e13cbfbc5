"""The engine a worker keeps loaded: one version's index and id maps, swapped when a newer one is current."""

from __future__ import annotations

import atexit
import hashlib
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from annoy import AnnoyIndex
from pydantic import BaseModel

from store import recommender as queries
from tasks.recommender.package import PackageRefused, package_key, unpack_safely
from tasks.runtime import run_logger

# A refused version is not downloaded again on every query; it is retried after this long.
RETRY_REFUSED_SECONDS = 60.0


class NoCurrentVersion(LookupError):
    """No recommender version is current (or none could be loaded)."""


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
            for item, distance in zip(items, distances, strict=True):
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
        except Exception as exc:  # noqa: BLE001 - the version in service keeps serving; the error is logged
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
    if publication_id is not None:
        scored, query = engine.by_publication(publication_id, k), f"publication {publication_id}"
    else:
        [vector] = profile.embedder.embed([text])
        scored, query = engine.by_vector(vector, k), f"text {str(text)[:80]!r}"
    with profile.database.session() as session:
        titles = queries.publication_titles(session, [p for p, _ in scored])
    items = [Recommendation(publication_id=p, title=titles.get(p, ""), score=round(s, 4)) for p, s in scored]
    return Recommendations(version_id=engine.version_id, query=query, items=items)
