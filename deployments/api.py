"""The Jobs API: a small HTTP service over the Prefect API for callers that do not speak Prefect.

Job types come from the server's deployments (deployment "extract-todos" is type "extract_todos"),
so a deployment added to prefect.yaml is a job type as soon as it is deployed. Start it with

    python -m deployments.api --host 127.0.0.1 --port 8000
    (or: uvicorn deployments.api:app --host 127.0.0.1 --port 8000)

with PREFECT_API_URL pointing at the Prefect server. The bearer token is NIGHTSHIFT_JOBS_API_TOKEN,
else the Prefect Secret block "nightshift-jobs-api-token" (created by `nightshift bootstrap`).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hmac
import os
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import Depends, FastAPI, HTTPException, Query, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from jsonschema import Draft202012Validator
from prefect.client.orchestration import PrefectClient, get_client
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterId,
    FlowFilter,
    FlowFilterId,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import FlowRun, StateType, WorkerStatus
from prefect.client.schemas.sorting import FlowRunSort
from prefect.exceptions import ObjectNotFound
from prefect.states import Cancelled, Cancelling
from pydantic import BaseModel, Field
from pydantic_core import to_jsonable_python

TOKEN_ENV = "NIGHTSHIFT_JOBS_API_TOKEN"
TOKEN_BLOCK = "nightshift-jobs-api-token"
REGISTRY_TTL_SECONDS = 10.0  # a newly deployed deployment becomes a job type within this delay
GPU_POOL, GPU_SUFFIX = "gpu", "-gpu"  # "build-recommender-gpu" on pool gpu is the gpu route of "build_recommender"
INTERNAL_TAG = "operations"  # deployments with this tag (the failure notifier) are not job types

Status = Literal["scheduled", "pending", "running", "completed", "failed", "cancelling", "cancelled",
                 "crashed", "paused"]
FINAL = {"completed", "failed", "cancelled", "crashed"}
STATE_TYPES: dict[str, StateType] = {t.value.lower(): t for t in StateType}


class JobRequest(BaseModel):
    """What a caller asks for: a job type, its parameters, and an optional idempotency key."""

    type: str = Field(examples=["extract_todos"])
    params: dict[str, Any] = Field(default_factory=dict, examples=[{"task_execution_id": 1}])
    idempotency_key: str | None = Field(
        None, max_length=200, description="The same key for the same type returns the job created first."
    )


class Job(BaseModel):
    """One job: a flow run of the job type's deployment."""

    id: UUID
    type: str
    status: Status
    state_name: str | None = None
    name: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    created_at: dt.datetime | None = None
    scheduled_at: dt.datetime | None = None
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    error: str | None = None


class JobPage(BaseModel):
    items: list[Job]
    limit: int
    offset: int
    next_offset: int | None = Field(None, description="Pass as offset for the next page; null on the last.")


class JobType(BaseModel):
    type: str
    deployment: str
    description: str | None = None
    parameter_schema: dict[str, Any]


class Registry:
    """Job types read from the server's deployments, refreshed every REGISTRY_TTL_SECONDS."""

    def __init__(self) -> None:
        self.types: dict[str, JobType] = {}
        self.deployment_ids: dict[str, UUID] = {}
        self.type_of: dict[UUID, str] = {}
        self.gpu_ids: dict[str, UUID] = {}
        self.gpu_online = False
        self._loaded_at = 0.0
        self._lock = asyncio.Lock()

    async def refresh(self, client: PrefectClient, force: bool = False) -> None:
        async with self._lock:
            if not force and time.monotonic() - self._loaded_at < REGISTRY_TTL_SECONDS:
                return
            deployments = [d for d in await client.read_deployments() if INTERNAL_TAG not in (d.tags or [])]
            flow_ids = list({d.flow_id for d in deployments})
            flows = await client.read_flows(flow_filter=FlowFilter(id=FlowFilterId(any_=flow_ids))) if flow_ids else []
            flow_names = {f.id: f.name for f in flows}
            types, ids, gpu = {}, {}, {}
            for d in deployments:
                job_type = d.name.replace("-", "_")
                if d.name.endswith(GPU_SUFFIX) and d.work_pool_name == GPU_POOL:
                    gpu[job_type.removesuffix(GPU_SUFFIX.replace("-", "_"))] = d.id
                    continue
                types[job_type] = JobType(type=job_type, deployment=f"{flow_names.get(d.flow_id, '?')}/{d.name}",
                                          description=d.description,
                                          parameter_schema=d.parameter_openapi_schema or {})
                ids[job_type] = d.id
            self.types, self.deployment_ids = types, ids
            self.gpu_ids = {t: i for t, i in gpu.items() if t in types}
            self.type_of = {v: k for k, v in ids.items()} | {v: k for k, v in self.gpu_ids.items()}
            pool_workers = await client.read_workers_for_work_pool(GPU_POOL) if self.gpu_ids else []
            self.gpu_online = any(w.status == WorkerStatus.ONLINE for w in pool_workers)
            self._loaded_at = time.monotonic()

    def route(self, job_type: str) -> UUID:
        """The deployment for a new job: its "-gpu" variant while a gpu worker is online."""
        if self.gpu_online and job_type in self.gpu_ids:
            return self.gpu_ids[job_type]
        return self.deployment_ids[job_type]

    async def get(self, client: PrefectClient, job_type: str) -> JobType | None:
        await self.refresh(client)
        if job_type not in self.types:  # deployed a moment ago? look once more before refusing
            await self.refresh(client, force=True)
        return self.types.get(job_type)


def parameter_errors(schema: dict[str, Any], params: dict[str, Any]) -> list[dict[str, Any]]:
    """Field errors of `params` against a deployment's parameter schema (empty when valid)."""
    errors = [
        {"loc": ["params", *error.absolute_path], "msg": error.message, "type": error.validator}
        for error in Draft202012Validator(schema).iter_errors(params)
    ]
    known = set(schema.get("properties") or {})
    errors += [{"loc": ["params", name], "msg": f"unknown parameter {name!r}; expected one of {sorted(known)}",
                "type": "extra_forbidden"} for name in sorted(set(params) - known)]
    return sorted(errors, key=lambda e: [str(p) for p in e["loc"]])


def job_status(run: FlowRun) -> Status:
    return run.state_type.value.lower() if run.state_type else "scheduled"  # type: ignore[return-value]


def to_job(run: FlowRun, job_type: str) -> Job:
    status_ = job_status(run)
    message = run.state.message if run.state else None
    return Job(
        id=run.id, type=job_type, status=status_, state_name=run.state_name, name=run.name,
        params=run.parameters, created_at=run.created, scheduled_at=run.expected_start_time,
        started_at=run.start_time, finished_at=run.end_time if status_ in FINAL else None,
        error=message if status_ in {"failed", "crashed", "cancelled"} else None,
    )


class Auth:
    """Bearer-token check against the configured token, compared in constant time."""

    def __init__(self) -> None:
        self._token: str | None = None

    async def token(self) -> str | None:
        if self._token is None:
            self._token = os.environ.get(TOKEN_ENV) or await _token_from_block()
        return self._token

    async def __call__(self, credentials: Annotated[HTTPAuthorizationCredentials | None,
                                                    Depends(HTTPBearer(auto_error=False))]) -> None:
        expected = await self.token()
        if not expected:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                                f"no API token configured: set {TOKEN_ENV} or run `nightshift bootstrap`")
        given = credentials.credentials if credentials else ""
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing or wrong bearer token",
                                headers={"WWW-Authenticate": "Bearer"})


async def _token_from_block() -> str | None:
    from prefect.blocks.system import Secret

    try:
        secret = await Secret.aload(TOKEN_BLOCK)
    except ValueError:
        return None
    return str(secret.get())


def ensure_api_token() -> bool:
    """Create the token's Secret block when missing (from NIGHTSHIFT_JOBS_API_TOKEN, else random)."""
    from prefect.blocks.system import Secret

    try:
        Secret.load(TOKEN_BLOCK)
        return False
    except ValueError:
        Secret(value=os.environ.get(TOKEN_ENV) or secrets.token_urlsafe(32)).save(TOKEN_BLOCK)
        return True


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with get_client() as client:
        app.state.client = client
        app.state.registry = Registry()
        yield


auth = Auth()
app = FastAPI(title="nightshift Jobs API", version="1", lifespan=lifespan,
              description="Trigger nightshift's background jobs and read their status and results.")
Authorized = [Depends(auth)]


def _client(request: Request) -> PrefectClient:
    return request.app.state.client


def _registry(request: Request) -> Registry:
    return request.app.state.registry


Client = Annotated[PrefectClient, Depends(_client)]
Reg = Annotated[Registry, Depends(_registry)]


async def _read_job_run(client: PrefectClient, registry: Registry, job_id: UUID) -> tuple[FlowRun, str]:
    try:
        run = await client.read_flow_run(job_id)
    except ObjectNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no job {job_id}") from None
    await registry.refresh(client)
    if run.deployment_id not in registry.type_of:
        await registry.refresh(client, force=True)
    job_type = registry.type_of.get(run.deployment_id) if run.deployment_id else None
    if job_type is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no job {job_id}")
    return run, job_type


@app.get("/health", include_in_schema=False)
async def health(client: Client) -> dict[str, str]:
    await client.api_healthcheck()
    return {"status": "ok"}


@app.get("/job-types", dependencies=Authorized)
async def list_job_types(client: Client, registry: Reg) -> list[JobType]:
    """Every job type (one per deployment) with the JSON schema its params must match."""
    await registry.refresh(client, force=True)
    return sorted(registry.types.values(), key=lambda t: t.type)


@app.post("/jobs", status_code=status.HTTP_202_ACCEPTED, dependencies=Authorized)
async def create_job(body: JobRequest, client: Client, registry: Reg) -> Job:
    """Start a job: validate its params against the deployment's schema, create the flow run."""
    job_type = await registry.get(client, body.type)
    if job_type is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, [
            {"loc": ["body", "type"], "msg": f"unknown job type {body.type!r}; known: {sorted(registry.types)}",
             "type": "unknown_job_type"}])
    errors = parameter_errors(job_type.parameter_schema, body.params)
    if errors:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, errors)
    run = await client.create_flow_run_from_deployment(
        registry.route(body.type), parameters=body.params,
        idempotency_key=f"jobs-api:{body.idempotency_key}" if body.idempotency_key else None,
    )
    return to_job(run, body.type)


@app.get("/jobs", dependencies=Authorized)
async def list_jobs(
    client: Client, registry: Reg,
    type: Annotated[str | None, Query(description="Only jobs of this type.")] = None,
    status_: Annotated[Status | None, Query(alias="status", description="Only jobs in this status.")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> JobPage:
    """Jobs, newest first, filtered by type and status, one page at a time."""
    await registry.refresh(client)
    if type is not None and type not in registry.types:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            [{"loc": ["query", "type"], "msg": f"unknown job type {type!r}", "type": "unknown_job_type"}])
    ids = [i for i, t in registry.type_of.items() if type is None or t == type]
    if not ids:
        return JobPage(items=[], limit=limit, offset=offset)
    run_filter = FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[STATE_TYPES[status_]]))) \
        if status_ else None
    query = {"deployment_filter": DeploymentFilter(id=DeploymentFilterId(any_=ids)),
             "flow_run_filter": run_filter, "sort": FlowRunSort.EXPECTED_START_TIME_DESC}
    runs = await client.read_flow_runs(**query, limit=limit, offset=offset)
    more = len(runs) == limit and bool(await client.read_flow_runs(**query, limit=1, offset=offset + limit))
    items = [to_job(run, registry.type_of[run.deployment_id]) for run in runs]
    return JobPage(items=items, limit=limit, offset=offset, next_offset=offset + limit if more else None)


@app.get("/jobs/{job_id}", dependencies=Authorized)
async def read_job(job_id: UUID, client: Client, registry: Reg) -> Job:
    """A job's status, timestamps and error message."""
    run, job_type = await _read_job_run(client, registry, job_id)
    return to_job(run, job_type)


@app.get("/jobs/{job_id}/results", dependencies=Authorized,
         responses={404: {"description": "unknown job"}, 409: {"description": "not finished, or no result"}})
async def read_job_results(job_id: UUID, client: Client, registry: Reg) -> Any:
    """The job's persisted return value as JSON (409 until it has completed)."""
    run, job_type = await _read_job_run(client, registry, job_id)
    job = to_job(run, job_type)
    if job.status != "completed" or run.state is None:
        detail = f"job {job_id} is {job.status}" + (f": {job.error}" if job.error else "")
        raise HTTPException(status.HTTP_409_CONFLICT, detail + ("" if job.status in FINAL else "; try again later"))
    try:
        result = await run.state.aresult(raise_on_failure=False)  # reads the persisted record
    except Exception as exc:  # noqa: BLE001 — any storage error means: no readable persisted result
        raise HTTPException(status.HTTP_409_CONFLICT,
                            f"job {job_id} completed but its result was not persisted ({type(exc).__name__}); "
                            "workers need PREFECT_RESULTS_PERSIST_BY_DEFAULT=true") from None
    return to_jsonable_python(result)


@app.delete("/jobs/{job_id}", status_code=status.HTTP_202_ACCEPTED, dependencies=Authorized)
async def cancel_job(job_id: UUID, client: Client, registry: Reg) -> Job:
    """Cancel a job: a waiting one at once, a running one through its worker."""
    run, job_type = await _read_job_run(client, registry, job_id)
    job = to_job(run, job_type)
    if job.status in FINAL or job.status == "cancelling":
        if job.status in {"cancelled", "cancelling"}:
            return job
        raise HTTPException(status.HTTP_409_CONFLICT, f"job {job_id} already finished ({job.status})")
    waiting = job.status in {"scheduled", "paused"}
    state = Cancelled(message="cancelled through the Jobs API") if waiting else \
        Cancelling(message="cancelled through the Jobs API")
    await client.set_flow_run_state(job_id, state, force=True)
    return to_job(await client.read_flow_run(job_id), job_type)


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m deployments.api", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("NIGHTSHIFT_JOBS_API_PORT", "8000")))
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    args = parser.parse_args(argv)
    uvicorn.run("deployments.api:app", host=args.host, port=args.port, workers=args.workers,
                log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
