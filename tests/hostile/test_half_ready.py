"""A database outage at the end of a PDF ingestion: nothing half-ready is shown, the owner and operator know."""

from __future__ import annotations

import ast
import email
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import SHARED_DATA, clean_database
from hostile.outage import DatabaseOutage
from prefect.artifacts import Artifact
from prefect.settings import PREFECT_API_URL

from blocks.profile import clear_profile_cache, embedded_profile, load_profile
from deployments.operations.bootstrap import save_profile
from store.db import dispose_engines
from store.models import Source, User
from store.sources import ensure_collection, ensure_source, source_object_key
from tasks.documents.search import search_chunks

ROOT = Path(__file__).resolve().parents[2]
QUERY = "layout detection models for document images"


@pytest.fixture
def outage(test_profiles: dict[str, str], database_urls: dict[str, str],
           monkeypatch: pytest.MonkeyPatch) -> Iterator[DatabaseOutage]:
    """Profile "hostile-outage": the PostgreSQL test database behind a proxy that fails at `ingested`."""
    proxy = DatabaseOutage(trigger=b"SET status='ingested'")
    clean_database(database_urls["postgres"])
    home = Path(load_profile(test_profiles["postgres"]).storage.root).parent
    through_proxy = database_urls["postgres"].replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    save_profile(embedded_profile(home, database_url=through_proxy), "hostile-outage", overwrite=True)
    monkeypatch.setenv("NIGHTSHIFT_PROFILE", "hostile-outage")
    clear_profile_cache()
    profile = load_profile()
    for collection in profile.vector_store.collections():
        profile.vector_store.drop(collection)
    for mail in Path(profile.mailer.folder).glob("*.eml"):
        mail.unlink()
    yield proxy
    proxy.close()
    dispose_engines()
    clear_profile_cache()


def _run_ingestion(collection_id: int, source_id: int) -> tuple[str, str]:
    """ingest_pdf in a process of its own, as a worker runs it, with short database retries."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env |= {"PREFECT_API_URL": PREFECT_API_URL.value(), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "NIGHTSHIFT_PROFILE": "hostile-outage", "NIGHTSHIFT_PDF_RETRY_DELAYS": "[0.5, 0.5, 0.5]"}
    script = ("from flows.pdf import ingest_pdf\n"
              f"state = ingest_pdf({collection_id}, {source_id}, return_state=True)\n"
              "print(repr((state.type.value, state.message)))\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return ast.literal_eval(done.stdout.strip().splitlines()[-1])


def test_vectors_stay_hidden_until_the_source_is_marked_and_a_rerun_repairs(outage: DatabaseOutage) -> None:
    profile = load_profile()
    with profile.database.session() as session:
        user = User(name="Ada", email="ada@example.com", timezone="UTC")
        session.add(user)
        session.flush()
        owner = user.id
        collection_id = ensure_collection(session, owner, "papers")
        key = source_object_key(owner, collection_id, "paper.pdf")
        profile.storage.put_bytes(key, (SHARED_DATA / "pdf" / "layout-parser-paper-fast.pdf").read_bytes())
        source_id = ensure_source(session, collection_id, "paper.pdf", key)

    state, message = _run_ingestion(collection_id, source_id)

    assert outage.down.is_set(), "the database never went away: the test proved nothing"
    outage.restore()
    dispose_engines()
    # The operator sees a failed run that says what to do; the report has what was done.
    assert state == "FAILED"
    assert f"source {source_id}" in message and "could not be marked ingested" in message
    assert "ingest-pdf runs again" in message
    report = str(Artifact.get(f"pdf-source-{source_id}").data)
    assert "| chunks | 0 |" not in report and "could not be marked ingested" in report
    # The owner is told (the mail does not need the database).
    [mail] = [email.message_from_bytes(p.read_bytes()) for p in Path(profile.mailer.folder).glob("*.eml")]
    assert "could not be added" in mail["Subject"]
    # The vectors are in the store, but no search shows them while the source is not ingested.
    assert profile.vector_store.count(f"user-{owner}", where={"source_id": source_id}) > 0
    with profile.database.session() as session:
        assert session.get(Source, source_id).status != "ingested"
    assert search_chunks(owner, QUERY) == []

    state, _ = _run_ingestion(collection_id, source_id)  # the database is back: a re-run repairs

    assert state == "COMPLETED"
    with profile.database.session() as session:
        assert session.get(Source, source_id).status == "ingested"
    hits = search_chunks(owner, QUERY)
    assert hits and all(h.source_id == source_id and h.document_id is None and h.name == "paper.pdf" for h in hits)
