"""The ledger and the flow runs of its jobs: database calls off the event loop, runs read in bulk, and the
sync that keeps each job's run state in the ledger (the Jobs API answers from it)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar
from uuid import UUID

import anyio
from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.objects import FlowRun

from deployments.api.schemas import GONE, run_fields
from store import jobs as ledger
from store.models import JobRecord, utcnow

T = TypeVar("T")
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


class JobReader:
    """Reads of single jobs waiting at the same time share one query: a burst of status calls (a hundred
    callers polling their jobs) costs the database a few SELECTs, not one thread hop and query each."""

    def __init__(self) -> None:
        self._waiting: dict[str, list[asyncio.Future[Any]]] = {}
        self._reading = False
        self._task: asyncio.Task[None] | None = None

    async def get(self, job_id: str) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(job_id, []).append(future)
        if not self._reading:
            self._reading = True
            self._task = asyncio.ensure_future(self._read())
        return await future

    async def _read(self) -> None:
        try:
            while self._waiting:
                await asyncio.sleep(0)  # let the requests already received join this read
                waiting, self._waiting = self._waiting, {}
                try:
                    records = await from_database(ledger.get_many, list(waiting))
                except Exception as error:  # noqa: BLE001 - each caller gets the error
                    for futures in waiting.values():
                        for future in futures:
                            if not future.done():
                                future.set_exception(error)
                    continue
                for job_id, futures in waiting.items():
                    for future in futures:
                        if not future.done():
                            future.set_result(records.get(job_id))
        finally:
            self._reading = False


class JobAcceptor:
    """Jobs posted at the same time are stored in one transaction (a group commit): a burst of a hundred
    POSTs costs the database a few commits, not a hundred turns at SQLite's single write lock.

    Should one job of a group fail to store, the group's transaction is rolled back and each of its jobs
    is stored alone, so only that job's request gets the error."""

    def __init__(self) -> None:
        self._waiting: list[tuple[dict[str, Any], asyncio.Future[Any]]] = []
        self._writing = False
        self._task: asyncio.Task[None] | None = None

    async def accept(self, job: dict[str, Any]) -> tuple[JobRecord, bool]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting.append((job, future))
        if not self._writing:
            self._writing = True
            self._task = asyncio.ensure_future(self._write())
        return await future

    async def _write(self) -> None:
        try:
            while self._waiting:
                await asyncio.sleep(0)  # let the requests already received join this transaction
                group, self._waiting = self._waiting, []
                try:
                    stored = await in_database(ledger.accept_many, [job for job, _ in group])
                except Exception:  # noqa: BLE001 - stored one by one below, each request gets its own answer
                    await self._one_by_one(group)
                    continue
                for (_, future), result in zip(group, stored, strict=True):
                    if not future.done():
                        future.set_result(result)
        finally:
            self._writing = False

    async def _one_by_one(self, group: list[tuple[dict[str, Any], asyncio.Future[Any]]]) -> None:
        for job, future in group:
            try:
                result = await in_database(ledger.accept, job)
            except Exception as error:  # noqa: BLE001 - this request gets the error
                if not future.done():
                    future.set_exception(error)
                continue
            if not future.done():
                future.set_result(result)
