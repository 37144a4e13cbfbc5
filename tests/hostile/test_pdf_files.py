"""Hostile PDFs: nothing written outside storage, every resource capped, a failed source naming the limit."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from conftest import SHARED_DATA
from factories import pdf_first_pages
from hostile.pdfs import bomb_pdf, build_pdf, huge_gray_image, rgb_image, text_page

from flows.pdf import ingest_pdf
from store.models import Source, User
from store.sources import ensure_collection, ensure_source, source_object_key
from tasks.pdf.document import PdfLimitExceeded
from tasks.pdf.partition import partition_fast
from tasks.pdf.processes import close_partition_processes, partition_fast_in_process

ROOT = Path(__file__).resolve().parents[2]
TEXT = "Quarterly results improved because the new plant was opened. The board approved the plan."


@pytest.fixture(autouse=True)
def _no_partition_processes_left() -> None:
    yield
    close_partition_processes()


def _ingest(profile, data: bytes, filename: str = "hostile.pdf"):  # type: ignore[no-untyped-def]
    with profile.database.session() as session:
        user = User(name="Eve", email="eve@example.com", timezone="UTC")
        session.add(user)
        session.flush()
        for stale in profile.storage.list_keys(f"{user.id}/"):  # ids restart with every test's database
            profile.storage.delete(stale)
        collection_id = ensure_collection(session, user.id, "uploads")
        key = source_object_key(user.id, collection_id, filename)
        profile.storage.put_bytes(key, data)
        source_id = ensure_source(session, collection_id, filename, key)
    for name in profile.vector_store.collections():
        profile.vector_store.drop(name)
    started = time.monotonic()
    state = ingest_pdf(collection_id, source_id, return_state=True)
    with profile.database.session() as session:
        source = session.get(Source, source_id)
        session.expunge(source)
    return state, source, user.id, time.monotonic() - started


@pytest.mark.parametrize("profile", ["sqlite"], indirect=True)
def test_an_image_name_in_the_pdf_never_becomes_a_path(profile, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """pdfminer's ImageWriter used the XObject's name as the file name: /#2F… wrote anywhere on disk."""
    marker = f"nightshift-hostile-{uuid.uuid4().hex}"
    absolute = ("/" + str(tmp_path / marker).replace("/", "#2F")).encode()
    relative = f"/..#2F..#2F..#2F..#2F{marker}-up".encode()
    data = build_pdf([text_page(TEXT)], images={absolute: rgb_image(), relative: rgb_image()})

    state, source, owner, _ = _ingest(profile, data)

    assert state.is_completed() and source.status == "ingested", source.error
    assert not list(tmp_path.glob(f"{marker}*"))
    for folder in {Path("/"), Path(tempfile.gettempdir()), ROOT, ROOT.parent, Path.cwd()}:
        assert not list(folder.glob(f"{marker}*")), folder
    stored = profile.storage.list_keys(f"{owner}/{source.id}/images/")
    assert len(stored) == 2
    assert all(re.fullmatch(rf"{owner}/{source.id}/images/page-0001-image-00[12]-[0-9a-f]{{16}}\.bmp", k)
               for k in stored), stored


@pytest.mark.parametrize("profile", ["sqlite"], indirect=True)
def test_a_huge_image_fails_the_source_naming_the_pixel_limit(profile) -> None:  # type: ignore[no-untyped-def]
    """A 390 KB PDF with a 20000 × 20000 image stored a 400 MB BMP; now nothing is decoded or stored."""
    data = build_pdf([text_page(TEXT)], images={b"/Im0": huge_gray_image(20_000, 20_000)})
    assert len(data) < 1_000_000

    state, source, owner, _ = _ingest(profile, data)

    assert state.is_failed() and source.status == "failed"
    assert "20000 × 20000 pixels" in source.error and "NIGHTSHIFT_PDF_MAX_IMAGE_PIXELS" in source.error
    assert profile.storage.list_keys(f"{owner}/{source.id}/") == []


@pytest.mark.parametrize("profile", ["sqlite"], indirect=True)
def test_a_document_over_the_page_limit_fails_before_partitioning(profile) -> None:  # type: ignore[no-untyped-def]
    """10,000 empty pages took 420 s; the default limit refuses them at once."""
    data = build_pdf([None] * 10_000)

    state, source, _, seconds = _ingest(profile, data)

    assert state.is_failed() and source.status == "failed"
    assert "10,000 pages" in source.error and "NIGHTSHIFT_PDF_MAX_PAGES" in source.error
    assert seconds < 60


def test_a_late_page_batch_costs_what_an_early_one_costs() -> None:
    """Each batch walked every page before its own (pdfminer's get_pages): quadratic in the page count."""
    small = build_pdf([text_page(f"Page {i}. {TEXT}") for i in range(50)])
    big = build_pdf([None] * 4950 + [text_page(f"Page {i}. {TEXT}") for i in range(50)])
    partition_fast(small, 0, 50, "warm-up.pdf", 0)

    started = time.perf_counter()
    alone = partition_fast(small, 0, 50, "small.pdf", 1)
    small_seconds = time.perf_counter() - started
    started = time.perf_counter()
    late = partition_fast(big, 4950, 5000, "big.pdf", 2)
    late_seconds = time.perf_counter() - started

    assert [e.text for e in late.elements] == [e.text for e in alone.elements]
    assert late.elements[0].metadata.page_number == 4951
    assert late_seconds < 3 * small_seconds + 0.5, (late_seconds, small_seconds)


def test_a_deflate_bomb_stops_at_the_memory_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """One KB-sized content stream that inflates to 600 MiB: the partition process is capped, the caller not."""
    monkeypatch.setenv("NIGHTSHIFT_PDF_PARTITION_MEMORY_MB", "1024")
    with pytest.raises(PdfLimitExceeded, match="1024 MiB .NIGHTSHIFT_PDF_PARTITION_MEMORY_MB."):
        partition_fast_in_process(bomb_pdf(600 << 20), 0, 1, "bomb.pdf", 7)
    # The worker keeps serving: the next document partitions normally (under the default limit).
    monkeypatch.delenv("NIGHTSHIFT_PDF_PARTITION_MEMORY_MB")
    assert partition_fast_in_process(build_pdf([text_page(TEXT)]), 0, 1, "next.pdf", 8).elements


def test_a_batch_over_the_time_limit_fails_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NIGHTSHIFT_PDF_PARTITION_SECONDS", "1")
    data = pdf_first_pages(SHARED_DATA / "pdf" / "DA-619p.pdf", 50)
    started = time.monotonic()
    with pytest.raises(PdfLimitExceeded, match="longer than 1 s .NIGHTSHIFT_PDF_PARTITION_SECONDS."):
        partition_fast_in_process(data, 0, 50, "slow.pdf", 9)
    assert time.monotonic() - started < 15


def test_a_script_without_a_main_guard_runs_once(tmp_path: Path) -> None:
    """The partition processes re-ran the calling script (multiprocessing imports __main__ in each child)."""
    marker = tmp_path / "runs.txt"
    script = tmp_path / "notebook_export.py"
    script.write_text(
        "import sys\n"
        f"sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / 'tests')!r}]\n"
        f"with open({str(marker)!r}, 'a') as f:\n"
        "    f.write('run\\n')\n"
        "from hostile.pdfs import build_pdf, text_page\n"
        "from tasks.pdf.processes import close_partition_processes, partition_fast_in_process\n"
        f"part = partition_fast_in_process(build_pdf([text_page({TEXT!r})]), 0, 1, 'x.pdf', 1)\n"
        "close_partition_processes()\n"
        "print(len(part.elements))\n"
    )
    env = {**os.environ, "PYTHONPATH": ""}
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout) >= 1
    assert marker.read_text() == "run\n"
