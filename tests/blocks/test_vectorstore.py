"""The Chroma vector store: cosine collections fed precomputed embeddings, never Chroma's default model."""

from __future__ import annotations

import io
import os
import random
import socket
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import pytest

from blocks.embedder import SentenceTransformerEmbedder
from blocks.vectorstore import ChromaVectorStore, VectorHit, collection_name

REPO = Path(__file__).resolve().parents[2]


def _unit(vector: list[float]) -> list[float]:
    norm = sum(x * x for x in vector) ** 0.5
    return [x / norm for x in vector]


def test_real_embeddings_round_trip_with_cosine_scores(tmp_path: Path) -> None:
    store = ChromaVectorStore(path=str(tmp_path / "chroma"))
    texts = [
        "The invoice must be paid by Friday.",
        "Quarterly revenue grew by twelve percent.",
        "The cat sleeps on the warm windowsill.",
    ]
    embedder = SentenceTransformerEmbedder()
    vectors = embedder.embed(texts)
    owner = collection_name(42)
    assert owner == "user-42"
    store.upsert(owner, ["s1-0", "s1-1", "s2-0"], vectors, texts,
                 [{"source_id": 1}, {"source_id": 1}, {"source_id": 2}])

    hits = store.query(owner, embedder.embed(["When is the bill due?"])[0], k=3)
    assert all(isinstance(hit, VectorHit) for hit in hits)
    assert hits[0].id == "s1-0" and hits[0].document == texts[0] and hits[0].metadata == {"source_id": 1}
    assert hits[0].score > hits[1].score > -1 and hits[0].score <= 1.0001
    # An exact vector scores cosine 1.
    assert store.query(owner, vectors[2], k=1)[0].score == pytest.approx(1.0, abs=1e-4)

    assert store.count(owner) == 3 and store.count(owner, where={"source_id": 1}) == 2
    assert [h.id for h in store.query(owner, vectors[0], k=5, where={"source_id": 2})] == ["s2-0"]

    # Upsert replaces by id; delete by where and by ids.
    store.upsert(owner, ["s2-0"], [vectors[0]], ["replaced"], [{"source_id": 2}])
    assert store.query(owner, vectors[0], k=5, where={"source_id": 2})[0].document == "replaced"
    assert store.count(owner) == 3
    store.delete(owner, where={"source_id": 1})
    assert store.count(owner) == 1
    store.delete(owner, ids=["s2-0"])
    assert store.count(owner) == 0
    with pytest.raises(ValueError, match="refusing"):
        store.delete(owner)
    with pytest.raises(ValueError, match="differ in length"):
        store.upsert(owner, ["a"], [], ["x"], [{}])

    # Collections of different owners do not see each other.
    store.upsert(collection_name(43), ["x"], [vectors[1]], [texts[1]], [{"source_id": 9}])
    assert store.count(owner) == 0 and store.count(collection_name(43)) == 1


def test_upsert_above_chromas_max_batch_size(tmp_path: Path) -> None:
    store = ChromaVectorStore(path=str(tmp_path / "chroma"), batch_size=5000)
    rng = random.Random(1)
    n = 6000  # above Chroma's limit of 5,461 records per call
    embeddings = [_unit([rng.gauss(0, 1) for _ in range(8)]) for _ in range(n)]
    ids = [f"id-{i}" for i in range(n)]
    store.upsert("user-1", ids, embeddings, [f"doc {i}" for i in range(n)], [{"i": i} for i in range(n)])
    assert store.count("user-1") == n
    assert store.query("user-1", embeddings[5999], k=1)[0].id == "id-5999"
    store.delete("user-1", ids=ids)
    assert store.count("user-1") == 0


_OFFLINE_SCRIPT = """
import sys
from blocks.vectorstore import ChromaVectorStore
store = ChromaVectorStore(path=sys.argv[1])
if sys.argv[2] == "write":
    store.upsert("user-5", ["a", "b"], [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], ["alpha", "beta"], [{"s": 1}, {"s": 2}])
collection = store._collection("user-5")
assert collection._embedding_function is None, collection._embedding_function
hits = store.query("user-5", [0.9, 0.1, 0.0], k=2)
print(hits[0].id, store.count("user-5"))
"""


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_never_runs_chromas_default_embedding_function_offline(tmp_path: Path) -> None:
    """Write, reopen and query in fresh processes with no network: nothing downloads, nothing is cached."""
    home = tmp_path / "home"
    home.mkdir()
    dead = f"http://127.0.0.1:{_closed_port()}"
    env = {
        **os.environ, "HOME": str(home), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO),
        "HTTP_PROXY": dead, "HTTPS_PROXY": dead, "http_proxy": dead, "https_proxy": dead,
        "NO_PROXY": "", "no_proxy": "",
    }
    for mode in ("write", "read"):
        done = subprocess.run([sys.executable, "-c", _OFFLINE_SCRIPT, str(tmp_path / "chroma"), mode],
                              env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == ["a", "2"]
    # Chroma's default embedding function would have put its ONNX model under ~/.cache/chroma.
    assert not (home / ".cache" / "chroma").exists()


def test_writing_serializes_writers_of_one_collection(tmp_path: Path) -> None:
    store = ChromaVectorStore(path=str(tmp_path / "chroma"))
    events: list[str] = []

    def writer(name: str) -> None:
        with store.writing("user-3"):
            events.append(f"{name}-in")
            time.sleep(0.2)
            events.append(f"{name}-out")

    threads = [threading.Thread(target=writer, args=(n,)) for n in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert events[0][0] == events[1][0] and events[2][0] == events[3][0], events

    # Another process is kept out while this one holds the lock, and gets in afterwards.
    probe = (
        "import fcntl, sys; f = open(sys.argv[1], 'a+')\n"
        "try:\n    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB); print('got')\n"
        "except BlockingIOError:\n    print('blocked')\n"
    )
    lock_file = str(tmp_path / "chroma" / ".locks" / "user-3.lock")
    with store.writing("user-3"):
        inside = subprocess.run([sys.executable, "-c", probe, lock_file], capture_output=True, text=True)
    after = subprocess.run([sys.executable, "-c", probe, lock_file], capture_output=True, text=True)
    assert (inside.stdout.strip(), after.stdout.strip()) == ("blocked", "got")


def test_snapshot_holds_the_store_and_reopens(tmp_path: Path) -> None:
    store = ChromaVectorStore(path=str(tmp_path / "chroma"))
    store.upsert("user-8", ["a"], [[0.0, 1.0]], ["only"], [{"s": 1}])
    with store.writing("user-8"):
        pass
    archive = store.snapshot()
    assert archive is not None
    restored = tmp_path / "restored"
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        names = tar.getnames()
        tar.extractall(restored, filter="data")
    assert "chroma.sqlite3" in names and not any(".locks" in n for n in names)
    assert ChromaVectorStore(path=str(restored)).query("user-8", [0.0, 1.0], k=1)[0].document == "only"
    assert ChromaVectorStore(host="127.0.0.1").snapshot() is None


def test_needs_a_path_or_a_host() -> None:
    with pytest.raises(ValueError, match="path"):
        ChromaVectorStore().count("user-1")


@pytest.fixture
def chroma_server(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A real Chroma server on loopback (the production shape of the block)."""
    port = _closed_port()
    chroma = Path(sys.executable).parent / "chroma"
    process = subprocess.Popen([str(chroma), "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1",
                                "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("chroma server did not start within 30 s")
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_server_mode_against_a_real_chroma_server(chroma_server: int, prefect_api: None) -> None:
    store = ChromaVectorStore(host="127.0.0.1", port=chroma_server)
    store.upsert("user-9", ["a", "b"], [[1.0, 0.0], [0.0, 1.0]], ["alpha", "beta"], [{"s": 1}, {"s": 2}])
    assert store.count("user-9") == 2
    assert store.query("user-9", [0.0, 1.0], k=1)[0].id == "b"
    with store.writing("user-9"):  # a one-slot Prefect global concurrency limit
        store.delete("user-9", where={"s": 1})
    assert store.count("user-9") == 1
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        assert client.read_global_concurrency_limit_by_name("vector-store-user-9").limit == 1


def test_a_process_sees_writes_made_by_another_process(tmp_path: Path) -> None:
    """Embedded Chroma keeps its index in memory: the store reopens after another process wrote."""
    store = ChromaVectorStore(path=str(tmp_path / "chroma"))
    store.upsert("user-6", ["old"], [[1.0, 0.0]], ["old"], [{"s": 1}])
    assert [h.id for h in store.query("user-6", [0.0, 1.0], k=5)] == ["old"]
    script = (
        "import sys\nfrom blocks.vectorstore import ChromaVectorStore\n"
        "s = ChromaVectorStore(path=sys.argv[1])\n"
        "s.upsert('user-6', ['new'], [[0.0, 1.0]], ['new'], [{'s': 2}])\n"
        "s.delete('user-6', ids=['old'])\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "chroma")], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr
    assert [h.id for h in store.query("user-6", [0.0, 1.0], k=5)] == ["new"]
    assert store.count("user-6") == 1


def test_drop_and_list_collections(tmp_path: Path) -> None:
    store = ChromaVectorStore(path=str(tmp_path / "chroma"))
    store.upsert("user-1", ["a"], [[1.0, 0.0]], ["a"], [{"s": 1}])
    store.upsert("user-2", ["b"], [[1.0, 0.0]], ["b"], [{"s": 1}])
    assert store.collections() == ["user-1", "user-2"]
    store.drop("user-1")
    store.drop("user-404")
    assert store.collections() == ["user-2"] and store.count("user-1") == 0
