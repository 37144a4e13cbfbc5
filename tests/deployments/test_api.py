"""The Jobs API against a real Prefect API: auth, validation, create, list, read, results, cancel."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest
from factories import make_execution
from fastapi.testclient import TestClient
from prefect.client.orchestration import get_client
from prefect.settings import PREFECT_API_URL
from prefect.utilities.asyncutils import run_coro_as_sync

from deployments import api
from deployments.bootstrap import ensure_work_pools

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "test-token-" + uuid4().hex


def _prefect_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    return env | {"PREFECT_API_URL": PREFECT_API_URL.value(), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                  "DO_NOT_TRACK": "1", **extra}


@pytest.fixture(scope="module")
def deployed(prefect_api: None) -> None:
    """extract-todos deployed from prefect.yaml, as an operator does."""
    run_coro_as_sync(ensure_work_pools())
    done = subprocess.run([sys.executable, "-m", "prefect", "--no-prompt", "deploy", "-n", "extract-todos"],
                          cwd=ROOT, env=_prefect_env(), capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


@pytest.fixture
def client(deployed: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv(api.TOKEN_ENV, TOKEN)
    monkeypatch.setattr(api.auth, "_token", None)  # read the token again from the environment
    with TestClient(api.app) as test_client:
        test_client.headers["Authorization"] = f"Bearer {TOKEN}"
        yield test_client


def _execute(job_id: str, profile: str, results: Path) -> None:
    """Run one job the way a process worker does (`python -m prefect.engine`), persisting its result."""
    env = _prefect_env(PREFECT__FLOW_RUN_ID=job_id, NIGHTSHIFT_PROFILE=profile,
                       PREFECT_RESULTS_PERSIST_BY_DEFAULT="true", PREFECT_RESULTS_DEFAULT_SERIALIZER="json",
                       PREFECT_TASKS_DEFAULT_PERSIST_RESULT="false", PREFECT_LOCAL_STORAGE_PATH=str(results))
    done = subprocess.run([sys.executable, "-m", "prefect.engine"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


def test_every_route_needs_the_bearer_token(client: TestClient) -> None:
    for method, path in [("post", "/jobs"), ("get", "/jobs"), ("get", f"/jobs/{uuid4()}"),
                         ("get", f"/jobs/{uuid4()}/results"), ("delete", f"/jobs/{uuid4()}")]:
        assert client.request(method, path, headers={"Authorization": ""}).status_code == 401, path
        assert client.request(method, path, headers={"Authorization": "Bearer wrong"}).status_code == 401, path
    assert "/jobs/{job_id}/results" in client.get("/openapi.json").json()["paths"]
    assert client.get("/docs").status_code == 200


def test_job_types_come_from_the_deployments(client: TestClient) -> None:
    types = {t["type"]: t for t in client.get("/job-types").json()}
    assert types["extract_todos"]["deployment"] == "extract-todos/extract-todos"
    assert "task_execution_id" in types["extract_todos"]["parameter_schema"]["properties"]


@pytest.mark.parametrize("body, field", [
    ({"type": "extract_todos", "params": {}}, ["params"]),                                  # missing required
    ({"type": "extract_todos", "params": {"task_execution_id": "seven"}}, ["params", "task_execution_id"]),
    ({"type": "extract_todos", "params": {"task_execution_id": 1, "colour": "red"}}, ["params", "colour"]),
    ({"type": "no_such_job", "params": {}}, ["body", "type"]),
    ({"params": {}}, ["body", "type"]),
])
def test_invalid_jobs_get_422_with_field_errors(client: TestClient, body: dict, field: list[str]) -> None:
    response = client.post("/jobs", json=body)
    assert response.status_code == 422, response.text
    assert field in [error["loc"] for error in response.json()["detail"]], response.json()


def test_a_job_runs_and_its_result_reads_back_as_json(client: TestClient, test_profiles: dict[str, str],
                                                       database_urls: dict[str, str], tmp_path: Path) -> None:
    execution = make_execution(database_urls["sqlite"])
    created = client.post("/jobs", json={"type": "extract_todos", "params": {"task_execution_id": execution}})
    assert created.status_code == 202, created.text
    job = created.json()
    assert job["type"] == "extract_todos" and job["status"] == "scheduled" and job["created_at"]

    assert client.get(f"/jobs/{job['id']}/results").status_code == 409  # not finished yet
    _execute(job["id"], test_profiles["sqlite"], tmp_path / "results")

    read = client.get(f"/jobs/{job['id']}").json()
    assert read["status"] == "completed" and read["started_at"] and read["finished_at"] and read["error"] is None
    result = client.get(f"/jobs/{job['id']}/results")
    assert result.status_code == 200, result.text
    outcome = result.json()
    assert outcome["task_execution_id"] == execution and outcome["status"] == "extracted"
    assert any(t["description"].startswith("Publish the job ad") for t in outcome["saved"]), outcome
    stored = list((tmp_path / "results").iterdir())
    assert stored and b'"task_execution_id"' in stored[0].read_bytes()  # JSON on disk for any reader

    listed = client.get("/jobs", params={"type": "extract_todos", "status": "completed"}).json()
    assert job["id"] in [j["id"] for j in listed["items"]]
    assert all(j["status"] == "completed" for j in listed["items"])


def test_a_failed_job_reports_its_error_and_409_on_results(client: TestClient, test_profiles: dict[str, str],
                                                            tmp_path: Path) -> None:
    job = client.post("/jobs", json={"type": "extract_todos", "params": {"task_execution_id": 987654}}).json()
    # The run fails inside the flow: execution 987654 does not exist.
    env = _prefect_env(PREFECT__FLOW_RUN_ID=job["id"], NIGHTSHIFT_PROFILE=test_profiles["sqlite"])
    done = subprocess.run([sys.executable, "-m", "prefect.engine"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    read = client.get(f"/jobs/{job['id']}").json()
    assert read["status"] == "failed" and "987654" in (read["error"] or ""), (read, done.stderr[-3000:])
    results = client.get(f"/jobs/{job['id']}/results")
    assert results.status_code == 409 and "failed" in results.json()["detail"]


def test_idempotency_key_returns_the_first_job(client: TestClient) -> None:
    body = {"type": "extract_todos", "params": {"task_execution_id": 1}, "idempotency_key": uuid4().hex}
    first, second = client.post("/jobs", json=body), client.post("/jobs", json=body)
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]
    other = client.post("/jobs", json=body | {"idempotency_key": uuid4().hex})
    assert other.json()["id"] != first.json()["id"]


def test_list_is_paginated_and_filtered(client: TestClient) -> None:
    ids = [client.post("/jobs", json={"type": "extract_todos", "params": {"task_execution_id": i}}).json()["id"]
           for i in range(3)]
    page1 = client.get("/jobs", params={"type": "extract_todos", "status": "scheduled", "limit": 2}).json()
    page2 = client.get("/jobs", params={"type": "extract_todos", "status": "scheduled", "limit": 2,
                                        "offset": page1["next_offset"]}).json()
    assert len(page1["items"]) == 2 and page1["next_offset"] == 2
    seen = [j["id"] for j in page1["items"] + page2["items"]]
    assert seen[:3] == ids[::-1]  # newest first
    assert len(seen) == len(set(seen))
    assert client.get("/jobs", params={"status": "nonsense"}).status_code == 422
    assert client.get("/jobs", params={"type": "nonsense"}).status_code == 422


def test_delete_cancels_and_unknown_ids_are_404(client: TestClient) -> None:
    job = client.post("/jobs", json={"type": "extract_todos", "params": {"task_execution_id": 1}}).json()
    cancelled = client.delete(f"/jobs/{job['id']}")
    assert cancelled.status_code == 202 and cancelled.json()["status"] == "cancelled"
    assert client.get(f"/jobs/{job['id']}").json()["status"] == "cancelled"
    assert client.get(f"/jobs/{job['id']}/results").status_code == 409
    unknown = uuid4()
    for method, path in [("get", f"/jobs/{unknown}"), ("get", f"/jobs/{unknown}/results"),
                         ("delete", f"/jobs/{unknown}")]:
        assert client.request(method, path).status_code == 404, path


def test_heavy_jobs_route_to_the_gpu_pool_while_a_gpu_worker_is_online(deployed: None) -> None:
    async def gpu_variant_and_heartbeat(online: bool) -> None:
        async with get_client() as prefect:
            cpu = await prefect.read_deployment_by_name("extract-todos/extract-todos")
            await prefect.create_deployment(
                flow_id=cpu.flow_id, name="extract-todos-gpu", work_pool_name="gpu", work_queue_name="default",
                entrypoint=cpu.entrypoint, path=cpu.path, parameter_openapi_schema=cpu.parameter_openapi_schema)
            if online:
                await prefect.send_worker_heartbeat("gpu", "gpu-worker-test", heartbeat_interval_seconds=30)

    def pool_of_new_job(test_client: TestClient) -> str:
        job = test_client.post("/jobs", json={"type": "extract_todos", "params": {"task_execution_id": 1}}).json()
        assert job["type"] == "extract_todos"  # the gpu variant is the same job type, not a new one
        return asyncio.run(_pool_of(job["id"]))

    os.environ[api.TOKEN_ENV] = TOKEN
    api.auth._token = None
    try:
        asyncio.run(gpu_variant_and_heartbeat(online=False))
        with TestClient(api.app, headers={"Authorization": f"Bearer {TOKEN}"}) as test_client:
            assert "extract_todos_gpu" not in {t["type"] for t in test_client.get("/job-types").json()}
            assert pool_of_new_job(test_client) == "cpu"
        asyncio.run(gpu_variant_and_heartbeat(online=True))
        with TestClient(api.app, headers={"Authorization": f"Bearer {TOKEN}"}) as test_client:
            assert pool_of_new_job(test_client) == "gpu"
    finally:
        os.environ.pop(api.TOKEN_ENV, None)
        api.auth._token = None
        asyncio.run(_delete_deployment("extract-todos/extract-todos-gpu"))


async def _pool_of(job_id: str) -> str:
    async with get_client() as prefect:
        return (await prefect.read_flow_run(job_id)).work_pool_name


async def _delete_deployment(name: str) -> None:
    async with get_client() as prefect:
        await prefect.delete_deployment((await prefect.read_deployment_by_name(name)).id)
