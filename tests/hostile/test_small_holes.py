"""Smaller holes: bad input retried, the storage root's parent, IPv6 addresses that lead to loopback."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from blocks.storage import LocalFolderStorage
from flows.pdf import ingest_pdf
from store.models import Source, User
from store.sources import ensure_collection, ensure_source
from tasks.documents.fetch import Fetcher, FetchRefused


@pytest.mark.parametrize("profile", ["sqlite"], indirect=True)
def test_an_invalid_object_key_fails_at_once_without_retries(profile) -> None:  # type: ignore[no-untyped-def]
    """Bad input was retried 3 times (2 + 8 + 30 s) before the source failed."""
    with profile.database.session() as session:
        user = User(name="Eve", email="eve@example.com", timezone="UTC")
        session.add(user)
        session.flush()
        collection_id = ensure_collection(session, user.id, "uploads")
        source_id = ensure_source(session, collection_id, "x.pdf", "../../../etc/passwd")
    started = time.monotonic()
    state = ingest_pdf(collection_id, source_id, return_state=True)
    assert state.is_failed() and time.monotonic() - started < 15
    with profile.database.session() as session:
        error = session.get(Source, source_id).error
    assert "invalid object key '../../../etc/passwd'" in error


@pytest.mark.parametrize("key", [".", "./", "a/..", "./.", "a/\0b"])
def test_a_key_naming_the_root_itself_is_refused(tmp_path: Path, key: str) -> None:
    """"." passed the check: the temporary file and the rename happened in the root's parent."""
    storage = LocalFolderStorage(root=str(tmp_path / "root"))
    with pytest.raises(ValueError, match="invalid object key"):
        storage.put_bytes(key, b"attacker's bytes")
    assert sorted(p.name for p in tmp_path.iterdir()) in ([], ["root"])
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


@pytest.mark.parametrize("address, reason", [
    ("2002:7f00:1::", "6to4 address embedding a loopback"),           # 6to4 of 127.0.0.1
    ("2002:a9fe:a9fe::1", "6to4 address embedding a link-local"),    # 6to4 of 169.254.169.254
    ("64:ff9b::7f00:1", "NAT64 address embedding a loopback"),        # NAT64 of 127.0.0.1
    ("64:ff9b::a9fe:a9fe", "NAT64 address embedding a link-local"),  # NAT64 of the metadata service
    ("64:ff9b:1::a00:1", "NAT64 address embedding a private"),       # local-use NAT64 of 10.0.0.1
])
def test_ipv6_addresses_that_lead_to_refused_ipv4_are_refused(address: str, reason: str) -> None:
    with Fetcher() as fetcher, pytest.raises(FetchRefused, match=reason):
        fetcher.get(f"http://[{address}]:8080/latest/meta-data/")
