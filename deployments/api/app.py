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
import contextlib
import datetime as dt
import hmac
import logging
import os
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal
from uuid import UUID, uuid4

import anyio
from fastapi import Depends, FastAPI, HTTPException, Query, Request, status
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from jsonschema import Draft202012Validator
from prefect.client.orchestration import PrefectClient, get_client
from prefect.client.schemas.filters import (
    FlowFilter,
    FlowFilterId,
    FlowRunFilter,
    FlowRunFilterId,
)
from prefect.client.schemas.objects import FlowRun, WorkerStatus
from prefect.states import Cancelling
from pydantic import BaseModel, Field
from pydantic_core import to_jsonable_python
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from blocks.settings import JobsApiLimits
from deployments.dispatcher import EXTERNAL_ENV, INT64_MAX, Doorbell, in_database, parameter_problems, without_credentials
from store import jobs as ledger
from store.models import JobRecord, utcnow

TOKEN_ENV = "NIGHTSHIFT_JOBS_API_TOKEN"
TOKEN_BLOCK = "nightshift-jobs-api-token"
REGISTRY_TTL_SECONDS = 10.0  # a newly deployed deployment becomes a job type within this delay
GPU_POOL, GPU_SUFFIX = "gpu", "-gpu"  # "build-recommender-gpu" on pool gpu is the gpu route of "build_recommender"
INTERNAL_TAG = "operations"  # deployments with this tag (the failure notifier) are not job types
RUN_READ_CHUNK = 200

logger = logging.getLogger("nightshift.jobs_api")

Status = Literal["scheduled", "pending", "running", "completed", "failed", "cancelling", "cancelled",
                 "crashed", "paused"]
FINAL = {"completed", "failed", "cancelled", "crashed"}


class JobRequest(BaseModel):
    """What a caller asks for: a job type, its parameters, and an optional idempotency key."""

    type: str = Field(examples=["extract_todos"])
    params: dict[str, Any] = Field(default_factory=dict, examples=[{"task_execution_id": 1}])
    idempotency_key: str | None = Field(
        None, max_length=200, description="The same key for the same type returns the job created first."
    )


class Job(BaseModel):
    """One job: accepted here, then run as a flow run of the job type's deployment."""

    id: UUID
    type: str
    status: Status
    flow_run_id: UUID | None = Field(None, description="The Prefect flow run, once the job has been handed over.")
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
        self.gpu_ids: dict[str, UUID] = {}
        self.gpu_online = False
        self.validators: dict[str, Draft202012Validator] = {}
        self._loaded_at = 0.0
        self._background: set[asyncio.Task[None]] = set()
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
            self.validators = {t: Draft202012Validator(jt.parameter_schema) for t, jt in types.items()}
            self.gpu_ids = {t: i for t, i in gpu.items() if t in types}
            pool_workers = await client.read_workers_for_work_pool(GPU_POOL) if self.gpu_ids else []
            self.gpu_online = any(w.status == WorkerStatus.ONLINE for w in pool_workers)
            self._loaded_at = time.monotonic()

    def route(self, job_type: str) -> UUID:
        """The deployment for a new job: its "-gpu" variant while a gpu worker is online."""
        if self.gpu_online and job_type in self.gpu_ids:
            return self.gpu_ids[job_type]
        return self.deployment_ids[job_type]

    async def _refresh_in_background(self, client: PrefectClient) -> None:
        try:
            await self.refresh(client)
        except Exception:  # noqa: BLE001 - Prefect away: keep serving the types known, try again later
            logger.warning("job types not refreshed", exc_info=True)

    async def get(self, client: PrefectClient, job_type: str) -> JobType | None:
        """The job type; a stale registry answers at once and is refreshed in the background."""
        if not self._loaded_at:
            await self.refresh(client)
        elif time.monotonic() - self._loaded_at >= REGISTRY_TTL_SECONDS and not self._lock.locked():
            task = asyncio.create_task(self._refresh_in_background(client))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        if job_type not in self.types:  # deployed a moment ago? look once more before refusing
            await self.refresh(client, force=True)
        return self.types.get(job_type)


def parameter_errors(schema: dict[str, Any], params: dict[str, Any],
                     validator: Draft202012Validator | None = None) -> list[dict[str, Any]]:
    """Field errors of `params` against a deployment's parameter schema (empty when valid)."""
    errors = [
        {"loc": ["params", *error.absolute_path], "msg": error.message, "type": error.validator}
        for error in (validator or Draft202012Validator(schema)).iter_errors(params)
    ]
    known = set(schema.get("properties") or {})
    errors += [{"loc": ["params", name], "msg": f"unknown parameter {name!r}; expected one of {sorted(known)}",
                "type": "extra_forbidden"} for name in sorted(set(params) - known)]
    return sorted(errors, key=lambda e: [str(p) for p in e["loc"]])


def job_status(run: FlowRun) -> Status:
    return run.state_type.value.lower() if run.state_type else "scheduled"  # type: ignore[return-value]


def to_job(record: JobRecord, run: FlowRun | None) -> Job:
    """The job as callers see it: its record here, and its flow run once there is one."""
    base = {"id": UUID(record.id), "type": record.type, "params": record.params, "created_at": record.created_at}
    if run is None:
        if record.flow_run_id is not None:  # the run was deleted from Prefect
            return Job(**base, status=record.final_status or "crashed", flow_run_id=UUID(record.flow_run_id),
                       error=None if record.final_status else "its flow run no longer exists in Prefect")
        if record.dispatch_error:
            return Job(**base, status="failed", error=record.dispatch_error)
        if record.cancel_requested:
            return Job(**base, status="cancelled", error="cancelled through the Jobs API before it started")
        return Job(**base, status="scheduled", scheduled_at=record.created_at)
    status_ = job_status(run)
    message = run.state.message if run.state else None
    return Job(
        **base, status=status_, flow_run_id=run.id, state_name=run.state_name, name=run.name,
        scheduled_at=run.expected_start_time, started_at=run.start_time,
        finished_at=run.end_time if status_ in FINAL else None,
        error=message if status_ in {"failed", "crashed", "cancelled"} else None,
    )


async def read_runs(client: PrefectClient, ids: list[str]) -> dict[str, FlowRun]:
    """Flow runs by id, a few hundred per request."""
    runs: dict[str, FlowRun] = {}
    for start in range(0, len(ids), RUN_READ_CHUNK):
        chunk = [UUID(i) for i in ids[start : start + RUN_READ_CHUNK]]
        found = await client.read_flow_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=chunk)),
                                            limit=len(chunk))
        runs.update({str(run.id): run for run in found})
    return runs


async def jobs_of(client: PrefectClient, records: list[JobRecord]) -> list[Job]:
    """Jobs for these records (their runs read in bulk); final statuses seen are kept in the ledger."""
    runs = await read_runs(client, [r.flow_run_id for r in records if r.flow_run_id])
    jobs = [to_job(r, runs.get(r.flow_run_id) if r.flow_run_id else None) for r in records]
    final = {str(j.id): j.status for r, j in zip(records, jobs, strict=True)
             if j.status in FINAL and r.final_status is None and r.flow_run_id}
    if final:
        await in_database(ledger.keep_final, final)
    return jobs


class Auth:
    """Bearer-token check against the configured token, compared in constant time."""

    def __init__(self) -> None:
        self._token: str | None = None

    async def token(self) -> str | None:
        if self._token is None:
            self._token = os.environ.get(TOKEN_ENV) or await _token_from_block()
        return self._token

    async def refusal(self, authorization: str | None) -> HTTPException | None:
        """Why a request with this Authorization header must be refused, or None when it may pass."""
        expected = await self.token()
        if not expected:
            return HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                                 f"no API token configured: set {TOKEN_ENV} or run `nightshift bootstrap`")
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected.encode()):
            return HTTPException(status.HTTP_401_UNAUTHORIZED, "missing or wrong bearer token",
                                 headers={"WWW-Authenticate": "Bearer"})
        return None

    async def __call__(self, credentials: Annotated[HTTPAuthorizationCredentials | None,
                                                    Depends(HTTPBearer(auto_error=False))]) -> None:
        given = f"Bearer {credentials.credentials}" if credentials else None
        refusal = await self.refusal(given)
        if refusal is not None:
            raise refusal


class RequestGuard:
    """Refuses before the body is read: requests without the bearer token, and bodies over the cap (413).

    FastAPI reads and parses a body before it runs a route's dependencies, so the token check of
    `Auth` alone let anyone make the API read (and hold) a body of any size.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in PUBLIC_PATHS or scope["path"].startswith(DOCS_ASSETS + "/"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        refusal = await auth.refusal(headers.get("authorization"))
        limit = JobsApiLimits().max_body_bytes
        declared = headers.get("content-length", "")
        if refusal is None and declared.isdigit() and int(declared) > limit:
            refusal = _too_large(limit)
        if refusal is not None:
            response = JSONResponse({"detail": refusal.detail}, refusal.status_code, headers=refusal.headers)
            await response(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:  # a body sent without Content-Length (chunked) is counted as it comes
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise _too_large(limit)
            return message

        await self.app(scope, counted, send)


def _too_large(limit: int) -> HTTPException:
    return HTTPException(status.HTTP_413_CONTENT_TOO_LARGE,
                         f"request body over {limit:,} bytes (NIGHTSHIFT_JOBS_API_MAX_BODY_BYTES)")


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
    from blocks.profile import load_profile

    await anyio.to_thread.run_sync(load_profile)  # the ledger's database, from the profile's blocks
    doorbell = Doorbell()
    supervisor = None
    if os.environ.get(EXTERNAL_ENV) != "external":
        doorbell.start()
        supervisor = asyncio.create_task(doorbell.supervise(), name="jobs-dispatcher-supervisor")
    async with get_client() as client:
        app.state.client = client
        app.state.registry = Registry()
        app.state.doorbell = doorbell
        try:
            yield
        finally:
            if supervisor is not None:
                supervisor.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await supervisor
            await anyio.to_thread.run_sync(doorbell.stop)


auth = Auth()
DOCS_ASSETS = "/docs-assets"
try:  # Swagger UI and ReDoc served by the API itself: FastAPI's own pages load them from a CDN
    from fastapi_offline import FastAPIOffline as _App

    _docs: dict[str, Any] = {"static_url": DOCS_ASSETS}
except ImportError:  # pragma: no cover — the docs pages then need a CDN; every route still works
    logger.warning("fastapi-offline is not installed: /docs and /redoc load their assets from a CDN")
    _App, _docs = FastAPI, {}
app = _App(title="nightshift Jobs API", version="1", lifespan=lifespan, **_docs,
           description="Trigger nightshift's background jobs and read their status and results.")
app.add_middleware(RequestGuard)
PUBLIC_PATHS = {"/health", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"}
Authorized = [Depends(auth)]


def _client(request: Request) -> PrefectClient:
    return request.app.state.client


def _registry(request: Request) -> Registry:
    return request.app.state.registry


Client = Annotated[PrefectClient, Depends(_client)]
Reg = Annotated[Registry, Depends(_registry)]


def _doorbell(request: Request) -> Doorbell:
    return request.app.state.doorbell


Bell = Annotated[Doorbell, Depends(_doorbell)]


async def _read_job(client: PrefectClient, job_id: UUID) -> tuple[JobRecord, Job]:
    record = await in_database(ledger.get, str(job_id))
    if record is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no job {job_id}")
    return record, (await jobs_of(client, [record]))[0]


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
async def create_job(body: JobRequest, client: Client, registry: Reg, doorbell: Bell) -> Job:
    """Accept a job: validate its params against the deployment's schema and record it.

    The answer comes once the job is stored; its flow run is created right after (status
    "scheduled" until then, and while it waits for a worker).
    """
    job_type = await registry.get(client, body.type)
    if job_type is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, [
            {"loc": ["body", "type"], "msg": f"unknown job type {body.type!r}; known: {sorted(registry.types)}",
             "type": "unknown_job_type"}])
    # What Prefect would refuse, or store and then fail to read back (an integer beyond 64 bits broke
    # every listing of flow runs), is refused here, before the job is stored.
    params = without_credentials(body.params)  # a URL's user:password would stay in the run's parameters
    errors = parameter_problems(params) or parameter_errors(job_type.parameter_schema, params,
                                                            registry.validators.get(body.type))
    if errors:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, errors)
    now = utcnow()
    record, created = await in_database(ledger.accept, {
        "id": str(uuid4()), "type": body.type, "deployment_id": str(registry.route(body.type)),
        "params": params, "idempotency_key": body.idempotency_key, "created_at": now, "next_attempt_at": now,
    })
    if created:
        doorbell.ring()
        return to_job(record, None)
    return (await jobs_of(client, [record]))[0]  # the job first created with this key, as it is now


@app.get("/jobs", dependencies=Authorized)
async def list_jobs(
    client: Client, registry: Reg,
    type: Annotated[str | None, Query(description="Only jobs of this type.")] = None,
    status_: Annotated[Status | None, Query(alias="status", description="Only jobs in this status.")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=INT64_MAX)] = 0,  # SQL OFFSET is a 64-bit integer
) -> JobPage:
    """Jobs, newest first, filtered by type and status, one page at a time."""
    await registry.refresh(client)
    if type is not None and type not in registry.types:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            [{"loc": ["query", "type"], "msg": f"unknown job type {type!r}", "type": "unknown_job_type"}])
    types = [type] if type else None
    if status_ is None:
        items = await jobs_of(client, await in_database(ledger.page, types, None, limit + 1, offset))
    else:
        # Jobs whose end is not recorded yet are looked up in Prefect (and recorded when they have ended);
        # then the ended ones are filtered here, the others among those just looked up.
        unsettled = await jobs_of(client, await in_database(ledger.active, types))
        if status_ in FINAL:
            items = await jobs_of(client, await in_database(ledger.page, types, status_, limit + 1, offset))
        else:
            items = [j for j in unsettled if j.status == status_][offset : offset + limit + 1]
    more = len(items) > limit
    return JobPage(items=items[:limit], limit=limit, offset=offset, next_offset=offset + limit if more else None)


@app.get("/jobs/{job_id}", dependencies=Authorized)
async def read_job(job_id: UUID, client: Client) -> Job:
    """A job's status, timestamps and error message."""
    return (await _read_job(client, job_id))[1]


@app.get("/jobs/{job_id}/results", dependencies=Authorized,
         responses={404: {"description": "unknown job"}, 409: {"description": "not finished, or no result"}})
async def read_job_results(job_id: UUID, client: Client) -> Any:
    """The job's persisted return value as JSON (409 until it has completed)."""
    _, job = await _read_job(client, job_id)
    run = await client.read_flow_run(job.flow_run_id) if job.status == "completed" and job.flow_run_id else None
    if run is None or run.state is None:
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
async def cancel_job(job_id: UUID, client: Client) -> Job:
    """Cancel a job: a waiting one at once, a running one through its worker."""
    record, job = await _read_job(client, job_id)
    if record.flow_run_id is None and job.status == "scheduled":
        if await in_database(ledger.cancel_waiting, record.id):
            return (await _read_job(client, job_id))[1]
        record, job = await _read_job(client, job_id)  # handed over meanwhile: cancel its flow run
    if job.status in FINAL or job.status == "cancelling":
        if job.status in {"cancelled", "cancelling"}:
            return job
        raise HTTPException(status.HTTP_409_CONFLICT, f"job {job_id} already finished ({job.status})")
    assert job.flow_run_id is not None
    # Always Cancelling, never forced: the server itself turns it into Cancelled when no worker has
    # taken the run (in the same transaction), and otherwise the run's worker stops it. Forcing
    # Cancelled on a run that a worker was taking at that moment let the run start anyway.
    await client.set_flow_run_state(job.flow_run_id, Cancelling(message="cancelled through the Jobs API"))
    return (await _read_job(client, job_id))[1]


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
