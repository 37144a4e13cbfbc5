"""The ObjectStorage block: a local folder (embedded default) or an S3 bucket (prefect-aws)."""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path, PurePosixPath

from prefect.blocks.core import Block
from prefect_aws import S3Bucket
from pydantic import Field


class ObjectNotFound(KeyError):
    """No object is stored under that key."""


def _check_key(key: str) -> str:
    """Keys are relative POSIX paths without '..' naming a file: nothing may escape the storage root.

    "." (or "a/..", "./") names the root itself: a file written "at" it lands in the root's parent.
    """
    path = PurePosixPath(key)
    if not key or "\0" in key or path.is_absolute() or ".." in path.parts or not path.parts:
        raise ValueError(f"invalid object key {key!r}: use a relative path to a file, without '..'")
    return path.as_posix()


class ObjectStorage(Block):
    """Interface: bytes in, bytes out, by key."""

    _block_type_name = "nightshift Object Storage"

    def put_bytes(self, key: str, data: bytes) -> str:
        """Store `data` under `key` (replacing what was there) and return the object's URI."""
        raise NotImplementedError

    def get_bytes(self, key: str) -> bytes:
        raise NotImplementedError

    def exists(self, key: str) -> bool:
        raise NotImplementedError

    def delete(self, key: str) -> None:  # type: ignore[override]  # an object's key, beside Block's delete(name) classmethod
        raise NotImplementedError

    def list_keys(self, prefix: str = "") -> list[str]:
        raise NotImplementedError

    def uri(self, key: str) -> str:
        raise NotImplementedError


class LocalFolderStorage(ObjectStorage):
    """Objects as files below a folder; writes are atomic (temporary file, then rename)."""

    _block_type_name = "Local Folder Storage"
    _block_type_slug = "nightshift-local-folder-storage"

    root: str = Field(description="Absolute path of the folder that holds the objects.")

    def _path(self, key: str) -> Path:
        return Path(self.root) / _check_key(key)

    def put_bytes(self, key: str, data: bytes) -> str:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return self.uri(key)

    def get_bytes(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise ObjectNotFound(f"no object {key!r} in {self.root}") from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:  # type: ignore[override]  # an object's key, beside Block's delete(name) classmethod
        self._path(key).unlink(missing_ok=True)

    def list_keys(self, prefix: str = "") -> list[str]:
        root = Path(self.root)
        if not root.is_dir():
            return []
        keys = (p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
        return sorted(k for k in keys if k.startswith(prefix) and not PurePosixPath(k).name.startswith("."))

    def uri(self, key: str) -> str:
        return self._path(key).resolve().as_uri()


class S3ObjectStorage(ObjectStorage):
    """Objects in an S3 bucket (or any S3-compatible endpoint) through prefect-aws's S3Bucket block."""

    _block_type_name = "S3 Object Storage"
    _block_type_slug = "nightshift-s3-object-storage"

    bucket: S3Bucket = Field(description="The prefect-aws S3Bucket block (bucket, folder, credentials).")

    def _key(self, key: str) -> str:
        folder = self.bucket.bucket_folder.strip("/")
        return f"{folder}/{_check_key(key)}" if folder else _check_key(key)

    def _client(self):
        return self.bucket.credentials.get_s3_client()

    def put_bytes(self, key: str, data: bytes) -> str:
        self._client().upload_fileobj(io.BytesIO(data), self.bucket.bucket_name, self._key(key))
        return self.uri(key)

    def get_bytes(self, key: str) -> bytes:
        client = self._client()
        try:
            response = client.get_object(Bucket=self.bucket.bucket_name, Key=self._key(key))
        except client.exceptions.NoSuchKey:
            raise ObjectNotFound(f"no object {key!r} in s3://{self.bucket.bucket_name}") from None
        return response["Body"].read()

    def exists(self, key: str) -> bool:
        response = self._client().list_objects_v2(
            Bucket=self.bucket.bucket_name, Prefix=self._key(key), MaxKeys=1
        )
        return any(item["Key"] == self._key(key) for item in response.get("Contents", []))

    def delete(self, key: str) -> None:  # type: ignore[override]  # an object's key, beside Block's delete(name) classmethod
        self._client().delete_object(Bucket=self.bucket.bucket_name, Key=self._key(key))

    def list_keys(self, prefix: str = "") -> list[str]:
        folder = self.bucket.bucket_folder.strip("/")
        strip = len(folder) + 1 if folder else 0
        paginator = self._client().get_paginator("list_objects_v2")
        full_prefix = f"{folder}/{prefix}" if folder else prefix
        keys: list[str] = []
        for page in paginator.paginate(Bucket=self.bucket.bucket_name, Prefix=full_prefix):
            keys.extend(item["Key"][strip:] for item in page.get("Contents", []))
        return sorted(keys)

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket.bucket_name}/{self._key(key)}"
