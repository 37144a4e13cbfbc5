"""The watchdog: crash runs whose worker died; mail the operators once when a schedule stops completing runs.

Zombie runs (every 10 s): a Running flow run that has sent heartbeats (PREFECT_FLOWS_HEARTBEAT_FREQUENCY
on the workers) but none for NIGHTSHIFT_ZOMBIE_AFTER_SECONDS (default 90), and a Pending run a worker
took but never started for NIGHTSHIFT_STUCK_PENDING_AFTER_SECONDS (default 600), are set Crashed; the
failure automation then mails the operators. The state is read again just before, and the server
refuses to crash a run that finished meanwhile, so a finished run is never touched. (A proactive
automation on heartbeats did the same inside the server, but a run's first heartbeat, sent through the
events stream, can arrive after its Completed state: the automation then fired on finished runs.)
Runs that never sent a heartbeat (a flow called from a notebook) are not judged.

Every NIGHTSHIFT_WATCHDOG_SECONDS (default 60) it reads each deployment that has a schedule: when its
last completed run (or its creation, if it never completed one) lies more than twice its interval
back, the operators get one mail naming the deployment and since when. It covers a stopped scheduler,
a paused schedule, a worker gone and runs that keep failing; it runs beside the Jobs API's dispatcher,
outside the Prefect server and the workers, so it also mails once when the Prefect API stops answering.
Not watched: paused deployments (paused on purpose) and deployments whose work pool has never had a
worker (the gpu pool of the embedded default). Each alert is mailed once (store/operator_mail.py).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import anyio
from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterId,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.client.schemas.responses import OrchestrationResult
from prefect.client.schemas.sorting import FlowRunSort

logger = logging.getLogger("nightshift.watchdog")

PERIOD_ENV = "NIGHTSHIFT_WATCHDOG_SECONDS"
ZOMBIE_ENV = "NIGHTSHIFT_ZOMBIE_AFTER_SECONDS"
PENDING_ENV = "NIGHTSHIFT_STUCK_PENDING_AFTER_SECONDS"
ZOMBIE_CHECK_SECONDS = 10
HEARTBEAT = "prefect.flow-run.heartbeat"
FACTOR = 2  # alert after this many intervals without a completed run
UNREACHABLE_AFTER = dt.timedelta(minutes=2)


@dataclass(frozen=True)
class Stall:
    deployment: str  # flow-name/deployment-name
    deployment_id: str
    interval: dt.timedelta
    since: dt.datetime  # the last completed run's end, or the deployment's creation
    paused_schedule: bool

    @property
    def key(self) -> str:
        return f"stalled:{self.deployment_id}:{self.since.isoformat()}"


async def schedule_interval(schedule: Any) -> dt.timedelta | None:
    """The longest gap between two runs of a deployment schedule (interval, cron or rrule)."""
    from prefect.server.schemas import schedules

    kind: dict[str, type[schedules.IntervalSchedule | schedules.CronSchedule | schedules.RRuleSchedule]] = {
        "interval": schedules.IntervalSchedule, "cron": schedules.CronSchedule, "rrule": schedules.RRuleSchedule}
    for field, model in kind.items():
        if getattr(schedule, field, None) is not None:
            server_side = model.model_validate(schedule.model_dump(exclude_none=True))
            dates = await server_side.get_dates(n=8, start=dt.datetime.now(dt.UTC))
            gaps = [b - a for a, b in zip(dates, dates[1:], strict=False)]
            return max(gaps) if gaps else None
    return None


async def stalled(client: PrefectClient, now: dt.datetime, watching_since: dt.datetime) -> list[Stall]:
    """The watched deployments whose last completed run is older than FACTOR intervals.

    A deployment is judged from `watching_since` on at the earliest (the watchdog's start: the worker
    and the deployments it watches may have started just before it).
    """
    pools_with_workers = {}
    found = []
    for deployment in await client.read_deployments():
        schedules = deployment.schedules or []
        intervals = [i for i in [await schedule_interval(s.schedule) for s in schedules] if i]
        if not intervals or deployment.paused:
            continue
        pool = deployment.work_pool_name
        if pool and pool not in pools_with_workers:
            pools_with_workers[pool] = bool(await client.read_workers_for_work_pool(pool))
        if pool and not pools_with_workers[pool]:
            continue
        interval = min(intervals)
        completed = await client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id])),
            flow_run_filter=FlowRunFilter(state=FlowRunFilterState(
                type=FlowRunFilterStateType(any_=[StateType.COMPLETED]))),
            sort=FlowRunSort.END_TIME_DESC, limit=1)
        last = completed[0] if completed else None
        since = (last.end_time if last and last.end_time else deployment.created) or now
        if now - max(since, watching_since) > FACTOR * interval:
            flow = await client.read_flow(deployment.flow_id)
            found.append(Stall(f"{flow.name}/{deployment.name}", str(deployment.id), interval, since,
                               paused_schedule=all(not s.active for s in schedules)))
    return found


def stall_message(stall: Stall, to: str, ui_url: str | None) -> EmailMessage:
    from tasks.operators import operator_message

    link = f"{ui_url}/deployments/deployment/{stall.deployment_id}" if ui_url else stall.deployment_id
    why = ("Its schedule is paused." if stall.paused_schedule else
           "Check that the Prefect server's scheduler runs, that a worker serves its work pool, and its last runs.")
    return operator_message(to, f"Schedule stalled: {stall.deployment}", (
        f"Deployment {stall.deployment} runs every {stall.interval} but has completed no run since "
        f"{stall.since:%Y-%m-%d %H:%M:%S} UTC.\n\n{why}\n\nOpen it: {link}\n"))


def unreachable_message(api_url: str, since: dt.datetime, error: str, to: str) -> EmailMessage:
    from tasks.operators import operator_message

    return operator_message(to, "Prefect API unreachable", (
        f"The Prefect API at {api_url} has not answered since {since:%Y-%m-%d %H:%M:%S} UTC ({error}). "
        "No schedule runs and no job starts until it answers again.\n"))


async def heartbeats(client: PrefectClient, run_ids: list[str], since: dt.datetime, limit: int) -> dict[str, str]:
    """Run id -> time of its latest heartbeat since `since` (runs without one are absent)."""
    response = await client._client.post("/events/filter", json={"limit": limit, "filter": {
        "occurred": {"since": since.isoformat()}, "event": {"name": [HEARTBEAT]}, "order": "DESC",
        "resource": {"id": [f"prefect.flow-run.{r}" for r in run_ids]}}})
    response.raise_for_status()
    latest: dict[str, str] = {}
    for event in response.json()["events"]:
        latest.setdefault(event["resource"]["prefect.resource.id"].removeprefix("prefect.flow-run."), event["occurred"])
    return latest


async def crash_if_still(client: PrefectClient, run_id: Any, state: StateType, message: str) -> bool:
    """Set run `run_id` Crashed if it is still in `state`; the server refuses if it finished meanwhile."""
    from prefect.states import Crashed

    run = await client.read_flow_run(run_id)
    if run.state is None or run.state.type != state:
        return False
    result: OrchestrationResult[Any] = await client.set_flow_run_state(run_id, Crashed(message=message))
    return result.status.value == "ACCEPT"


async def crash_zombies(client: PrefectClient, now: dt.datetime) -> list[str]:
    """Crash the Running runs whose heartbeats stopped and the Pending runs never started; their ids."""
    silence = dt.timedelta(seconds=int(os.environ.get(ZOMBIE_ENV) or 90))
    pending_after = dt.timedelta(seconds=int(os.environ.get(PENDING_ENV) or 600))
    crashed = []
    running = await client.read_flow_runs(flow_run_filter=FlowRunFilter(state=FlowRunFilterState(
        type=FlowRunFilterStateType(any_=[StateType.RUNNING]))), limit=200)
    quiet = [r for r in running if r.state and r.state.timestamp and now - r.state.timestamp > silence]
    if quiet:
        ids = [str(r.id) for r in quiet]
        alive: dict[str, str] = {}
        for start in range(0, len(ids), 10):  # a page holds 50 events: about 3 heartbeats a run in the window
            alive |= await heartbeats(client, ids[start:start + 10], now - silence, limit=50)
        for run in quiet:
            if str(run.id) in alive:
                continue
            ever = await heartbeats(client, [str(run.id)], run.state.timestamp - silence, limit=1)  # type: ignore[union-attr]
            if ever and await crash_if_still(client, run.id, StateType.RUNNING, (
                    f"No heartbeat for {silence.seconds} s: the worker or its machine stopped. "
                    "Retry the run from the UI (or submit the job again).")):
                crashed.append(str(run.id))
    pending = await client.read_flow_runs(flow_run_filter=FlowRunFilter(state=FlowRunFilterState(
        type=FlowRunFilterStateType(any_=[StateType.PENDING]))), limit=200)
    for run in pending:
        if run.state and run.state.timestamp and now - run.state.timestamp > pending_after \
                and await crash_if_still(client, run.id, StateType.PENDING, (
                    f"Pending, never started, for {pending_after.seconds} s: the worker or its machine stopped. "
                    "Retry the run from the UI (or submit the job again).")):
                crashed.append(str(run.id))
    if crashed:
        logger.warning("crashed %s run(s) whose worker stopped: %s", len(crashed), ", ".join(crashed))
    return crashed


class Watchdog:
    """Checks every `period` seconds; mails each stall (and each outage of the Prefect API) once."""

    def __init__(self, client: PrefectClient, period: float | None = None) -> None:
        self.client = client
        self.period = period or float(os.environ.get(PERIOD_ENV) or 60)
        self.unreachable_since: dt.datetime | None = None
        self.started = dt.datetime.now(dt.UTC)

    async def check(self) -> list[str]:
        """One pass; the keys of the alerts mailed."""
        from prefect.settings import PREFECT_API_URL, PREFECT_UI_URL

        from tasks.operators import OPERATORS_ENV, mail_once

        to = os.environ.get(OPERATORS_ENV, "operators@localhost")
        now = dt.datetime.now(dt.UTC)
        api_url = PREFECT_API_URL.value() or ""
        try:
            stalls = await stalled(self.client, now, self.started)
        except Exception as error:  # noqa: BLE001 - the server is away: that is the alert
            self.unreachable_since = self.unreachable_since or now
            if now - self.unreachable_since < UNREACHABLE_AFTER:
                return []
            key = f"prefect-unreachable:{self.unreachable_since.isoformat()}"
            message = unreachable_message(api_url, self.unreachable_since, repr(error)[:200], to)
            return [key] if await anyio.to_thread.run_sync(mail_once, key, message, {"api": api_url}) else []
        self.unreachable_since = None
        ui = PREFECT_UI_URL.value() or api_url.removesuffix("/api") or None
        mailed = []
        for stall in stalls:
            details: dict[str, str | None] = {"deployment": stall.deployment, "since": stall.since.isoformat()}
            if await anyio.to_thread.run_sync(mail_once, stall.key, stall_message(stall, to, ui), details):
                logger.warning("schedule of %s stalled since %s: operators mailed", stall.deployment, stall.since)
                mailed.append(stall.key)
        return mailed

    async def run(self) -> None:
        next_check = 0.0
        loop = asyncio.get_running_loop()
        while True:
            try:
                await crash_zombies(self.client, dt.datetime.now(dt.UTC))
            except Exception as error:  # noqa: BLE001 - the server is away: check() reports that
                logger.warning("watchdog: zombie check failed: %r", error)
            if loop.time() >= next_check:
                next_check = loop.time() + self.period
                try:
                    await self.check()
                except Exception:
                    logger.exception("watchdog: check failed")
            await asyncio.sleep(min(self.period, ZOMBIE_CHECK_SECONDS))
