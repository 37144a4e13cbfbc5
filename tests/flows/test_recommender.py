"""Recommender flows against a real Prefect API, on SQLite and PostgreSQL, with real worker processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import SHARED_DATA
from prefect.artifacts import Artifact
from prefect.client.orchestration import get_client
from prefect.concurrency.sync import concurrency
from prefect.events.filters import EventFilter, EventNameFilter
from prefect.settings import PREFECT_API_URL
from sqlalchemy import func, select, update

from blocks.profile import clear_profile_cache, embedded_profile
from blocks.storage import LocalFolderStorage
from deployments.demo.corpus import load_publications, publications_from
from deployments.operations.bootstrap import save_profile
from flows.recommender import build_recommender, recommend
from store.models import Publication, RecommenderVersion, SentenceEmbedding
from store.recommender import publication_texts, save_embeddings
from tasks.recommender.index import to_bytes
from tasks.recommender.package import package_key
from tasks.recommender.reports import EVENT_PUBLISHED
from tasks.recommender.sentences import corpus_from
from tasks.recommender.steps import BUILD_LIMIT
from tasks.runtime import utcnow

ROOT = Path(__file__).resolve().parents[2]
NEW_TEXT = (
    "The harbour master counted every ship that entered the bay during the storm season. "
    "Merchants complained that the new tolls doubled the price of salt and wool. "
    "A lighthouse keeper wrote letters about the whales he saw each spring."
)


def _load_corpus(url: str) -> list[int]:
    """Four pages of DA-619p.pdf, the essay page and the layout-parser paper: ~260 real sentences."""
    pubs = publications_from([SHARED_DATA / "pdf" / "DA-619p.pdf"], max_pages=4)
    pubs += publications_from(
        [SHARED_DATA / "html" / "ideas-page.html", SHARED_DATA / "pdf" / "layout-parser-paper-fast.pdf"]
    )
    return load_publications(url, pubs)


_embedded: dict[str, dict[str, bytes]] = {}


def _warm_embeddings(profile) -> None:  # type: ignore[no-untyped-def]
    """Store the corpus's sentence embeddings as an earlier build would have (embedded once per session).

    Only the first build test needs a cold cache; the others would spend their time embedding again.
    """
    model = profile.embedder.model_name
    with profile.database.session() as session:
        corpus = corpus_from(list(publication_texts(session)))
        if model not in _embedded:
            hashes = list(corpus.texts)
            vectors = profile.embedder.embed([corpus.texts[h] for h in hashes])
            _embedded[model] = {h: to_bytes(v) for h, v in zip(hashes, vectors, strict=True)}
        vectors = _embedded[model]
        save_embeddings(session, model, len(vectors[next(iter(vectors))]) // 4, vectors, utcnow())


def _versions(profile) -> list[tuple[int, bool, str]]:  # type: ignore[no-untyped-def]
    with profile.database.session() as session:
        rows = session.execute(
            select(
                RecommenderVersion.id, RecommenderVersion.is_current, RecommenderVersion.checksum
            ).order_by(RecommenderVersion.id)
        ).all()
    return [tuple(r) for r in rows]


def _backend(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgres"


def _published_event(checksum: str) -> dict:
    """The "published" event of that version, read back from the Prefect API (events arrive asynchronously)."""
    deadline = time.monotonic() + 20
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            page = client.read_events(
                filter=EventFilter(event=EventNameFilter(name=[EVENT_PUBLISHED])), limit=50
            )
            for event in page.events:
                if event.payload.get("checksum") == checksum:
                    return event.payload
            time.sleep(0.5)
        seen = [(e.event, e.payload) for e in client.read_events(filter=EventFilter(), limit=50).events]
    raise AssertionError(f"no {EVENT_PUBLISHED} event for {checksum}: {seen}")


def test_build_publishes_a_current_version_and_recommends(profile) -> None:  # type: ignore[no-untyped-def]
    ids = _load_corpus(profile.database.url.get_secret_value())
    outcome = build_recommender()
    assert outcome.status == "published"
    figures = outcome.figures
    assert figures["recall"] >= 0.95 and figures["sentences"] > 150 and figures["publications"] == len(ids)
    assert figures["embedded"] == figures["distinct_sentences"] and figures["reused"] == 0
    assert _versions(profile) == [(outcome.version_id, True, outcome.checksum)]
    assert profile.storage.exists(package_key(outcome.checksum))
    report = str(Artifact.get("recommender-build").data)
    assert f"recall@10 {figures['recall']:.3f}" in report and outcome.checksum in report
    assert _published_event(outcome.checksum)["version_id"] == outcome.version_id

    by_publication = recommend(publication_id=ids[2], k=5)
    assert by_publication.version_id == outcome.version_id and len(by_publication.items) == 5
    assert ids[2] not in [r.publication_id for r in by_publication.items]
    scores = [r.score for r in by_publication.items]
    assert scores == sorted(scores, reverse=True) and all(-1 <= s <= 1 for s in scores)
    by_text = recommend(text="Where do good new ideas come from, and how do you notice anomalies?", k=3)
    assert by_text.items[0].title.startswith("ideas-page")
    assert "ideas-page" in str(Artifact.get("recommendations").data)


def test_rebuild_reuses_embeddings_of_unchanged_sentences(profile) -> None:  # type: ignore[no-untyped-def]
    url = profile.database.url.get_secret_value()
    ids = _load_corpus(url)
    _warm_embeddings(profile)
    first = build_recommender()
    assert first.figures["embedded"] == 0
    with profile.database.session() as session:
        session.execute(update(Publication).where(Publication.id == ids[0]).values(body=NEW_TEXT))
    second = build_recommender()
    assert second.status == "published" and second.version_id != first.version_id
    assert second.figures["embedded"] == 3  # the three sentences of NEW_TEXT, nothing else
    assert second.figures["reused"] == second.figures["distinct_sentences"] - 3
    assert [current for _, current, _ in _versions(profile)] == [False, True]
    with profile.database.session() as session:
        stored = session.scalar(select(func.count()).select_from(SentenceEmbedding))
        # Each version records the Annoy parameters it met the target with; the rebuild started there.
        parameters = session.execute(
            select(RecommenderVersion.n_trees, RecommenderVersion.search_k).order_by(RecommenderVersion.id)
        ).all()
    assert parameters[0] == (first.figures["n_trees"], first.figures["search_k"])
    assert parameters[1] == (second.figures["n_trees"], second.figures["search_k"]) == parameters[0]
    assert second.figures["recall"] >= 0.95
    assert stored == first.figures["distinct_sentences"] + 3  # old vectors stay for later reuse
    hits = recommend(text="ships in the harbour during a storm and the price of salt", k=1)
    assert hits.version_id == second.version_id and hits.items[0].publication_id == ids[0]


@pytest.mark.parametrize("profile", ["sqlite"], indirect=True)
def test_zero_publications_is_a_clear_error(profile) -> None:  # type: ignore[no-untyped-def]
    state = build_recommender(return_state=True)
    assert state.is_failed()
    with pytest.raises(LookupError, match="no publication with text to index: load publications first"):
        state.result()
    assert _versions(profile) == []


def test_failed_build_leaves_the_previous_version_current(
    profile, test_profiles, tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    url = profile.database.url.get_secret_value()
    _load_corpus(url)
    _warm_embeddings(profile)
    first = build_recommender()
    # Same database, but object storage that cannot be written (its root is a file).
    broken = embedded_profile(tmp_path, database_url=url)
    (tmp_path / "not-a-folder").write_text("")
    broken.storage = LocalFolderStorage(root=str(tmp_path / "not-a-folder"))
    save_profile(broken, "test-recommender-broken-storage", overwrite=True)
    monkeypatch.setenv("NIGHTSHIFT_PROFILE", "test-recommender-broken-storage")
    clear_profile_cache()
    state = build_recommender(return_state=True)
    assert state.is_failed()
    assert _versions(profile) == [(first.version_id, True, first.checksum)]
    monkeypatch.setenv("NIGHTSHIFT_PROFILE", test_profiles[_backend(url)])
    clear_profile_cache()
    assert recommend(publication_id=_load_corpus(url)[0], k=2).version_id == first.version_id


@pytest.mark.parametrize("profile", ["sqlite"], indirect=True)  # Prefect's limit: the backend plays no part
def test_only_one_build_at_a_time(profile) -> None:  # type: ignore[no-untyped-def]
    _load_corpus(profile.database.url.get_secret_value())
    _warm_embeddings(profile)
    first = build_recommender()
    # Another build holds the slot: a request that may not wait is skipped and changes nothing.
    with concurrency(BUILD_LIMIT, occupy=1, strict=True):
        skipped = build_recommender(wait_seconds=1)
    assert skipped.status == "skipped-busy" and skipped.version_id is None
    assert _versions(profile) == [(first.version_id, True, first.checksum)]
    recent = build_recommender(skip_if_newer_than_hours=1)
    assert recent.status == "skipped-recent" and recent.version_id == first.version_id
    assert len(_versions(profile)) == 1


WORKER = """
import json, sys
from blocks.profile import load_profile
from tasks.recommender.engine import ENGINES, recommend_with
profile = load_profile()
for line in sys.stdin:
    request = json.loads(line)
    try:
        result = recommend_with(profile, None, request["publication_id"], 3)
        answer = {"version_id": result.version_id, "items": [r.publication_id for r in result.items]}
    except Exception as exc:
        answer = {"error": repr(exc)}
    answer["refused"] = sorted(ENGINES.refused())
    print(json.dumps(answer), flush=True)
"""


class Worker:
    """A separate Python process that keeps its recommender engine loaded between requests."""

    def __init__(self, profile_name: str) -> None:
        env = {
            **os.environ,
            "PREFECT_API_URL": PREFECT_API_URL.value(),
            "NIGHTSHIFT_PROFILE": profile_name,
            "PYTHONPATH": str(ROOT),
        }
        self.process = subprocess.Popen(
            [sys.executable, "-c", WORKER],
            cwd=ROOT,
            env=env,
            text=True,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )

    def ask(self, publication_id: int) -> dict:
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write(json.dumps({"publication_id": publication_id}) + "\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def stop(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait(timeout=30)


def test_two_workers_swap_to_a_new_version_and_refuse_a_corrupted_one(profile, test_profiles) -> None:  # type: ignore[no-untyped-def]
    url = profile.database.url.get_secret_value()
    ids = _load_corpus(url)
    _warm_embeddings(profile)
    v1 = build_recommender()
    workers = [Worker(test_profiles[_backend(url)]), Worker(test_profiles[_backend(url)])]
    try:
        first = [w.ask(ids[1]) for w in workers]
        assert [a.get("version_id") for a in first] == [v1.version_id] * 2, first

        with profile.database.session() as session:
            session.execute(update(Publication).where(Publication.id == ids[0]).values(body=NEW_TEXT))
        v2 = build_recommender()
        second = [w.ask(ids[1]) for w in workers]
        assert [a["version_id"] for a in second] == [v2.version_id] * 2, second

        v3 = build_recommender()
        key = package_key(v3.checksum)
        data = profile.storage.get_bytes(key)
        middle = len(data) // 2
        profile.storage.put_bytes(
            key, data[:middle] + bytes(b ^ 0xFF for b in data[middle : middle + 64]) + data[middle + 64 :]
        )
        third = [w.ask(ids[1]) for w in workers]
        assert [a["version_id"] for a in third] == [v2.version_id] * 2, third
        assert all(a["refused"] == [v3.version_id] for a in third)
        assert third[0]["items"] == second[0]["items"]
    finally:
        for worker in workers:
            worker.stop()
