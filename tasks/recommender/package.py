"""A version's package: a flat tar of the index, the id maps and a manifest of checksums, verified on unpack."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile
import time
from pathlib import Path, PurePosixPath
from typing import IO, Any

from blocks.settings import RecommenderLimits

FORMAT = 1
FILES = ("index.ann", "sentence_publication_ids.npy", "publication_ids.npy", "publication_vectors.npy")


class PackageRefused(ValueError):
    """A downloaded package failed verification (checksum, layout or unsafe member)."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def content_checksum(files: dict[str, str]) -> str:
    """Checksum of the package's content: its files' checksums, in name order."""
    return hashlib.sha256("".join(f"{n}:{files[n]}\n" for n in sorted(files)).encode()).hexdigest()


def pack(folder: Path, manifest: dict[str, Any]) -> bytes:
    """A flat tar of the package files and manifest.json (uncompressed: float vectors barely shrink)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name in FILES:
            archive.add(folder / name, arcname=name, recursive=False)
        data = json.dumps(manifest, indent=2, sort_keys=True).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size, info.mtime = len(data), int(time.time())
        archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def unpack_safely(data: bytes, destination: Path) -> dict[str, Any]:
    """Extract a package into `destination` after checking every member and file; return its manifest.

    Only the expected names as flat regular files are accepted (absolute paths, "..", links, devices
    and sparse members are refused), their declared sizes must fit NIGHTSHIFT_RECOMMENDER_MAX_UNPACKED_BYTES,
    and each file must match the manifest's checksum, all read from the archive in memory before
    anything is written.
    """
    try:
        archive = tarfile.open(fileobj=io.BytesIO(data), mode="r:")  # noqa: SIM115 — closed below
        members = archive.getmembers()
    except tarfile.TarError as exc:
        raise PackageRefused(f"not a recommender package: {exc}") from exc
    with archive:
        _check_members(members)
        by_name = {member.name: member for member in members}
        manifest = _read_manifest(archive, by_name["manifest.json"])
        for name in FILES:
            digest = hashlib.sha256()
            source = _member_file(archive, by_name[name])
            for block in iter(lambda: source.read(1 << 20), b""):  # noqa: B023 — consumed within the iteration
                digest.update(block)
            if digest.hexdigest() != manifest["files"].get(name):
                raise PackageRefused(f"{name} does not match the checksum in the manifest")
        if content_checksum(manifest["files"]) != manifest.get("checksum"):
            raise PackageRefused("the manifest's checksum does not match its files")
        destination.mkdir(parents=True, exist_ok=True)
        for member in members:
            source = _member_file(archive, member)
            with source, (destination / member.name).open("wb") as target:
                shutil.copyfileobj(source, target)
    return manifest


MANIFEST_MAX_BYTES = 1_000_000


def _member_file(archive: tarfile.TarFile, member: tarfile.TarInfo) -> IO[bytes]:
    """The content of a member _check_members accepted (a regular file, so it always has one)."""
    source = archive.extractfile(member)
    if source is None:
        raise PackageRefused(f"package member {member.name!r} has no content")
    return source


def _read_manifest(archive: tarfile.TarFile, member: tarfile.TarInfo) -> dict[str, Any]:
    if member.size > MANIFEST_MAX_BYTES:
        raise PackageRefused(f"manifest.json is {member.size:,} bytes; a manifest is never over {MANIFEST_MAX_BYTES:,}")
    try:
        manifest = json.loads(_member_file(archive, member).read())
    except ValueError as exc:
        raise PackageRefused(f"manifest.json is not JSON: {exc}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise PackageRefused("manifest.json has no file checksums")
    return manifest


def _check_members(members: list[tarfile.TarInfo]) -> None:
    """Refuse anything but the expected flat regular files, and more bytes than a worker grants."""
    expected = {*FILES, "manifest.json"}
    for member in members:
        path = PurePosixPath(member.name)
        if path.is_absolute() or ".." in path.parts or len(path.parts) != 1:
            raise PackageRefused(f"unsafe path in package: {member.name!r}")
        # tarfile counts GNU sparse members as regular files: a few KB declaring gigabytes of holes.
        if member.issparse() or member.type not in (tarfile.REGTYPE, tarfile.AREGTYPE):
            kind = "a sparse file" if member.issparse() else "not a regular file (links are refused)"
            raise PackageRefused(f"package member {member.name!r} is {kind}")
        if member.name not in expected:
            raise PackageRefused(f"unexpected file in package: {member.name!r}")
    if {m.name for m in members} != expected or len(members) != len(expected):
        raise PackageRefused(
            f"package files {sorted(m.name for m in members)} differ from {sorted(expected)}"
        )
    limit = RecommenderLimits().max_unpacked_bytes
    total = sum(member.size for member in members)
    if total > limit:
        raise PackageRefused(f"package unpacks to {total:,} bytes, over the limit of {limit:,} "
                             "(NIGHTSHIFT_RECOMMENDER_MAX_UNPACKED_BYTES)")


def package_key(checksum: str) -> str:
    """Each version's objects live under the checksum of its package: a new id per build, verifiable."""
    return f"recommender/versions/{checksum}/recommender.tar"
