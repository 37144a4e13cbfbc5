"""Hostile recommender packages: nothing written before every member and checksum is verified."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from tasks.recommender.package import FILES, PackageRefused, content_checksum, unpack_safely

CONTENTS = {name: f"content of {name}".encode() * 50 for name in FILES}


def _manifest(contents: dict[str, bytes]) -> bytes:
    files = {name: hashlib.sha256(data).hexdigest() for name, data in contents.items()}
    return json.dumps({"files": files, "checksum": content_checksum(files), "sentences": 1}).encode()


def _regular(name: str, data: bytes) -> bytes:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info.tobuf(format=tarfile.GNU_FORMAT) + data + bytes(-len(data) % 512)


def _sparse(name: str, declared: int, data: bytes) -> bytes:
    """A GNU sparse member (type S): `data` stored at the end of a file of `declared` bytes of holes."""
    info = tarfile.TarInfo(name)
    info.size, info.type = len(data), tarfile.GNUTYPE_SPARSE
    header = bytearray(info.tobuf(format=tarfile.GNU_FORMAT))

    def octal(value: int) -> bytes:
        return b"%011o\0" % value

    header[386:398], header[398:410] = octal(declared - len(data)), octal(len(data))  # one (offset, size)
    header[482:483], header[483:495] = b"\0", octal(declared)  # not extended; the real size
    header[148:156] = b" " * 8
    header[148:156] = b"%06o\0 " % sum(header)
    return bytes(header) + data + bytes(-len(data) % 512)


def _package(members: list[bytes]) -> bytes:
    return b"".join(members) + bytes(1024)


def test_a_sparse_member_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    """20 KB declaring 4 GiB: tarfile counts it as a regular file, and unpacking wrote 4 GiB of zeros."""
    members = [_regular(name, data) for name, data in CONTENTS.items() if name != "index.ann"]
    members += [_sparse("index.ann", 4 << 30, b"x" * 1024), _regular("manifest.json", _manifest(CONTENTS))]
    data = _package(members)
    assert len(data) < 20_000
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:  # the member really declares 4 GiB
        assert archive.getmember("index.ann").issparse() and archive.getmember("index.ann").size == 4 << 30

    with pytest.raises(PackageRefused, match="'index.ann' is a sparse file"):
        unpack_safely(data, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_files_are_checked_against_the_manifest_before_any_is_written(tmp_path: Path) -> None:
    tampered = dict(CONTENTS, **{"publication_vectors.npy": b"attacker's bytes"})
    data = _package([_regular(n, d) for n, d in tampered.items()] + [_regular("manifest.json", _manifest(CONTENTS))])
    with pytest.raises(PackageRefused, match="publication_vectors.npy does not match the checksum"):
        unpack_safely(data, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_the_unpacked_size_is_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _package([_regular(n, d) for n, d in CONTENTS.items()] + [_regular("manifest.json", _manifest(CONTENTS))])
    assert unpack_safely(data, tmp_path / "fits")["sentences"] == 1
    monkeypatch.setenv("NIGHTSHIFT_RECOMMENDER_MAX_UNPACKED_BYTES", "1000")
    with pytest.raises(PackageRefused, match="over the limit of 1,000 .NIGHTSHIFT_RECOMMENDER_MAX_UNPACKED_BYTES."):
        unpack_safely(data, tmp_path / "out")
    assert not (tmp_path / "out").exists()
