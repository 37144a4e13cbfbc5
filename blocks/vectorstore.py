"""The VectorStore block: one cosine collection per owner, always fed precomputed embeddings.

Chroma is opened with `embedding_function=None` and every write and query passes its embeddings:
Chroma's default embedding function would download a model at run time.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
import tarfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prefect.blocks.core import Block
from pydantic import BaseModel, Field, SecretStr

from blocks.concurrency import ensure_global_limit

# Chroma's own hard limit here is 5,461 records per add; stay well below it.
MAX_BATCH = 5000

_clients: dict[tuple, Any] = {}
_clients_lock = threading.Lock()
_thread_locks: dict[str, threading.Lock] = {}
_seen_generation: dict[tuple, str] = {}


def collection_name(owner_user_id: int) -> str:
    """The collection holding every chunk of one user's documents."""
    return f"user-{owner_user_id}"


@contextlib.contextmanager
def _file_lock(path: Path, name: str) -> Iterator[None]:
    """An exclusive lock held by one thread of one process at a time."""
    with _clients_lock:
        thread_lock = _thread_locks.setdefault(name, threading.Lock())
    with thread_lock, open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class VectorHit(BaseModel):
    """One query result: `score` is the cosine similarity (1 = same direction)."""

    id: str
    score: float
    document: str
    metadata: dict[str, Any]


class VectorStore(Block):
    """Interface: upsert, delete, query and count vectors in named collections."""

    _block_type_name = "nightshift Vector Store"

    def upsert(self, collection: str, ids: list[str], embeddings: list[list[float]],
               documents: list[str], metadatas: list[dict]) -> None:
        raise NotImplementedError

    def delete(self, collection: str, *, ids: list[str] | None = None, where: dict | None = None) -> None:  # type: ignore[override]  # vectors of a collection, beside Block's delete(name) classmethod
        raise NotImplementedError

    def query(self, collection: str, embedding: list[float], k: int = 5,
              where: dict | None = None) -> list[VectorHit]:
        raise NotImplementedError

    def count(self, collection: str, where: dict | None = None) -> int:
        raise NotImplementedError

    def drop(self, collection: str) -> None:
        """Remove a whole collection (an owner deleted); nothing happens when it does not exist."""
        raise NotImplementedError

    def collections(self) -> list[str]:
        raise NotImplementedError

    @contextlib.contextmanager
    def writing(self, collection: str) -> Iterator[None]:
        """Hold the collection's write lock: a delete-then-upsert inside it is never interleaved."""
        yield

    def snapshot(self) -> bytes | None:
        """A tar.gz of the store's files (embedded mode), or None where a server persists itself."""
        return None


class ChromaVectorStore(VectorStore):
    """Chroma: a local persistent folder (`path`), or a Chroma server (`host`, `port`, `ssl`, `headers`)."""

    _block_type_name = "Chroma Vector Store"
    _block_type_slug = "nightshift-chroma-vector-store"

    path: str = Field("", description="Folder of an embedded, persistent Chroma; empty = use the server below.")
    host: str = Field("", description="Chroma server host (production).")
    port: int = Field(8000, description="Chroma server port.")
    ssl: bool = Field(False, description="Use HTTPS for the Chroma server.")
    headers: dict[str, SecretStr] = Field(
        default_factory=dict, description="Extra HTTP headers, e.g. Authorization or X-Chroma-Token."
    )
    batch_size: int = Field(1000, ge=1, le=MAX_BATCH, description="Records per add/upsert call.")

    def _client(self) -> Any:
        """One client per store and process, reopened when another process wrote to the embedded folder.

        Each embedded client keeps its vector index in memory; without the reopen, a process would
        keep answering from what it loaded before another process's writes.
        """
        if not self.path and not self.host:
            raise ValueError("ChromaVectorStore needs `path` (embedded) or `host` (server): set one")
        key = (self.path, self.host, self.port, self.ssl)
        with _clients_lock:
            generation = self._generation()
            if key in _clients and _seen_generation.get(key) != generation:
                from chromadb.api.client import SharedSystemClient

                SharedSystemClient.clear_system_cache()
                _clients.clear()
            if key not in _clients:
                import chromadb
                from chromadb.config import Settings

                settings = Settings(anonymized_telemetry=False)
                if self.path:
                    Path(self.path).mkdir(parents=True, exist_ok=True)
                    _clients[key] = chromadb.PersistentClient(path=self.path, settings=settings)
                else:
                    headers = {k: v.get_secret_value() for k, v in self.headers.items()}
                    _clients[key] = chromadb.HttpClient(
                        host=self.host, port=self.port, ssl=self.ssl, headers=headers, settings=settings
                    )
                _seen_generation[key] = generation
            return _clients[key]

    def _locks(self) -> Path:
        folder = Path(self.path) / ".locks"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def _generation(self) -> str:
        """Changes on every write to the embedded folder (any process); empty for a server."""
        if not self.path:
            return ""
        try:
            return (Path(self.path) / ".locks" / "generation").read_text()
        except FileNotFoundError:
            return ""

    @contextlib.contextmanager
    def _store_write(self) -> Iterator[None]:
        """Embedded: one writer at a time across processes, and a new generation once it is done."""
        if not self.path:
            yield
            return
        with _file_lock(self._locks() / "store.lock", f"{self.path}:store"):
            self._client()  # catch up with other processes' writes first
            try:
                yield
            finally:
                generation = uuid.uuid4().hex
                tmp = self._locks() / f".generation.{generation}"
                tmp.write_text(generation)
                os.replace(tmp, self._locks() / "generation")
                with _clients_lock:
                    _seen_generation[(self.path, self.host, self.port, self.ssl)] = generation

    def _collection(self, name: str) -> Any:
        return self._client().get_or_create_collection(
            name, embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
        )

    def _batch(self) -> int:
        return max(1, min(self.batch_size, self._client().get_max_batch_size() - 1))

    def upsert(self, collection: str, ids: list[str], embeddings: list[list[float]],
               documents: list[str], metadatas: list[dict]) -> None:
        if not (len(ids) == len(embeddings) == len(documents) == len(metadatas)):
            raise ValueError(
                f"upsert into {collection!r}: ids, embeddings, documents and metadatas differ in length "
                f"({len(ids)}, {len(embeddings)}, {len(documents)}, {len(metadatas)})"
            )
        if not ids:
            return
        with self._store_write():
            target, step = self._collection(collection), self._batch()
            for start in range(0, len(ids), step):
                end = start + step
                target.upsert(
                    ids=ids[start:end], embeddings=embeddings[start:end],
                    documents=documents[start:end], metadatas=[m or None for m in metadatas[start:end]],
                )

    def delete(self, collection: str, *, ids: list[str] | None = None, where: dict | None = None) -> None:  # type: ignore[override]  # vectors of a collection, beside Block's delete(name) classmethod
        if ids is None and where is None:
            raise ValueError(f"delete from {collection!r}: give ids or where (refusing to empty it)")  # noqa: S608 - a message, not SQL
        if ids is not None and not ids:
            return
        with self._store_write():
            target = self._collection(collection)
            if ids is not None:
                step = self._batch()
                for start in range(0, len(ids), step):
                    target.delete(ids=ids[start:start + step], where=where)
            else:
                target.delete(where=where)

    def query(self, collection: str, embedding: list[float], k: int = 5,
              where: dict | None = None) -> list[VectorHit]:
        target = self._collection(collection)
        result = target.query(
            query_embeddings=[embedding], n_results=k, where=where,
            include=["documents", "metadatas", "distances"],
        )
        return [
            VectorHit(id=id_, score=1.0 - float(distance), document=document or "", metadata=metadata or {})
            for id_, distance, document, metadata in zip(  # noqa: B905 - Chroma returns equal lists
                result["ids"][0], result["distances"][0], result["documents"][0], result["metadatas"][0]
            )
        ]

    def drop(self, collection: str) -> None:
        with self._store_write():
            if collection in self.collections():
                self._client().delete_collection(collection)

    def collections(self) -> list[str]:
        return sorted(c.name for c in self._client().list_collections())

    def count(self, collection: str, where: dict | None = None) -> int:
        target = self._collection(collection)
        if where is None:
            return target.count()
        return len(target.get(where=where, include=[])["ids"])

    @contextlib.contextmanager
    def writing(self, collection: str) -> Iterator[None]:
        """Serialize writers of one collection: a lock file in embedded mode (threads and processes)."""
        if not self.path:
            # A Chroma server applies each call atomically; callers serialize multi-step swaps with a
            # Prefect concurrency limit named after the collection.
            from prefect.concurrency.sync import concurrency

            name = ensure_global_limit(f"vector-store-{collection}")
            with concurrency(name, occupy=1, strict=True):
                yield
            return
        with _file_lock(self._locks() / f"{collection}.lock", f"{self.path}:{collection}"):
            yield

    def snapshot(self) -> bytes | None:
        """A tar.gz of the embedded folder (without lock files); None for a server."""
        if not self.path:
            return None
        buffer = io.BytesIO()
        root = Path(self.path)
        # Under the store's write lock: no file changes while it is read.
        with _file_lock(self._locks() / "store.lock", f"{self.path}:store"), \
                tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=1) as archive:
            for file in sorted(root.rglob("*")):
                if file.is_file() and ".locks" not in file.relative_to(root).parts:
                    archive.add(file, arcname=os.path.relpath(file, root), recursive=False)
        return buffer.getvalue()
