"""The Jobs API against a real Prefect API: auth, validation, create, list, read, results, cancel."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest
from factories import make_execution
from fastapi.testclient import TestClient
from prefect.client.orchestration import get_client
from prefect.settings import PREFECT_API_URL
from prefect.utilities.asyncutils import run_coro_as_sync

from deployments.api.app import app
from deployments.api.auth import TOKEN_ENV, auth
from deployments.api.dispatcher import Dispatcher
from deployments.operations.bootstrap import ensure_work_pools

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
def client(deployed: None, test_profiles: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    monkeypatch.setenv("NIGHTSHIFT_PROFILE", test_profiles["sqlite"])  # the ledger's database
    monkeypatch.setattr(auth, "_token", None)  # read the token again from the environment
    with TestClient(app) as test_client:
        test_client.headers["Authorization"] = f"Bearer {TOKEN}"
        yield test_client


def _flow_run_of(client: TestClient, job_id: str, timeout: float = 30) -> str:
    """The job's flow run, once the dispatcher has created it."""
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(f"/jobs/{job_id}").json()
        if job["flow_run_id"]:
            return job["flow_run_id"]
        assert time.monotonic() < deadline, f"job {job_id} was not handed to Prefect: {job}"
        time.sleep(0.05)


def _execute(flow_run_id: str, profile: str, results: Path) -> None:
    """Run one job the way a process worker does (`python -m prefect.engine`), persisting its result."""
    env = _prefect_env(PREFECT__FLOW_RUN_ID=flow_run_id, NIGHTSHIFT_PROFILE=profile,
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
    _execute(_flow_run_of(client, job["id"]), test_profiles["sqlite"], tmp_path / "results")

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
    env = _prefect_env(PREFECT__FLOW_RUN_ID=_flow_run_of(client, job["id"]),
                       NIGHTSHIFT_PROFILE=test_profiles["sqlite"])
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


def test_a_burst_of_posts_is_stored_together_each_job_once(client: TestClient) -> None:
    """Forty POSTs at once (ten of them one job by its idempotency key) share a few transactions: each
    request gets its own job back, the repeats the first of theirs, and each job is stored once."""
    from concurrent.futures import ThreadPoolExecutor

    key = uuid4().hex
    bodies = [{"type": "extract_todos", "params": {"task_execution_id": 1000 + i}} for i in range(30)]
    bodies += [{"type": "extract_todos", "params": {"task_execution_id": 7}, "idempotency_key": key}] * 10
    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda body: client.post("/jobs", json=body), bodies))
    assert {a.status_code for a in answers} == {202}
    jobs = [a.json() for a in answers]
    assert [j["params"]["task_execution_id"] for j in jobs[:30]] == [1000 + i for i in range(30)]
    assert len({j["id"] for j in jobs[:30]}) == 30 and len({j["id"] for j in jobs[30:]}) == 1
    for job in jobs[::7]:
        assert client.get(f"/jobs/{job['id']}").json()["id"] == job["id"]


def test_a_burst_of_a_type_deployed_after_the_last_read_reads_the_deployments_once_or_twice(deployed: None) -> None:
    """The registry was read before extract-todos was deployed: fifty POSTs at once of that type need
    one read, not fifty in turn; a stream of POSTs of an unknown type costs one read a second."""
    import time as clock

    from deployments.api.registry import Registry

    class Counting:  # the Prefect client, its deployment reads counted
        def __init__(self, client: object) -> None:
            self.client, self.reads = client, 0

        def __getattr__(self, name: str) -> object:
            return getattr(self.client, name)

        async def read_deployments(self, *args: object, **kwargs: object) -> object:
            self.reads += 1
            return await self.client.read_deployments(*args, **kwargs)  # type: ignore[attr-defined]

    async def burst() -> tuple[int, list[object], int]:
        registry = Registry()
        registry._loaded_at = clock.monotonic() - 5  # read a while ago, when the type did not exist yet
        async with get_client() as prefect:
            client = Counting(prefect)
            found = await asyncio.gather(*(registry.get(client, "extract_todos") for _ in range(50)))  # type: ignore[arg-type]
            after_burst = client.reads
            for _ in range(20):
                assert await registry.get(client, "no_such_type") is None  # type: ignore[arg-type]
            return after_burst, list(found), client.reads - after_burst

    reads, found, unknown_reads = asyncio.run(burst())
    assert all(job_type is not None for job_type in found) and 1 <= reads <= 2
    assert unknown_reads <= 2


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


def test_heavy_jobs_route_to_the_gpu_pool_while_a_gpu_worker_is_online(deployed: None, test_profiles: dict[str, str],
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NIGHTSHIFT_PROFILE", test_profiles["sqlite"])
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
        return asyncio.run(_pool_of(_flow_run_of(test_client, job["id"])))

    os.environ[TOKEN_ENV] = TOKEN
    auth._token = None
    try:
        asyncio.run(gpu_variant_and_heartbeat(online=False))
        with TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"}) as test_client:
            assert "extract_todos_gpu" not in {t["type"] for t in test_client.get("/job-types").json()}
            assert pool_of_new_job(test_client) == "cpu"
        asyncio.run(gpu_variant_and_heartbeat(online=True))
        with TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"}) as test_client:
            assert pool_of_new_job(test_client) == "gpu"
    finally:
        os.environ.pop(TOKEN_ENV, None)
        auth._token = None
        asyncio.run(_delete_deployment("extract-todos/extract-todos-gpu"))


async def _pool_of(flow_run_id: str) -> str:
    async with get_client() as prefect:
        return (await prefect.read_flow_run(flow_run_id)).work_pool_name


async def _delete_deployment(name: str) -> None:
    async with get_client() as prefect:
        await prefect.delete_deployment((await prefect.read_deployment_by_name(name)).id)


def _accept_directly(profile: str, deployment_id: str, hold: dt.timedelta = dt.timedelta(0)) -> str:
    """A job recorded in the ledger as POST /jobs records it (kept from the dispatcher for `hold`)."""
    from blocks.profile import load_profile
    from store import jobs as ledger
    from store.models import utcnow

    now = utcnow()
    with load_profile(profile).database.session() as session:
        record, _ = ledger.accept(session, {"id": str(uuid4()), "type": "extract_todos", "deployment_id": deployment_id,
                                            "params": {"task_execution_id": 1}, "idempotency_key": None,
                                            "created_at": now, "next_attempt_at": now + hold})
        return record.id


def test_a_job_whose_deployment_is_gone_fails_with_the_reason(client: TestClient, test_profiles: dict[str, str]) -> None:
    job_id = _accept_directly(test_profiles["sqlite"], str(uuid4()))
    deadline = time.monotonic() + 30
    while (job := client.get(f"/jobs/{job_id}").json())["status"] == "scheduled":
        assert time.monotonic() < deadline, job
        time.sleep(0.1)
    assert job["status"] == "failed" and "no longer exists" in job["error"] and job["flow_run_id"] is None
    assert job_id in [j["id"] for j in client.get("/jobs", params={"status": "failed"}).json()["items"]]


def test_dispatch_survives_prefect_being_away_and_never_makes_two_runs(client: TestClient,
                                                                      test_profiles: dict[str, str]) -> None:
    from prefect.client.orchestration import PrefectClient
    from sqlalchemy import update

    from blocks.profile import load_profile
    from store import jobs as ledger
    from store.models import JobRecord

    database = load_profile(test_profiles["sqlite"]).database
    deployment = run_coro_as_sync(_deployment_id("extract-todos/extract-todos"))

    async def dispatch_once(prefect: PrefectClient, job_id: str) -> None:
        with database.session() as session:
            record = ledger.get(session, job_id)
        async with prefect:
            await Dispatcher(prefect)._dispatch(record)

    # Prefect unreachable: the job stays in the ledger, to be tried again later.
    away = _accept_directly(test_profiles["sqlite"], deployment, hold=dt.timedelta(hours=1))  # not the API's
    run_coro_as_sync(dispatch_once(PrefectClient(api="http://127.0.0.1:9/api"), away))
    with database.session() as session:
        record = ledger.get(session, away)
        assert record.flow_run_id is None and record.dispatch_attempts == 1 and record.dispatch_error is None
    # Handed over, then handed over again as if the first dispatch had died before recording its run.
    first = _flow_run_of(client, client.post("/jobs", json={"type": "extract_todos",
                                                             "params": {"task_execution_id": 5}}).json()["id"])
    job_id = next(j["id"] for j in client.get("/jobs").json()["items"] if j["flow_run_id"] == first)
    with database.session() as session:
        session.execute(update(JobRecord).where(JobRecord.id == job_id).values(flow_run_id=None))
    run_coro_as_sync(dispatch_once(get_client(), job_id))
    assert client.get(f"/jobs/{job_id}").json()["flow_run_id"] == first


async def _deployment_id(name: str) -> str:
    async with get_client() as prefect:
        return str((await prefect.read_deployment_by_name(name)).id)


def test_the_dispatcher_process_ends_with_the_api_and_is_restarted_if_it_dies(client: TestClient) -> None:
    doorbell = client.app.state.doorbell  # type: ignore[attr-defined]
    first = doorbell.process
    assert first is not None and first.poll() is None
    first.kill()
    deadline = time.monotonic() + 15
    while doorbell.process is first or doorbell.process.poll() is not None:
        assert time.monotonic() < deadline, "the dispatcher was not restarted"
        time.sleep(0.1)
    job = client.post("/jobs", json={"type": "extract_todos", "params": {"task_execution_id": 3}}).json()
    assert _flow_run_of(client, job["id"])  # the new one hands jobs over
    second = doorbell.process
    started = time.monotonic()
    doorbell.stop()  # what the API's shutdown does: end of its input
    assert second.returncode == 0 and time.monotonic() - started < 10
