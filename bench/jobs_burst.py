"""A burst: 100 small jobs posted at once to the Jobs API; how fast do they all complete?

The embedded default as `make demo` starts it (deployments/demo/local.sh: Prefect server on SQLite, one
worker, the Jobs API), and with --shape production the production shape (bench/prefect_stack.py:
PostgreSQL, Redis messaging, one worker). Each job is an extract_todos of a prepared finished
execution (a trivial flow: what is measured is the path around it); extract-todos is tagged "batch",
so the dispatcher hands its jobs over in batches (deployments/api/batches.py; --no-batches: one flow
run per job, as before, in the same conditions). While the jobs run, every job's
status is read through GET /jobs/{id} once a second, by a caller of its own (the callers' seconds
spread evenly, as independent clients; --herd: all at the same instant). Prints jobs/s from the first POST to the last
completion, status-call p50/p99, server errors (5xx answers and tracebacks in the logs), and the
baseline in the same run: the same extractions as one direct flow call without a deployment.

    .venv/bin/python bench/jobs_burst.py                      (embedded default)
    .venv/bin/python bench/jobs_burst.py --shape production
    .venv/bin/python bench/jobs_burst.py --no-batches          (one flow run per job)
    .venv/bin/python bench/jobs_burst.py --herd                (every status read at the same instant)

It also prints where the time went (accepted → started, started → finished, flow runs used) and the
machine's load average: on a shared machine the figures move with it.

Goals: all 100 complete, >= 5 jobs/s on 2 cores, status calls p99 <= 200 ms, 0 server errors.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

FINAL = {"completed", "failed", "cancelled", "crashed"}


async def burst(api: str, token: str, executions: list[int], timeout: float, herd: bool = False) -> dict:
    """POST every job at once, then poll each job's status once a second until it is final: each job by
    a caller of its own, the callers' seconds spread evenly (independent clients), or with `herd` all
    at the same instant (a hundred requests at once every second)."""
    headers = {"Authorization": f"Bearer {token}"}
    status_ms: list[float] = []
    errors: list[str] = []
    async with httpx.AsyncClient(base_url=api, headers=headers, timeout=30) as client:
        t0 = time.monotonic()
        posted = await asyncio.gather(*(client.post("/jobs", json={
            "type": "extract_todos", "params": {"task_execution_id": e}}) for e in executions))
        post_seconds = time.monotonic() - t0
        errors += [f"POST {r.status_code}" for r in posted if r.status_code >= 500]
        ids = [r.json()["id"] for r in posted if r.status_code < 300]
        pending, statuses = set(ids), {}
        done_at = t0
        slow: list[tuple[float, int]] = []  # (seconds after the first POST, ms) of each status call

        async def read(job_id: str) -> None:
            nonlocal done_at
            started = time.monotonic()
            try:
                response = await client.get(f"/jobs/{job_id}")
            except httpx.HTTPError as error:
                errors.append(f"GET {error!r}")
                return
            status_ms.append((time.monotonic() - started) * 1000)
            slow.append((round(started - t0, 1), round(status_ms[-1])))
            if response.status_code >= 500:
                errors.append(f"GET {response.status_code}")
                return
            status = response.json()["status"]
            if status in FINAL:
                statuses[job_id] = status
                pending.discard(job_id)
                done_at = max(done_at, time.monotonic())

        async def poll(job_id: str, first_after: float) -> None:
            await asyncio.sleep(first_after)
            while job_id in pending and time.monotonic() - t0 < timeout:
                cycle = time.monotonic()
                await read(job_id)
                if job_id in pending:
                    await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - cycle)))

        await asyncio.gather(*(poll(j, 1.0 if herd else (i + 1) / len(ids)) for i, j in enumerate(ids)))
        jobs = [(await client.get(f"/jobs/{j}")).json() for j in ids]  # where the time went (not timed)
    waits = sorted(_seconds(j["created_at"], j["started_at"]) for j in jobs if j.get("started_at"))
    runs = sorted(_seconds(j["started_at"], j["finished_at"]) for j in jobs if j.get("finished_at"))
    elapsed = done_at - t0
    completed = sum(s == "completed" for s in statuses.values())
    return {"jobs": len(executions), "accepted": len(ids), "completed": completed,
            "other final": {s: list(statuses.values()).count(s) for s in set(statuses.values()) - {"completed"}},
            "not final": len(pending), "seconds": round(elapsed, 1), "post_seconds": round(post_seconds, 2),
            "jobs_per_s": round(completed / elapsed, 2) if elapsed else 0.0,
            "status_p50_ms": round(statistics.median(status_ms), 1) if status_ms else None,
            "status_p99_ms": round(statistics.quantiles(status_ms, n=100)[98], 1) if len(status_ms) > 1 else None,
            "status_calls": len(status_ms), "server_errors": errors,
            "flow_runs": len({j["flow_run_id"] for j in jobs if j.get("flow_run_id")}),
            "wait_p50_s": _median(waits), "wait_max_s": round(waits[-1], 1) if waits else None,
            "run_p50_s": _median(runs), "load": [round(x, 1) for x in os.getloadavg()],
            "polling": "herd" if herd else "spread",
            "slowest_status_calls": sorted(slow, key=lambda call: -call[1])[:5]}


def _passed_on() -> dict[str, str]:
    """The batch settings of this process, for the stack's processes (the stacks start them without NIGHTSHIFT_*)."""
    return {k: v for k, v in os.environ.items() if k.startswith("NIGHTSHIFT_JOBS_BATCH_")}


def _seconds(start: str | None, end: str | None) -> float:
    import datetime as dt

    return (dt.datetime.fromisoformat(end) - dt.datetime.fromisoformat(start)).total_seconds() if start and end else 0.0


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


def baseline(app_url: str, executions: list[int]) -> float:
    """Seconds for the same extractions as plain function calls in one process (no Prefect at all)."""
    from blocks.database import Database
    from blocks.offline import OfflineLLM
    from tasks.todos import extract_one

    db, llm = Database(url=app_url), OfflineLLM()
    started = time.monotonic()
    for execution in executions:
        extract_one(db, llm, execution, force=True)
    return time.monotonic() - started


def settled(log: Path, timeout: float = 180) -> float:
    """Seconds until the worker's fork server is ready (its preloading is done): the burst meets a
    running system, not one still importing its modules."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if log.exists() and "fork server: ready" in log.read_text(errors="replace"):
            return time.monotonic() - started
        time.sleep(0.5)
    raise SystemExit(f"the worker's fork server was not ready after {timeout:.0f} s: see {log}")


def samples(found: dict[str, list[str]]) -> dict[str, list[str]]:
    """The first error lines of the tracebacks in each log (they are the report's, not only counts)."""
    return {name: errors[:3] for name, errors in found.items() if errors}


def embedded(jobs: int, timeout: float, herd: bool) -> tuple[dict, dict[str, int]]:
    from factories import make_execution
    from local_stack import LocalStack

    with tempfile.TemporaryDirectory(prefix="nightshift-burst-") as tmp:
        stack = LocalStack(Path(tmp) / "home", extra_env=_passed_on())
        try:
            stack.local("start")
            waited = settled(stack.run_folder / "worker-cpu.log")
            token = stack.local("token").stdout.strip()
            app_url = f"sqlite:///{stack.home / 'nightshift.db'}"
            executions = [make_execution(app_url) for _ in range(jobs)]
            report = asyncio.run(burst(stack.jobs_api, token, executions, timeout, herd))
            report["baseline_s"] = round(baseline(app_url, executions), 2)
            report["settled_s"] = round(waited, 1)
        finally:
            stack.stop()
        found = stack.tracebacks()
        report["traceback_samples"] = samples(found)
        return report, {name: len(errors) for name, errors in found.items()}


def production(jobs: int, timeout: float, herd: bool) -> tuple[dict, dict[str, int]]:
    from factories import make_execution

    from bench.prefect_stack import Stack

    with tempfile.TemporaryDirectory(prefix="nightshift-burst-") as tmp, \
            Stack(Path(tmp), workers=1, deployments=("extract-todos", "run-job-batch", "notify-failed-run"),
                  extra_env=_passed_on()) as stack:
        executions = [make_execution(stack.app_url) for _ in range(jobs)]
        report = asyncio.run(burst(stack.api, stack.token, executions, timeout, herd))
        report["baseline_s"] = round(baseline(stack.app_url, executions), 2)
        logs = {p.stem: p.read_text(errors="replace").count("Traceback (most recent call last)")
                for p in Path(tmp).glob("*.log")}
    return report, logs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--shape", choices=["embedded", "production"], default="embedded")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--herd", action="store_true",
                        help="poll every job's status at the same instant each second (default: each job's "
                             "caller on its own second, spread evenly, as independent clients)")
    parser.add_argument("--no-batches", action="store_true",
                        help="one flow run per job, as before batches (NIGHTSHIFT_JOBS_BATCH_SIZE=1)")
    args = parser.parse_args(argv)
    if args.no_batches:
        os.environ["NIGHTSHIFT_JOBS_BATCH_SIZE"] = "1"  # inherited by the stack's processes
    report, tracebacks = (embedded if args.shape == "embedded" else production)(args.jobs, args.timeout, args.herd)
    print(f"{args.shape}: {report['completed']} of {report['jobs']} jobs completed in {report['seconds']} s "
          f"= {report['jobs_per_s']} jobs/s (POSTs answered in {report['post_seconds']} s)")
    print(f"  baseline, the same {report['jobs']} extractions as plain function calls in one process: "
          f"{report['baseline_s']} s")
    print(f"  other final: {report['other final']}, not final: {report['not final']}")
    print(f"  GET /jobs/{{id}}: {report['status_calls']} calls ({report['polling']} polling), "
          f"p50 {report['status_p50_ms']} ms, p99 {report['status_p99_ms']} ms; slowest (s after the first POST, ms): "
          f"{report['slowest_status_calls']}")
    print(f"  {report['flow_runs']} flow runs for {report['jobs']} jobs; accepted to started p50 "
          f"{report['wait_p50_s']} s (max {report['wait_max_s']} s), started to finished p50 {report['run_p50_s']} s; "
          f"load average during the run {report['load']} (1, 5, 15 min) on {os.cpu_count()} cores")
    print(f"  server errors: {len(report['server_errors'])} {report['server_errors'][:5]}; "
          f"tracebacks in logs: {tracebacks} {report.get('traceback_samples') or ''}")
    if "settled_s" in report:
        print(f"  posted once the worker's fork server was ready ({report['settled_s']} s after start)")
    met = (report["completed"] == args.jobs and report["jobs_per_s"] >= 5 and (report["status_p99_ms"] or 0) <= 200
           and not report["server_errors"] and not any(tracebacks.values()))
    print("goals: " + ("all met" if met else "MISSED (100 complete, >= 5 jobs/s, p99 <= 200 ms, 0 errors)"))
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
