"""The Jobs API's routes: job types, and jobs to create, list, read, read the results of, and cancel."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from prefect.client.orchestration import PrefectClient
from prefect.states import Cancelling
from pydantic_core import to_jsonable_python

from deployments.api.auth import Authorized
from deployments.api.dispatcher import INT64_MAX, Doorbell, parameter_problems, without_credentials
from deployments.api.registry import Registry, parameter_errors
from deployments.api.runs import JobAcceptor, JobReader, from_database, in_database, read_runs
from deployments.api.schemas import FINAL, GONE, Job, JobPage, JobRequest, JobType, Status, run_fields, to_job
from store import jobs as ledger
from store.models import JobRecord, utcnow

router = APIRouter()


async def jobs_of(client: PrefectClient, records: list[JobRecord]) -> list[Job]:
    """Jobs for these records: a job run in a batch as its batch wrote it to the ledger; a job with a flow
    run of its own as Prefect has it now (its runs read in bulk, and kept in the ledger: final statuses
    filter lists without asking Prefect again; the dispatcher keeps them current in between)."""
    unsettled = [r for r in records if r.flow_run_id and not r.final_status]
    runs = await read_runs(client, [r.flow_run_id for r in unsettled if r.flow_run_id])
    if unsettled:
        states = {r.id: run_fields(runs[r.flow_run_id]) if r.flow_run_id in runs else GONE for r in unsettled}
        await in_database(ledger.record_runs, states, utcnow())
    read = {r.id for r in unsettled}
    return [to_job(r, runs.get(r.flow_run_id) if r.flow_run_id else None,
                   run_missing=r.id in read and r.flow_run_id not in runs) for r in records]


# The dependencies below are coroutines: FastAPI runs a plain function dependency in its thread pool,
# and a hundred status reads at once then queued for its forty threads three times each.
async def _client(request: Request) -> PrefectClient:
    return request.app.state.client


async def _registry(request: Request) -> Registry:
    return request.app.state.registry


Client = Annotated[PrefectClient, Depends(_client)]
Reg = Annotated[Registry, Depends(_registry)]


async def _doorbell(request: Request) -> Doorbell:
    return request.app.state.doorbell


Bell = Annotated[Doorbell, Depends(_doorbell)]


async def _reader(request: Request) -> JobReader:
    return request.app.state.reader


Reader = Annotated[JobReader, Depends(_reader)]


async def _acceptor(request: Request) -> JobAcceptor:
    return request.app.state.acceptor


Acceptor = Annotated[JobAcceptor, Depends(_acceptor)]


async def _read_job(client: PrefectClient, job_id: UUID,
                    reader: JobReader | None = None) -> tuple[JobRecord, Job]:
    record = await (reader.get(str(job_id)) if reader else from_database(ledger.get, str(job_id)))
    if record is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no job {job_id}")
    return record, (await jobs_of(client, [record]))[0]


@router.get("/health", include_in_schema=False)
async def health(client: Client) -> dict[str, str]:
    await client.api_healthcheck()
    return {"status": "ok"}


@router.get("/job-types", dependencies=Authorized)
async def list_job_types(client: Client, registry: Reg) -> list[JobType]:
    """Every job type (one per deployment) with the JSON schema its params must match."""
    await registry.refresh(client, force=True)
    return sorted(registry.types.values(), key=lambda t: t.type)


@router.post("/jobs", status_code=status.HTTP_202_ACCEPTED, dependencies=Authorized)
async def create_job(body: JobRequest, client: Client, registry: Reg, doorbell: Bell, acceptor: Acceptor) -> Job:
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
    record, created = await acceptor.accept({
        "id": str(uuid4()), "type": body.type, "deployment_id": str(registry.route(body.type)),
        "params": params, "idempotency_key": body.idempotency_key, "created_at": now, "next_attempt_at": now,
    })
    if created:
        doorbell.ring()
        return to_job(record)
    return (await jobs_of(client, [record]))[0]  # the job first created with this key, as it is now


@router.get("/jobs", dependencies=Authorized)
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
        items = await jobs_of(client, await from_database(ledger.page, types, None, limit + 1, offset))
    else:
        # Jobs whose end is not recorded yet are looked up in Prefect (and recorded when they have ended);
        # then the ended ones are filtered here, the others among those just looked up.
        unsettled = await jobs_of(client, await from_database(ledger.active, types))
        if status_ in FINAL:
            items = await jobs_of(client, await from_database(ledger.page, types, status_, limit + 1, offset))
        else:
            items = [j for j in unsettled if j.status == status_][offset : offset + limit + 1]
    more = len(items) > limit
    return JobPage(items=items[:limit], limit=limit, offset=offset, next_offset=offset + limit if more else None)


@router.get("/jobs/{job_id}", dependencies=Authorized)
async def read_job(job_id: UUID, client: Client, reader: Reader) -> Job:
    """A job's status, timestamps and error message."""
    return (await _read_job(client, job_id, reader))[1]


@router.get("/jobs/{job_id}/results", dependencies=Authorized,
         responses={404: {"description": "unknown job"}, 409: {"description": "not finished, or no result"}})
async def read_job_results(job_id: UUID, client: Client) -> Any:
    """The job's persisted return value as JSON (409 until it has completed)."""
    record, job = await _read_job(client, job_id)
    if record.batch_run_id is not None and record.flow_run_id is None and job.status == "completed":
        return record.result  # a job run in a batch keeps its JSON result in the ledger
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


@router.delete("/jobs/{job_id}", status_code=status.HTTP_202_ACCEPTED, dependencies=Authorized)
async def cancel_job(job_id: UUID, client: Client) -> Job:
    """Cancel a job: a waiting one at once, a running one through its worker (not a small one run in a batch)."""
    record, job = await _read_job(client, job_id)
    if record.flow_run_id is None and job.status == "scheduled":
        if await in_database(ledger.cancel_waiting, record.id):
            return (await _read_job(client, job_id))[1]
        record, job = await _read_job(client, job_id)  # handed over meanwhile: cancel its flow run
    if job.status in FINAL or job.status == "cancelling":
        if job.status in {"cancelled", "cancelling"}:
            return job
        raise HTTPException(status.HTTP_409_CONFLICT, f"job {job_id} already finished ({job.status})")
    if record.flow_run_id is None and record.batch_run_id is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, f"job {job_id} is running in batch run {record.batch_run_id} "
                            "with other small jobs: it cannot be stopped alone, and ends shortly")
    if job.flow_run_id is None:
        raise HTTPException(status.HTTP_409_CONFLICT, f"job {job_id} is being handed to Prefect: retry in a second")
    # Always Cancelling, never forced: the server itself turns it into Cancelled when no worker has
    # taken the run (in the same transaction), and otherwise the run's worker stops it. Forcing
    # Cancelled on a run that a worker was taking at that moment let the run start anyway.
    await client.set_flow_run_state(job.flow_run_id, Cancelling(message="cancelled through the Jobs API"))
    return (await _read_job(client, job_id))[1]
