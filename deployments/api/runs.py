"""The ledger and the flow runs of its jobs: database calls off the event loop, runs read in bulk, and the
sync that keeps each job's run state in the ledger (the Jobs API answers from it)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar
from uuid import UUID

import anyio
from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.objects import FlowRun

from deployments.api.schemas import GONE, run_fields
from store import jobs as ledger
from store.models import JobRecord, utcnow

T = TypeVar("T")
Request = TypeVar("Request")
Answer = TypeVar("Answer")
RUN_READ_CHUNK = 200


_limiters: dict[str, anyio.CapacityLimiter] = {}


def _limiter(url: str) -> anyio.CapacityLimiter:
    """Transactions of this process on one database at a time for SQLite, a few for a server database.

    SQLite takes one writer at a time; forty threads racing for its lock each wait out the busy
    handler's growing sleeps (a burst of 100 POSTs took 21 s). Taking turns here costs nothing.
    """
    if url not in _limiters:
        _limiters[url] = anyio.CapacityLimiter(1 if url.startswith("sqlite") else 10)
    return _limiters[url]


def _database() -> Any:
    """The profile's database (the profile is loaded once per process and name)."""
    from blocks.profile import load_profile

    return load_profile().database


async def in_database(work: Callable[..., T], *args: Any) -> T:
    """Run `work(session, *args)` in one transaction of the profile's database, off the event loop."""
    database = _database()

    def call() -> T:
        with database.session() as session:
            return work(session, *args)

    return await anyio.to_thread.run_sync(call, limiter=_limiter(database.url.get_secret_value()))


async def from_database(work: Callable[..., T], *args: Any) -> T:
    """`in_database` for reads: they run side by side (SQLite's WAL lets readers pass the writer)."""
    database = _database()

    def call() -> T:
        with database.session() as session:
            return work(session, *args)

    return await anyio.to_thread.run_sync(call)


async def read_runs(client: PrefectClient, ids: list[str]) -> dict[str, FlowRun]:
    """Flow runs by id, a few hundred per request."""
    runs: dict[str, FlowRun] = {}
    for start in range(0, len(ids), RUN_READ_CHUNK):
        chunk = [UUID(i) for i in ids[start : start + RUN_READ_CHUNK]]
        found = await client.read_flow_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=chunk)),
                                            limit=len(chunk))
        runs.update({str(run.id): run for run in found})
    return runs


async def sync_runs(client: PrefectClient) -> int:
    """Read the flow runs of every job not known to have ended, and keep their state in the ledger.

    One request per RUN_READ_CHUNK jobs, whatever the number of callers polling GET /jobs/{id}.
    Returns the number of jobs whose state changed.
    """
    records = await in_database(ledger.running)
    if not records:
        return 0
    now = utcnow()
    runs = await read_runs(client, [r.flow_run_id for r in records if r.flow_run_id])
    states = {r.id: run_fields(runs[r.flow_run_id]) if r.flow_run_id in runs else GONE for r in records}
    return await in_database(ledger.record_runs, states, now)


class Coalescing(Generic[Request, Answer]):
    """Requests waiting at the same time are served by one batch: the first request starts a loop that lets
    the requests already received join (one turn of the event loop), serves them all with `_batch`, and goes
    on while more arrived meanwhile. Each caller gets its own answer, or its own error."""

    def __init__(self) -> None:
        self._waiting: list[tuple[Request, asyncio.Future[Answer]]] = []
        self._serving = False
        self._task: asyncio.Task[None] | None = None

    async def _batch(self, requests: list[Request]) -> Sequence[Answer | Exception]:
        """One answer or error per request, in order; raising gives every request that error."""
        raise NotImplementedError

    async def _submit(self, request: Request) -> Answer:
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._waiting.append((request, future))
        if not self._serving:
            self._serving = True
            self._task = asyncio.ensure_future(self._serve())
        return await future

    async def _serve(self) -> None:
        try:
            while self._waiting:
                await asyncio.sleep(0)  # let the requests already received join this batch
                group, self._waiting = self._waiting, []
                try:
                    answers = await self._batch([request for request, _ in group])
                except Exception as error:  # noqa: BLE001 - each caller gets the error
                    answers = [error] * len(group)
                for (_, future), answer in zip(group, answers, strict=True):
                    if future.done():
                        continue
                    if isinstance(answer, Exception):
                        future.set_exception(answer)
                    else:
                        future.set_result(answer)
        finally:
            self._serving = False


class JobReader(Coalescing[str, JobRecord | None]):
    """Reads of single jobs waiting at the same time share one query: a burst of status calls (a hundred
    callers polling their jobs) costs the database a few SELECTs, not one thread hop and query each."""

    async def get(self, job_id: str) -> JobRecord | None:
        return await self._submit(job_id)

    async def _batch(self, requests: list[str]) -> list[JobRecord | None]:
        records = await from_database(ledger.get_many, list(dict.fromkeys(requests)))
        return [records.get(job_id) for job_id in requests]


class JobAcceptor(Coalescing[dict[str, Any], tuple[JobRecord, bool]]):
    """Jobs posted at the same time are stored in one transaction (a group commit): a burst of a hundred
    POSTs costs the database a few commits, not a hundred turns at SQLite's single write lock.

    Should one job of a group fail to store, the group's transaction is rolled back and each of its jobs
    is stored alone, so only that job's request gets the error."""

    async def accept(self, job: dict[str, Any]) -> tuple[JobRecord, bool]:
        return await self._submit(job)

    async def _batch(self, requests: list[dict[str, Any]]) -> Sequence[tuple[JobRecord, bool] | Exception]:
        try:
            return await in_database(ledger.accept_many, requests)
        except Exception:  # noqa: BLE001 - stored one by one, each request gets its own answer
            return [await self._alone(job) for job in requests]

    async def _alone(self, job: dict[str, Any]) -> tuple[JobRecord, bool] | Exception:
        try:
            return await in_database(ledger.accept, job)
        except Exception as error:  # noqa: BLE001 - this request gets the error
            return error
