"""The Jobs API's dispatcher: hands the jobs the API has accepted to Prefect, as flow runs.

POST /jobs only records a job in the ledger (store/jobs.py) and rings this process's doorbell; the
dispatcher creates the flow runs, retrying while Prefect is unreachable. Running it in a process of
its own, at a lower CPU priority, keeps the API's answers fast while thousands of runs are created.

The same process runs the watchdog (deployments/operations/watchdog.py): zombie runs, stalled schedules.

The API starts one per API process (`python -m deployments.api.dispatcher --doorbell`, fed through its
stdin: a byte is a new job, end of input means the API is gone). To run it as a service of its own
instead, start `python -m deployments.api.dispatcher` and the API with NIGHTSHIFT_JOBS_DISPATCHER=external.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import logging
import os
import subprocess
import sys
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID

import anyio
import httpx
from prefect.client.orchestration import PrefectClient, get_client
from prefect.exceptions import ObjectNotFound
from prefect.states import Cancelling

from deployments.api.batches import BatchRoutes, hand_over, plan, recover
from deployments.api.runs import in_database, sync_runs
from deployments.api.schemas import run_fields
from deployments.operations.watchdog import Watchdog
from store import jobs as ledger
from store.models import JobRecord, utcnow

DISPATCH_BATCH, DISPATCH_CONCURRENCY = 200, 8  # jobs read at once, flow runs created at once
SYNC_SECONDS = 1.0  # how often the jobs' run states are read into the ledger (GET /jobs answers from it)
DISPATCH_POLL_SECONDS = 1.0  # also picks up jobs accepted by other API processes, and retries
DISPATCH_MAX_DELAY_SECONDS = 60.0  # backoff cap while Prefect is unreachable
NICENESS = 5  # accepting jobs (the API) comes before handing them over
EXTERNAL_ENV = "NIGHTSHIFT_JOBS_DISPATCHER"

logger = logging.getLogger("nightshift.jobs_dispatcher")
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1  # what Prefect's database and ours store as a JSON integer
ID_MAX = 2**31 - 1  # nightshift's ids are INTEGER columns: a larger "…_id" can match no row, and PostgreSQL errs


def parameter_problems(params: dict[str, Any]) -> list[dict[str, Any]]:
    """Field errors for what Prefect cannot take: integers beyond 64 bits, parameters over its size limit."""
    from prefect.settings import get_current_settings

    errors: list[dict[str, Any]] = []

    def walk(value: Any, loc: list[Any]) -> None:
        if isinstance(value, int) and not isinstance(value, bool) and not INT64_MIN <= value <= INT64_MAX:
            errors.append({"loc": loc, "msg": "integer out of range: parameters are 64-bit signed integers",
                           "type": "int64_range"})
        elif isinstance(value, int) and str(loc[-1]).endswith("_id") and value > ID_MAX:
            errors.append({"loc": loc, "msg": f"no such id: ids are at most {ID_MAX} (the database's integer range)",
                           "type": "id_range"})
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(item, [*loc, key])
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, [*loc, index])

    walk(params, ["params"])
    limit = get_current_settings().server.api.max_parameter_size  # Prefect's own check, serialized alike
    size = len(json.dumps(params, separators=(",", ":"), default=str).encode())
    if limit and size > limit:
        errors.append({"loc": ["params"], "msg": f"parameters are {size:,} bytes serialized, over Prefect's "
                       f"limit of {limit:,} (PREFECT_SERVER_API_MAX_PARAMETER_SIZE)", "type": "too_large"})
    return errors


def without_credentials(value: Any) -> Any:
    """`value` with the user:password of every http(s) URL in it removed (they would stay in the run's parameters)."""
    if isinstance(value, dict):
        return {key: without_credentials(item) for key, item in value.items()}
    if isinstance(value, list):
        return [without_credentials(item) for item in value]
    if isinstance(value, str) and "@" in value and value.lower().startswith(("http://", "https://")):
        try:
            parts = urlsplit(value)
            if parts.username is None and parts.password is None:
                return value
            return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
        except ValueError:
            return value
    return value


class Dispatcher:
    """Hands accepted jobs to Prefect: creates each one's flow run, retrying while Prefect is away.

    Woken by every accepted job, and every DISPATCH_POLL_SECONDS anyway (jobs accepted by another
    API process, retries). The job id is the flow run's idempotency key: a job dispatched twice (two
    API processes, or a crash between creating the run and recording it) still has one flow run.
    """

    def __init__(self, client: PrefectClient) -> None:
        self.client = client
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(DISPATCH_CONCURRENCY)
        self._routes = BatchRoutes(client)
        self._synced_at = -SYNC_SECONDS

    def wake(self) -> None:
        self._wake.set()

    async def run(self, until: asyncio.Event | None = None) -> None:
        """Dispatch until `until` is set (for good: until cancelled)."""
        while until is None or not until.is_set():
            self._wake.clear()
            wait_until: dt.datetime | None = None
            try:
                await self._sync_now_and_then()
                records = await in_database(ledger.due, utcnow(), DISPATCH_BATCH)
                singles, batches, wait_until = plan(records, await self._routes.get(), utcnow())
                if singles or batches:
                    await asyncio.gather(*(self._dispatch(r) for r in singles),
                                         *(self._dispatch_batch(to, group) for to, group in batches))
                    continue
                if not records:
                    wait_until = await in_database(ledger.next_due_at)
            except Exception:
                logger.exception("dispatcher: reading the ledger failed")
            delay = min(DISPATCH_POLL_SECONDS, max(0.0, SYNC_SECONDS - (time.monotonic() - self._synced_at)))
            if wait_until is not None:
                delay = min(delay, max(0.0, (wait_until - utcnow()).total_seconds()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    async def _sync_now_and_then(self) -> None:
        """Every SYNC_SECONDS: the jobs' run states into the ledger, and jobs of ended batches handed back."""
        if time.monotonic() - self._synced_at < SYNC_SECONDS:
            return
        self._synced_at = time.monotonic()
        await sync_runs(self.client)
        await recover(self.client)

    async def _dispatch_batch(self, executor_id: str, records: list[JobRecord]) -> None:
        try:
            await hand_over(self.client, executor_id, records)
        except Exception as error:  # noqa: BLE001 - Prefect away or the batch deployment gone: later, alone if so
            await asyncio.gather(*(self._later(r, error) for r in records))

    async def _dispatch(self, record: JobRecord) -> None:
        async with self._slots:
            params = without_credentials(record.params)
            problems = parameter_problems(params)
            if problems:  # accepted before these checks existed: Prefect must never store it
                await in_database(ledger.give_up, record.id, f"invalid parameters: {problems[0]['msg']}")
                return
            try:
                run = await self.client.create_flow_run_from_deployment(
                    UUID(record.deployment_id), parameters=params, idempotency_key=ledger.run_key(record.id))
            except (ObjectNotFound, httpx.HTTPStatusError) as error:
                response = error.response if isinstance(error, httpx.HTTPStatusError) else None
                if response is None or response.status_code == 404:
                    await in_database(ledger.give_up, record.id, f"deployment {record.deployment_id} of job type "
                                                                  f"{record.type!r} no longer exists")
                    return
                if response.status_code in (400, 422):  # this run can never be created; anything else may pass later
                    await in_database(ledger.give_up, record.id, f"Prefect refused the run ({response.status_code}): "
                                                                  f"{response.text[:500]}")
                    return
                await self._later(record, error)
                return
            except Exception as error:  # noqa: BLE001 - Prefect unreachable or failing: retry with backoff
                await self._later(record, error)
                return
            if await in_database(ledger.dispatched, record.id, str(run.id), run_fields(run), utcnow()):
                # Cancelling: the server makes it Cancelled unless a worker took the run meanwhile.
                await self.client.set_flow_run_state(run.id, Cancelling(message="cancelled through the Jobs API"))

    async def _later(self, record: JobRecord, error: Exception) -> None:
        attempts = record.dispatch_attempts + 1
        delay = min(DISPATCH_MAX_DELAY_SECONDS, 0.5 * 2 ** attempts)
        logger.warning("dispatcher: job %s not handed over yet (attempt %s, again in %.0f s): %r",
                       record.id, attempts, delay, error)
        await in_database(ledger.postpone, record.id, attempts, utcnow() + dt.timedelta(seconds=delay))


class Doorbell:
    """The API's side: a dispatcher child process, rung once per accepted job, restarted if it dies."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        from prefect.settings import get_current_settings

        # The child talks to the same Prefect API as this process, whatever set it (env, profile, a test).
        env = {**os.environ, **get_current_settings().to_environment_variables(exclude_unset=True)}
        self.process = subprocess.Popen([sys.executable, "-m", "deployments.api.dispatcher", "--doorbell"],
                                        stdin=subprocess.PIPE, env=env)
        if self.process.stdin is None:
            raise RuntimeError("the dispatcher's doorbell pipe did not open")
        os.set_blocking(self.process.stdin.fileno(), False)

    def ring(self) -> None:
        if self.process is None or self.process.stdin is None:
            return
        with contextlib.suppress(BlockingIOError, BrokenPipeError):  # full: it has rings to read already
            os.write(self.process.stdin.fileno(), b"\x01")

    async def supervise(self) -> None:
        while True:
            await asyncio.sleep(1)
            if self.process is not None and self.process.poll() is not None:
                logger.error("dispatcher exited with %s; starting another", self.process.returncode)
                self.start()

    def stop(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(OSError):
            if self.process.stdin:
                self.process.stdin.close()  # end of input: the dispatcher finishes its batch and exits
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


async def serve(doorbell: bool) -> None:
    from blocks.profile import load_profile

    await anyio.to_thread.run_sync(load_profile)
    async with get_client() as client:
        dispatcher = Dispatcher(client)
        done = asyncio.Event()
        if doorbell:
            loop = asyncio.get_running_loop()
            bell = sys.stdin.fileno()
            os.set_blocking(bell, False)

            def rung() -> None:
                try:
                    data = os.read(bell, 4096)
                except BlockingIOError:
                    return
                if data:
                    dispatcher.wake()
                else:  # the API process is gone
                    loop.remove_reader(bell)
                    done.set()
                    dispatcher.wake()

            loop.add_reader(bell, rung)
        task = asyncio.create_task(dispatcher.run(until=done))
        watchdog = asyncio.create_task(Watchdog(client).run(), name="schedule-watchdog")
        try:
            await task
        finally:
            watchdog.cancel()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m deployments.api.dispatcher", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--doorbell", action="store_true", help="woken through stdin; exit at its end")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request to the Prefect API
    with contextlib.suppress(OSError):
        os.nice(NICENESS)
    asyncio.run(serve(args.doorbell))


if __name__ == "__main__":
    main()
