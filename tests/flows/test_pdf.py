"""PDF ingestion end to end against a real Prefect API: object storage → partition → Chroma → mail."""

from __future__ import annotations

import email
import email.header
import os
import socket
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from conftest import SHARED_DATA
from prefect.artifacts import Artifact
from prefect.settings import PREFECT_API_URL

from blocks.profile import clear_profile_cache, embedded_profile, load_profile
from blocks.vectorstore import collection_name
from deployments.operations.bootstrap import save_profile
from flows.pdf import ingest_pdf
from store.models import Source, User
from store.sources import ensure_collection, ensure_source, source_object_key
from tasks.pdf.chunk import chunk_id

REPO = Path(__file__).resolve().parents[2]
PDF = SHARED_DATA / "pdf"


@pytest.fixture(autouse=True)
def _empty_vector_store(request: pytest.FixtureRequest) -> None:
    """Databases restart their ids for every test; the vector store of a profile is emptied to match."""
    for name in ("profile", "s3_profile"):
        if name in request.fixturenames:
            store = request.getfixturevalue(name).vector_store
            for collection in store.collections():
                store.drop(collection)


def _owner(profile, email_address: str = "ada@example.com", language_code: str | None = None) -> int:  # type: ignore[no-untyped-def]
    with profile.database.session() as session:
        user = User(name="Ada", email=email_address, timezone="Europe/Paris", language_code=language_code)
        session.add(user)
        session.flush()
        return user.id


def _upload(profile, owner: int, filename: str, data: bytes, collection: str = "papers") -> tuple[int, int]:  # type: ignore[no-untyped-def]
    with profile.database.session() as session:
        collection_id = ensure_collection(session, owner, collection)
        key = source_object_key(owner, collection_id, filename)
        profile.storage.put_bytes(key, data)
        return collection_id, ensure_source(session, collection_id, filename, key)


def _source(profile, source_id: int) -> Source:  # type: ignore[no-untyped-def]
    with profile.database.session() as session:
        return session.get(Source, source_id)


def _mails(profile) -> list[email.message.Message]:  # type: ignore[no-untyped-def]
    outbox = Path(profile.mailer.folder)
    return [email.message_from_bytes(p.read_bytes()) for p in sorted(outbox.glob("*.eml"))] if outbox.is_dir() else []


def _source_ids(profile, owner: int, source_id: int) -> list[str]:  # type: ignore[no-untyped-def]
    store = profile.vector_store
    n = store.count(collection_name(owner), where={"source_id": source_id})
    return sorted(h.id for h in store.query(collection_name(owner), [1.0] + [0.0] * 383, k=max(n, 1),
                                           where={"source_id": source_id})) if n else []


def test_ingests_a_real_pdf_into_the_owners_collection(profile) -> None:  # type: ignore[no-untyped-def]
    owner = _owner(profile)
    collection_id, source_id = _upload(profile, owner, "paper.pdf", (PDF / "layout-parser-paper-fast.pdf").read_bytes())
    state = ingest_pdf(collection_id, source_id, return_state=True)
    outcome = state.result()

    assert outcome.status == "ingested" and outcome.pages == 2 and outcome.chunks >= 5
    assert outcome.element_kinds.get("NarrativeText", 0) > 0 and outcome.element_kinds.get("Title", 0) > 0
    source = _source(profile, source_id)
    assert source.status == "ingested" and source.error is None and source.ingested_at is not None

    store, collection = profile.vector_store, collection_name(owner)
    assert store.count(collection, where={"source_id": source_id}) == outcome.chunks
    assert _source_ids(profile, owner, source_id) == sorted(chunk_id(source_id, i) for i in range(outcome.chunks))
    [query] = profile.embedder.embed(["a toolkit for document image analysis with deep learning"])
    hits = store.query(collection, query, k=3)
    assert hits[0].metadata["source_id"] == source_id and "layout" in " ".join(h.document for h in hits).lower()
    assert hits[0].metadata["embedding_model"] == profile.embedder.model_name
    assert all(len(h.document) <= 512 for h in hits)

    assert outcome.snapshot_uri and profile.storage.exists("vector-store/chroma-snapshot.tar.gz")
    [mail] = [m for m in _mails(profile) if "paper.pdf" in m["Subject"]]
    assert mail["To"] == "Ada <ada@example.com>" and "ready" in mail["Subject"]
    report = str(Artifact.get(f"pdf-source-{source_id}").data)
    assert "ingested" in report and f"| chunks | {outcome.chunks} |" in report
    assert outcome.coverage is not None and outcome.coverage >= 0.98 and outcome.warning is None
    assert source.coverage == outcome.coverage and source.warning is None
    assert f"| coverage of the text layer | {outcome.coverage:.1%} |" in report and "| artefacts in chunks | none |" in report
    flow_run = state.state_details.flow_run_id
    assert flow_run is not None
    progress = Artifact.get(f"pdf-source-{source_id}-progress")
    assert progress is not None and float(progress.data) == 100.0


@pytest.mark.parametrize("profile", ["sqlite"], indirect=True)
def test_reingest_replaces_vectors_and_assets(profile) -> None:  # type: ignore[no-untyped-def]
    owner = _owner(profile)
    images = (PDF / "embedded-images-tables.pdf").read_bytes()
    collection_id, source_id = _upload(profile, owner, "doc.pdf", (PDF / "layout-parser-paper-fast.pdf").read_bytes())
    first = ingest_pdf(collection_id, source_id)
    _, other_source = _upload(profile, owner, "other.pdf", images)
    other = ingest_pdf(collection_id, other_source)
    assert other.images >= 1
    assert profile.storage.list_keys(f"{owner}/{other_source}/images/")

    ingest_pdf(collection_id, source_id)  # the same file again: nothing doubles
    collection = collection_name(owner)
    assert profile.vector_store.count(collection) == first.chunks + other.chunks

    # The upload is replaced by a shorter document: the extra old chunks go.
    key = _source(profile, source_id).object_key
    profile.storage.put_bytes(key, images)
    replaced = ingest_pdf(collection_id, source_id)
    assert replaced.chunks < first.chunks
    assert _source_ids(profile, owner, source_id) == sorted(chunk_id(source_id, i) for i in range(replaced.chunks))
    assert profile.vector_store.count(collection) == replaced.chunks + other.chunks


def _truncated_pdf() -> bytes:
    return (PDF / "layout-parser-paper-fast.pdf").read_bytes()[:1500]


@pytest.mark.parametrize("profile", ["postgres"], indirect=True)
@pytest.mark.parametrize("name, data, expected", [
    ("password.pdf", (PDF / "password.pdf").read_bytes(), "encrypted"),
    ("truncated.pdf", _truncated_pdf(), "corrupt"),
    ("empty.pdf", b"", "empty"),
    ("page.pdf", (SHARED_DATA / "html" / "ideas-page.html").read_bytes(), "not a PDF"),
])
def test_bad_input_fails_the_source_with_a_readable_error(profile, name: str, data: bytes, expected: str) -> None:  # type: ignore[no-untyped-def]
    owner = _owner(profile)
    collection_id, source_id = _upload(profile, owner, name, data)
    state = ingest_pdf(collection_id, source_id, return_state=True)
    assert state.is_failed()
    source = _source(profile, source_id)
    assert source.status == "failed" and expected in source.error and f"source {source_id}" in source.error
    assert source.ingested_at is None
    assert profile.vector_store.count(collection_name(owner), where={"source_id": source_id}) == 0
    assert not profile.storage.list_keys(f"{owner}/{source_id}/")
    [mail] = [m for m in _mails(profile) if name in m["Subject"]]
    assert "could not be added" in mail["Subject"] and expected in mail.get_payload()
    assert "failed" in str(Artifact.get(f"pdf-source-{source_id}").data)


@pytest.mark.parametrize("profile", ["sqlite"], indirect=True)
def test_broken_structure_is_recovered_not_hung(profile) -> None:  # type: ignore[no-untyped-def]
    """pdfium repairs the broken cross-reference table; the text comes through (the data README allows it)."""
    owner = _owner(profile)
    collection_id, source_id = _upload(profile, owner, "broken.pdf",
                                       (PDF / "invalid-pdf-structure-pdfminer-one-page.pdf").read_bytes())
    outcome = ingest_pdf(collection_id, source_id)
    assert outcome.status == "ingested" and outcome.chunks > 0
    assert _source(profile, source_id).status == "ingested"


@pytest.mark.parametrize("profile", ["sqlite"], indirect=True)
def test_hi_res_without_its_models_fails_clearly_and_does_not_fall_back(profile) -> None:  # type: ignore[no-untyped-def]
    owner = _owner(profile)
    collection_id, source_id = _upload(profile, owner, "paper.pdf", (PDF / "layout-parser-paper-fast.pdf").read_bytes())
    state = ingest_pdf(collection_id, source_id, strategy="hi_res", return_state=True)
    assert state.is_failed()
    error = _source(profile, source_id).error
    assert "strategy='hi_res'" in error and "strategy='fast'" in error and "yolo_x_layout" in error
    assert profile.vector_store.count(collection_name(owner)) == 0


@pytest.mark.parametrize("profile", ["sqlite"], indirect=True)
def test_a_mail_that_cannot_be_sent_does_not_hide_the_ingestions_error(profile, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The owner cannot be told (the mailer refuses): the run still fails with the PDF's error, and reports it."""
    def refuse(self, message):  # type: ignore[no-untyped-def]
        raise ValueError("the mail service refused the message")

    monkeypatch.setattr(type(profile.mailer), "send", refuse)
    owner = _owner(profile)
    collection_id, source_id = _upload(profile, owner, "unmailed.pdf", b"")
    state = ingest_pdf(collection_id, source_id, return_state=True)
    assert state.is_failed() and "the file is empty" in str(state.message)
    assert "refused" not in str(state.message)
    source = _source(profile, source_id)
    assert source.status == "failed" and "the file is empty" in source.error
    assert not [m for m in _mails(profile) if "unmailed.pdf" in m["Subject"]]
    report = str(Artifact.get(f"pdf-source-{source_id}").data)
    assert "failed" in report and "the file is empty" in report


_RUN_ONE = """
import sys
from flows.pdf import ingest_pdf
outcome = ingest_pdf(int(sys.argv[1]), int(sys.argv[2]))
print("CHUNKS", outcome.chunks)
"""


@pytest.mark.parametrize("profile", ["postgres"], indirect=True)
def test_two_ingestions_for_one_owner_at_once_leave_a_consistent_store(profile, test_profiles) -> None:  # type: ignore[no-untyped-def]
    """Worker processes (as the process worker runs them) and this process write one owner's collection at once."""
    owner = _owner(profile)
    sources = [_upload(profile, owner, f"{n}.pdf", (PDF / n).read_bytes())
               for n in ("layout-parser-paper-fast.pdf", "multi-column.pdf")]
    env = {**os.environ, "PYTHONPATH": str(REPO), "PREFECT_API_URL": PREFECT_API_URL.value(),
           "NIGHTSHIFT_PROFILE": test_profiles["postgres"]}
    # Another process ingests each source while this one ingests the first again: the same ids
    # written concurrently, and two sources of one collection at once.
    processes = [subprocess.Popen([sys.executable, "-c", _RUN_ONE, str(c), str(s)], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for c, s in sources]
    here = ingest_pdf(*sources[0])
    results = [p.communicate(timeout=240) for p in processes]
    assert all(p.returncode == 0 for p in processes), [err[-2000:] for _, err in results]
    chunks = [int(out.split("CHUNKS")[-1]) for out, _ in results]
    assert chunks[0] == here.chunks
    collection = collection_name(owner)
    assert profile.vector_store.count(collection) == chunks[0] + chunks[1]
    for (_, source_id), n in zip(sources, chunks, strict=True):
        assert _source_ids(profile, owner, source_id) == sorted(chunk_id(source_id, i) for i in range(n))
        assert _source(profile, source_id).status == "ingested"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def s3_profile(prefect_api: None, database_urls: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The embedded profile with its object storage on S3 (moto in server mode on loopback)."""
    from conftest import clean_database
    from moto.server import ThreadedMotoServer
    from prefect_aws import AwsCredentials, S3Bucket
    from prefect_aws.client_parameters import AwsClientParameters

    from blocks.storage import S3ObjectStorage

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                 aws_secret_access_key="testing").create_bucket(Bucket="nightshift")
    credentials = AwsCredentials(aws_access_key_id="testing", aws_secret_access_key="testing",
                                 region_name="us-east-1",
                                 aws_client_parameters=AwsClientParameters(endpoint_url=endpoint))
    profile = embedded_profile(tmp_path, database_url=database_urls["sqlite"])
    profile.storage = S3ObjectStorage(bucket=S3Bucket(bucket_name="nightshift", bucket_folder="objects",
                                                      credentials=credentials))
    save_profile(profile, "test-s3", overwrite=True)
    clean_database(database_urls["sqlite"])
    monkeypatch.setenv("NIGHTSHIFT_PROFILE", "test-s3")
    clear_profile_cache()
    try:
        yield load_profile()
    finally:
        clear_profile_cache()
        server.stop()


def test_ingestion_through_s3_object_storage(s3_profile) -> None:  # type: ignore[no-untyped-def]
    owner = _owner(s3_profile)
    collection_id, source_id = _upload(s3_profile, owner, "images.pdf", (PDF / "embedded-images-tables.pdf").read_bytes())
    outcome = ingest_pdf(collection_id, source_id)
    assert outcome.status == "ingested" and outcome.images >= 1
    assert outcome.snapshot_uri == "s3://nightshift/objects/vector-store/chroma-snapshot.tar.gz"
    keys = s3_profile.storage.list_keys(f"{owner}/{source_id}/images/")
    assert keys and s3_profile.storage.get_bytes(keys[0])
    assert s3_profile.vector_store.count(collection_name(owner), where={"source_id": source_id}) == outcome.chunks


@pytest.mark.parametrize("profile", ["sqlite"], indirect=True)
def test_a_long_pdf_is_partitioned_in_parallel_with_the_same_chunks(profile, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from factories import pdf_first_pages

    from tasks.pdf.chunk import chunk_elements
    from tasks.pdf.partition import partition_fast

    PAGES_PER_BATCH = 12  # the setting, made small to keep the test short
    monkeypatch.setenv("NIGHTSHIFT_PDF_PAGES_PER_BATCH", str(PAGES_PER_BATCH))
    data = pdf_first_pages(PDF / "DA-619p.pdf", PAGES_PER_BATCH + 10)  # two page batches
    owner = _owner(profile)
    collection_id, source_id = _upload(profile, owner, "da-60.pdf", data)
    outcome = ingest_pdf(collection_id, source_id)
    # The same chunks as one sequential pass over all pages in this process.
    sequential = chunk_elements(partition_fast(data, 0, PAGES_PER_BATCH + 10, "da-60.pdf", source_id).elements)
    assert outcome.status == "ingested" and outcome.pages == PAGES_PER_BATCH + 10
    assert outcome.chunks == len(sequential)
    store = profile.vector_store
    assert store.count(collection_name(owner), where={"source_id": source_id}) == len(sequential)
    texts = {c.text for c in sequential}
    for probe in (sequential[0].text, sequential[len(sequential) // 2].text, sequential[-1].text):
        [vector] = profile.embedder.embed([probe])
        hits = store.query(collection_name(owner), vector, k=5, where={"source_id": source_id})
        assert hits[0].document == probe and all(h.document in texts for h in hits)


@pytest.mark.parametrize("profile", ["sqlite"], indirect=True)
def test_the_owner_is_told_in_their_language_without_the_technical_error(profile) -> None:  # type: ignore[no-untyped-def]
    owner = _owner(profile, "amelie@example.com", language_code="fr-FR")
    collection_id, source_id = _upload(profile, owner, "notes.pdf", b"plain text, not a PDF")
    with pytest.raises(Exception, match="not a PDF"):
        ingest_pdf(collection_id, source_id)
    [mail] = [m for m in _mails(profile) if "amelie@example.com" in m["To"]]
    body = mail.get_payload(decode=True).decode()
    subject = str(email.header.make_header(email.header.decode_header(mail["Subject"])))
    assert subject == "notes.pdf n'a pas pu être ajouté" and mail["Date"] and mail["Message-ID"]
    assert "PDF" in body and "source " not in body and "not a PDF" not in body


@pytest.mark.parametrize("profile", ["sqlite"], indirect=True)
def test_scanned_pages_beyond_the_ocr_limit_are_a_warning_the_owner_sees(profile, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A text page and a scanned page OCR may not read: ingested, with a warning naming the page."""
    from pdf_samples import with_scanned_page

    monkeypatch.setenv("NIGHTSHIFT_PDF_OCR_MAX_PAGES", "0")
    owner = _owner(profile)
    data = with_scanned_page((PDF / "layout-parser-paper-fast.pdf").read_bytes(), (PDF / "loremipsum-flat.pdf").read_bytes())
    collection_id, source_id = _upload(profile, owner, "mixed.pdf", data)
    outcome = ingest_pdf(collection_id, source_id)
    assert outcome.status == "ingested" and outcome.pages == 3 and outcome.pages_without_text == [3]
    assert outcome.warning and "no text layer" in outcome.warning and ": 3" in outcome.warning and not outcome.ocr_pages
    source = _source(profile, source_id)
    assert source.status == "ingested" and source.warning == outcome.warning
    [mail] = [m for m in _mails(profile) if "mixed.pdf" in m["Subject"]]
    assert outcome.unread_pages == [3] and outcome.share_read is None
    body = mail.get_payload(decode=True).decode()
    assert "with a warning" in mail["Subject"] and "Page 3 is a scanned image" in body
    assert "NIGHTSHIFT_" not in body and "source " not in body  # the operators' words stay theirs
    assert "**Warning:**" in str(Artifact.get(f"pdf-source-{source_id}").data)


@pytest.mark.parametrize("profile", ["sqlite"], indirect=True)
def test_coverage_under_the_minimum_warns_or_fails_by_setting(profile, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    owner = _owner(profile)
    data = (PDF / "korean-text-with-tables.pdf").read_bytes()  # a few table digits are not read: about 0.99
    collection_id, source_id = _upload(profile, owner, "korean.pdf", data)
    monkeypatch.setenv("NIGHTSHIFT_PDF_MIN_COVERAGE", "0.999")
    warned = ingest_pdf(collection_id, source_id)
    assert warned.status == "ingested" and warned.coverage is not None and warned.coverage < 0.999
    assert warned.warning and "NIGHTSHIFT_PDF_MIN_COVERAGE" in warned.warning
    assert warned.share_read == warned.coverage and warned.unread_pages == []
    assert _source(profile, source_id).warning == warned.warning

    monkeypatch.setenv("NIGHTSHIFT_PDF_BELOW_MIN_COVERAGE", "fail")
    state = ingest_pdf(collection_id, source_id, return_state=True)
    assert state.is_failed()
    source = _source(profile, source_id)
    assert source.status == "failed" and "NIGHTSHIFT_PDF_BELOW_MIN_COVERAGE=fail" in source.error and source.warning is None


@pytest.mark.parametrize("profile", ["sqlite"], indirect=True)
def test_a_scanned_page_is_read_by_ocr_and_found_by_search(profile) -> None:  # type: ignore[no-untyped-def]
    from pdf_samples import scanned_pdf, with_scanned_page

    owner = _owner(profile)
    scan = scanned_pdf(["Scanned invoices are read by optical character", "recognition on the worker."])
    data = with_scanned_page((PDF / "layout-parser-paper-fast.pdf").read_bytes(), scan)
    collection_id, source_id = _upload(profile, owner, "scan.pdf", data)
    outcome = ingest_pdf(collection_id, source_id)
    assert outcome.status == "ingested" and outcome.ocr_pages == [3] and outcome.ocr_seconds > 0
    assert outcome.warning is None and outcome.pages_without_text == [3]
    store = profile.vector_store
    texts = [h.document for h in store.query(collection_name(owner), profile.embedder.embed(["scanned invoices"])[0],
                                              k=outcome.chunks, where={"source_id": source_id})]
    # The recognition model often drops the spaces of English text; the letters are all there.
    assert any("scannedinvoicesarereadbyopticalcharacter" in "".join(t.split()).lower() for t in texts)
    assert "| pages read by OCR | 1 in" in str(Artifact.get(f"pdf-source-{source_id}").data)


@pytest.mark.parametrize("profile", ["sqlite"], indirect=True)
def test_a_ruled_table_on_the_fast_path_is_saved_found_and_reported(profile) -> None:  # type: ignore[no-untyped-def]
    """single_table.pdf is a picture of a table (no text layer): the table with a text layer is used."""
    owner = _owner(profile)
    collection_id, source_id = _upload(profile, owner, "tables.pdf", (PDF / "embedded-images-tables.pdf").read_bytes())
    outcome = ingest_pdf(collection_id, source_id)
    assert outcome.status == "ingested" and outcome.tables >= 1 and outcome.element_kinds.get("Table") == 1
    [key] = profile.storage.list_keys(f"{owner}/{source_id}/tables/")
    table = profile.storage.get_bytes(key).decode()
    assert table.startswith("<table>") and "<td>373.180</td>" in table and "<td>Corrosion rate (mm/year)</td>" in table
    assert f"| images / tables saved | {outcome.images} / {outcome.tables} |" in str(Artifact.get(f"pdf-source-{source_id}").data)
    [query] = profile.embedder.embed(["polarization resistance and corrosion rate for each inhibitor concentration"])
    [hit] = profile.vector_store.query(collection_name(owner), query, k=1, where={"source_id": source_id})
    assert "373.180" in hit.document
    assert outcome.coverage is not None and outcome.coverage >= 0.98
