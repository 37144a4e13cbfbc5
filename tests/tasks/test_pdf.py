"""PDF steps as plain functions: partition offline, chunk sizes, bad files, ids, the offline sentence model."""

from __future__ import annotations

import ast
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SHARED_DATA

from tasks.pdf.chunk import CHUNK_MAX_CHARS, chunk_elements, chunk_id, element_kinds
from tasks.pdf.document import PdfRejected, count_pages, page_batches
from tasks.pdf.partition import partition_fast
from tasks.pdf.sentences import offline_sentence_model

REPO = Path(__file__).resolve().parents[2]
PDF = SHARED_DATA / "pdf"


def test_partition_and_chunk_a_real_paper() -> None:
    data = (PDF / "layout-parser-paper-fast.pdf").read_bytes()
    pages = count_pages(data, 1)
    part = partition_fast(data, 0, pages, "paper.pdf", 1)
    kinds = element_kinds(part.elements)
    # The offline model must still tell narrative text from titles (an empty tagger makes no NarrativeText).
    # Elements are paragraphs: 2 pages give a dozen paragraphs of running text and the section titles.
    assert kinds.get("NarrativeText", 0) >= 10 and kinds.get("Title", 0) >= 3, kinds
    assert {e.metadata.page_number for e in part.elements} == set(range(1, pages + 1))
    assert any("LayoutParser" in e.text for e in part.elements)
    chunks = chunk_elements(part.elements)
    assert len(chunks) >= 5 and all(0 < len(c.text) <= CHUNK_MAX_CHARS for c in chunks)
    assert [c.position for c in chunks] == list(range(len(chunks)))
    # Combining under 256 characters: few chunks are that small.
    assert sum(len(c.text) < 256 for c in chunks) <= len(chunks) // 3 + 1


def test_page_ranges_cover_the_document_once() -> None:
    assert page_batches(120, 50) == [(0, 50), (50, 100), (100, 120)]
    data = (PDF / "DA-619p.pdf").read_bytes()
    whole = partition_fast(data, 10, 14, "da.pdf", 1).elements
    halves = partition_fast(data, 10, 12, "da.pdf", 1).elements + partition_fast(data, 12, 14, "da.pdf", 1).elements
    assert [e.text for e in whole] == [e.text for e in halves]
    assert {e.metadata.page_number for e in whole} == {11, 12, 13, 14}


def test_embedded_images_are_collected() -> None:
    data = (PDF / "embedded-images-tables.pdf").read_bytes()
    images = partition_fast(data, 0, count_pages(data, 1), "x.pdf", 1).images
    assert images and all(name.startswith("page-0001-") and len(content) > 100 for name, content in images)


@pytest.mark.parametrize("data, message", [
    ((PDF / "password.pdf").read_bytes(), "encrypted"),
    (b"", "empty"),
    (b"<html><body>not a pdf</body></html>", "not a PDF"),
    ((PDF / "layout-parser-paper-fast.pdf").read_bytes()[:1500], "corrupt"),
])
def test_unusable_files_are_rejected_with_what_to_do(data: bytes, message: str) -> None:
    with pytest.raises(PdfRejected, match=message) as raised:
        count_pages(data, 77)
    assert "source 77" in str(raised.value)


def test_encrypted_pdf_is_rejected_by_the_partitioner_too() -> None:
    with pytest.raises(PdfRejected, match="encrypted"):
        partition_fast((PDF / "password.pdf").read_bytes(), 0, 1, "p.pdf", 5)


def test_chunk_ids_are_scoped_by_source() -> None:
    assert chunk_id(42, 0) == "source-42-0" and chunk_id(42, 0) != chunk_id(4, 20)


def test_offline_sentence_model_splits_sentences_and_finds_verbs() -> None:
    nlp = offline_sentence_model()
    doc = nlp("The model was trained on scanned pages. It detects tables and figures.")
    assert [s.text for s in doc.sents] == ["The model was trained on scanned pages.", "It detects tables and figures."]
    tags = {t.text: t.tag_ for t in doc}
    assert tags["was"].startswith("VB") and tags["trained"] == "VBD" and tags["model"] == ""


_OFFLINE = """
import os, socket, sys
from tasks.pdf.chunk import chunk_elements, element_kinds
from tasks.pdf.document import count_pages
from tasks.pdf.partition import partition_fast
try:
    socket.create_connection(("1.1.1.1", 443), timeout=2).close()
    print("NETWORK-UP")
except OSError:
    pass
data = open(sys.argv[1], "rb").read()
part = partition_fast(data, 0, count_pages(data, 1), "paper.pdf", 1)
print("KINDS", element_kinds(part.elements))
print("CHUNKS", len(chunk_elements(part.elements)))
"""


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_partitions_a_real_pdf_with_the_network_unavailable(tmp_path: Path) -> None:
    """No spaCy model, NLTK data or hub file is fetched: a fresh HOME and no network still partition."""
    dead = f"http://127.0.0.1:{_closed_port()}"
    env = {
        **os.environ, "HOME": str(tmp_path), "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1",
        "HTTP_PROXY": dead, "HTTPS_PROXY": dead, "http_proxy": dead, "https_proxy": dead,
        "NO_PROXY": "", "no_proxy": "", "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }
    command = [sys.executable, "-c", _OFFLINE, str(PDF / "layout-parser-paper-fast.pdf")]
    # A network namespace of its own has no interface but a downed loopback: nothing can be reached.
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-n", "true"], capture_output=True).returncode == 0:
        command = [unshare, "-n", *command]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "NETWORK-UP" not in done.stdout
    kinds = ast.literal_eval(done.stdout.split("KINDS", 1)[1].split("\n", 1)[0].strip())
    assert kinds.get("NarrativeText", 0) >= 10
    assert int(done.stdout.split("CHUNKS")[1]) >= 5
    assert not list(tmp_path.rglob("en_core_web_sm*"))
