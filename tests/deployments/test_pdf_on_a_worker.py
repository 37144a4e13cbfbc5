"""A long PDF through the Jobs API on a real worker: its page batches go to partition processes started
from the flow-run process that the worker's fork server forked (PostgreSQL, Redis messaging, one worker)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from factories import pdf_first_pages

from bench.jobs_soak import FINAL
from bench.prefect_stack import Stack
from blocks.storage import LocalFolderStorage
from store.db import session_scope
from store.models import Source, User
from store.sources import ensure_collection, ensure_source
from tasks.pdf.chunk import chunk_elements
from tasks.pdf.partition import partition_fast

PDF = ROOT.parent / "shared" / "data" / "pdf" / "DA-619p.pdf"
PAGES_PER_BATCH = 8  # the worker's NIGHTSHIFT_PDF_PAGES_PER_BATCH, small to keep the test short
PAGES = 2 * PAGES_PER_BATCH + 5  # three batches


@pytest.mark.postgres
@pytest.mark.timeout(420)
def test_long_pdf_job_partitions_in_processes_on_a_worker(tmp_path: Path) -> None:
    data = pdf_first_pages(PDF, PAGES)
    expected = chunk_elements(partition_fast(data, 0, PAGES, "da.pdf", 0).elements)
    with Stack(tmp_path, workers=1, deployments=("ingest-pdf", "notify-failed-run"), redis_db=10,
               worker_env={"NIGHTSHIFT_PDF_PAGES_PER_BATCH": str(PAGES_PER_BATCH)}) as stack:
        LocalFolderStorage(root=str(tmp_path / "home" / "objects")).put_bytes("1/uploads/da.pdf", data)
        with session_scope(stack.app_url) as session:
            user = User(name="Ada", email="ada@example.com")
            session.add(user)
            session.flush()
            collection_id = ensure_collection(session, user.id, "papers")
            source_id = ensure_source(session, collection_id, "da.pdf", "1/uploads/da.pdf")
        with stack.client() as client:
            job = client.post("/jobs", json={"type": "ingest_pdf", "params": {
                "collection_id": collection_id, "source_id": source_id}}).raise_for_status().json()
            deadline = time.monotonic() + 300
            while (status := client.get(f"/jobs/{job['id']}").json()["status"]) not in FINAL \
                    and time.monotonic() < deadline:
                time.sleep(1)
            assert status == "completed", (tmp_path / "worker-0.log").read_text()[-3000:]
            result = client.get(f"/jobs/{job['id']}/results").raise_for_status().json()
        with session_scope(stack.app_url) as session:
            assert session.get(Source, source_id).status == "ingested"
    assert result["status"] == "ingested" and result["pages"] == PAGES
    assert result["chunks"] == len(expected) > 0  # the same chunks as one pass over all the pages
    log = (tmp_path / "worker-0.log").read_text()
    assert "fork server ready" in log  # the run was forked from the worker's fork server
    for first in range(0, PAGES, PAGES_PER_BATCH):
        assert f"partition-pdf-pages-{first}-{min(first + PAGES_PER_BATCH, PAGES)}" in log
