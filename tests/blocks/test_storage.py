"""ObjectStorage: the local folder and S3 (a real S3 endpoint on loopback: moto in server mode)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import boto3
import pytest
from moto.server import ThreadedMotoServer
from prefect_aws import AwsClientParameters, AwsCredentials, S3Bucket

from blocks.storage import LocalFolderStorage, ObjectNotFound, ObjectStorage, S3ObjectStorage


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def _s3_storage(endpoint: str, bucket: str, folder: str) -> S3ObjectStorage:
    credentials = AwsCredentials(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1",
        aws_client_parameters=AwsClientParameters(endpoint_url=endpoint),
    )
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                 aws_secret_access_key="testing").create_bucket(Bucket=bucket)
    return S3ObjectStorage(bucket=S3Bucket(bucket_name=bucket, bucket_folder=folder, credentials=credentials))


@pytest.fixture(params=["local", "s3", "s3-folder"])
def storage(request: pytest.FixtureRequest, tmp_path, s3_endpoint: str) -> ObjectStorage:  # type: ignore[no-untyped-def]
    if request.param == "local":
        return LocalFolderStorage(root=str(tmp_path / "objects"))
    folder = "nightshift/prod" if request.param == "s3-folder" else ""
    return _s3_storage(s3_endpoint, f"bucket-{request.param}-{tmp_path.name[-8:].lower().replace('_', '-')}", folder)


def test_put_get_replace_list_delete(storage: ObjectStorage) -> None:
    uri = storage.put_bytes("7/42/source.pdf", b"%PDF-1.7 first")
    assert uri.endswith("7/42/source.pdf")
    storage.put_bytes("7/42/source.pdf", b"%PDF-1.7 second")
    storage.put_bytes("7/42/images/p1.png", b"\x89PNG")
    storage.put_bytes("8/1/other.pdf", b"x")
    assert storage.get_bytes("7/42/source.pdf") == b"%PDF-1.7 second"
    assert storage.exists("7/42/source.pdf") and not storage.exists("7/42/missing.pdf")
    assert storage.list_keys("7/") == ["7/42/images/p1.png", "7/42/source.pdf"]
    storage.delete("7/42/source.pdf")
    assert not storage.exists("7/42/source.pdf")
    with pytest.raises(ObjectNotFound, match="7/42/source.pdf"):
        storage.get_bytes("7/42/source.pdf")


@pytest.mark.parametrize("key", ["../etc/passwd", "/abs/path", "a/../../b", ""])
def test_keys_cannot_escape_the_root(storage: ObjectStorage, key: str) -> None:
    with pytest.raises(ValueError, match="invalid object key"):
        storage.put_bytes(key, b"x")


def test_s3_folder_prefixes_keys(s3_endpoint: str) -> None:
    storage = _s3_storage(s3_endpoint, "bucket-prefix-check", "tenant-a")
    assert storage.put_bytes("doc.txt", b"hello") == "s3://bucket-prefix-check/tenant-a/doc.txt"
    raw = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1", aws_access_key_id="testing",
                       aws_secret_access_key="testing")
    assert raw.get_object(Bucket="bucket-prefix-check", Key="tenant-a/doc.txt")["Body"].read() == b"hello"


def test_local_writes_leave_no_temporary_files(tmp_path) -> None:  # type: ignore[no-untyped-def]
    storage = LocalFolderStorage(root=str(tmp_path))
    for i in range(5):
        storage.put_bytes("a/b.bin", bytes([i]) * 1000)
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["b.bin"]
