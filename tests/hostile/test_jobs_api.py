"""Hostile requests to the Jobs API: refused before reading, bounded, validated at POST, no credential kept."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID, uuid4

import pytest
import uvicorn
from fastapi.testclient import TestClient
from prefect.client.orchestration import get_client
from prefect.settings import PREFECT_API_URL
from prefect.utilities.asyncutils import run_coro_as_sync

from deployments.api.app import app
from deployments.api.auth import TOKEN_ENV, auth
from deployments.operations.bootstrap import ensure_work_pools

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "hostile-token-" + uuid4().hex


@pytest.fixture(scope="module")
def deployed(prefect_api: None) -> None:
    """The job types these requests aim at, deployed from prefect.yaml as an operator does."""
    run_coro_as_sync(ensure_work_pools())
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env |= {"PREFECT_API_URL": PREFECT_API_URL.value(), "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}
    for name in ("extract-todos", "update-document", "ingest-website"):
        done = subprocess.run([sys.executable, "-m", "prefect", "--no-prompt", "deploy", "-n", name], cwd=ROOT,
                              env=env, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


@pytest.fixture
def configured(deployed: None, test_profiles: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    monkeypatch.setenv("NIGHTSHIFT_PROFILE", test_profiles["sqlite"])
    monkeypatch.setattr(auth, "_token", None)


@pytest.fixture
def client(configured: None) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        test_client.headers["Authorization"] = f"Bearer {TOKEN}"
        yield test_client


@pytest.fixture
def served(configured: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """The API under uvicorn on a loopback port, as it runs in production."""
    monkeypatch.setenv("NIGHTSHIFT_JOBS_DISPATCHER", "external")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the API did not start"
        time.sleep(0.05)
    yield port
    server.should_exit = True
    thread.join(timeout=15)


def _status_line(port: int, head: bytes, body: bytes) -> bytes:
    """Send a request head and only the start of its body; the answer must come without the rest."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(head + body)
        try:
            return connection.recv(200).split(b"\r\n", 1)[0]
        except TimeoutError:
            return b"(no answer while the body was incomplete)"


def test_a_body_without_a_token_is_refused_before_it_is_read(served: int) -> None:
    """100 MB unauthenticated grew the API by ~300 MB: the token is now checked before any byte of the body."""
    head = (b"POST /jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 104857600\r\n\r\n")
    assert _status_line(served, head, b"{" + b" " * 65_536) == b"HTTP/1.1 401 Unauthorized"


def test_a_body_over_the_cap_is_refused_with_413(served: int, client: TestClient) -> None:
    head = (b"POST /jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + TOKEN.encode() + b"\r\nContent-Length: 104857600\r\n\r\n")
    assert _status_line(served, head, b"{" + b" " * 65_536) == b"HTTP/1.1 413 Request Entity Too Large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"type": "extract_todos", "params": {"task_execution_id": 1}, "pad": "'
        for _ in range(20):
            yield b"x" * 100_000
        yield b'"}'

    answer = client.post("/jobs", content=chunks(), headers={"Content-Type": "application/json"})
    assert answer.status_code == 413 and "NIGHTSHIFT_JOBS_API_MAX_BODY_BYTES" in answer.json()["detail"]


def test_parameters_over_prefects_limit_are_refused_at_post(client: TestClient) -> None:
    """Accepted (202) and failed later by Prefect: now 422 at once, naming the limit."""
    answer = client.post("/jobs", json={"type": "update_document", "params": {"document_id": 1, "text": "x" * 600_000}})
    assert answer.status_code == 422, answer.text
    [error] = answer.json()["detail"]
    assert error["loc"] == ["params"] and "524,288" in error["msg"] and "MAX_PARAMETER_SIZE" in error["msg"]


def test_an_integer_beyond_64_bits_is_refused_and_listings_keep_working(client: TestClient) -> None:
    """10**30 was accepted; afterwards every flow-run listing and Jobs API list and status call answered 500."""
    answer = client.post("/jobs", json={"type": "extract_todos", "params": {"task_execution_id": 10**30}})
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["loc"] == ["params", "task_execution_id"]
    assert "64-bit" in answer.json()["detail"][0]["msg"]

    beyond_ids = client.post("/jobs", json={"type": "extract_todos", "params": {"task_execution_id": 2**31}})
    assert beyond_ids.status_code == 422 and "the database's integer range" in beyond_ids.json()["detail"][0]["msg"]

    job = client.post("/jobs", json={"type": "extract_todos", "params": {"task_execution_id": 2**31 - 1}})
    assert job.status_code == 202
    assert client.get("/jobs").status_code == 200
    assert client.get(f"/jobs/{job.json()['id']}").status_code == 200


@pytest.mark.parametrize("offset", [10**30, 2**63])
def test_a_huge_offset_is_422_not_500(client: TestClient, offset: int) -> None:
    answer = client.get("/jobs", params={"offset": offset})
    assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["query", "offset"]
    assert client.get("/jobs", params={"offset": 2**63 - 1}).json()["items"] == []


def test_credentials_in_a_website_url_never_reach_the_flow_run(client: TestClient) -> None:
    answer = client.post("/jobs", json={"type": "ingest_website",
                                        "params": {"url": "https://alice:s3cret@docs.example.com/start", "owner_user_id": 1}})
    assert answer.status_code == 202, answer.text
    assert answer.json()["params"]["url"] == "https://docs.example.com/start"
    deadline = time.monotonic() + 30
    while not (job := client.get(f"/jobs/{answer.json()['id']}").json())["flow_run_id"]:
        assert time.monotonic() < deadline, job
        time.sleep(0.1)

    async def parameters() -> dict:
        async with get_client() as prefect:
            return (await prefect.read_flow_run(UUID(job["flow_run_id"]))).parameters

    assert run_coro_as_sync(parameters()) == {"url": "https://docs.example.com/start", "owner_user_id": 1}
    assert "s3cret" not in client.get(f"/jobs/{job['id']}").text


def test_docs_pages_load_only_assets_the_api_serves(client: TestClient) -> None:
    """/docs and /redoc loaded Swagger UI and ReDoc from a CDN: blank without internet."""
    for page in ("/docs", "/redoc"):
        html = client.get(page, headers={"Authorization": ""})
        assert html.status_code == 200
        urls = re.findall(r"""(?:src|href|spec-url)\s*=\s*["']([^"']+)["']""", html.text)
        urls += re.findall(r"""url:\s*["']([^"']+)["']""", html.text)
        assert not re.search(r"https?://", html.text), re.findall(r"https?://\S+", html.text)
        for url in urls:
            assert url.startswith("/"), url
            assert client.get(url, headers={"Authorization": ""}).status_code == 200, url
        assert any(url.endswith(".js") for url in urls), urls
