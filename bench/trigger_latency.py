"""Trigger latency: POST /jobs → Running and → Completed for a trivial job, default vs tuned workers.

One process worker at a time on the production-shaped stack (bench/prefect_stack.py). Jobs are
extract-todos on an execution already extracted (one short database read), submitted
one at a time; latencies come from the server's timestamps (created → start_time → end_time).

    .venv/bin/python bench/trigger_latency.py --runs 50

Goal: median ≤ 2 s to Running with the tuned worker (polling 1 s + fork server).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[1] / "tests")]

from bench.prefect_stack import Stack

CONFIGS = {
    # Prefect's defaults: the worker asks for new runs every 10 s; each run starts a new interpreter.
    "default": ({"PREFECT_WORKER_QUERY_SECONDS": "10", "PREFECT_WORKER_PREFETCH_SECONDS": "10"}, False),
    # Polling every second (one cheap query per worker and second), still a new interpreter per run.
    "polling 1 s": ({"PREFECT_WORKER_QUERY_SECONDS": "1", "PREFECT_WORKER_PREFETCH_SECONDS": "10"}, False),
    # Polling every second and runs forked from the worker's fork server (`nightshift worker`).
    "polling 1 s + fork server": ({"PREFECT_WORKER_QUERY_SECONDS": "1", "PREFECT_WORKER_PREFETCH_SECONDS": "10"},
                                  True),
}


def _seconds(later: str, earlier: str) -> float:
    return (dt.datetime.fromisoformat(later) - dt.datetime.fromisoformat(earlier)).total_seconds()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def measure(stack: Stack, execution: int, runs: int, pause: float) -> dict:
    """One job at a time (the next one `pause` s after the previous ended): latency, not queueing."""
    jobs = []
    with stack.client() as client:
        for _ in range(runs):
            response = client.post("/jobs", json={"type": "extract_todos", "params": {"task_execution_id": execution}})
            job_id = response.raise_for_status().json()["id"]
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                job = client.get(f"/jobs/{job_id}").json()
                if job["status"] in {"completed", "failed", "crashed", "cancelled"}:
                    jobs.append(job)
                    break
                time.sleep(0.2)
            time.sleep(pause)
    done = [j for j in jobs if j["status"] == "completed"]
    to_running = [_seconds(j["started_at"], j["created_at"]) for j in done]
    to_completed = [_seconds(j["finished_at"], j["created_at"]) for j in done]
    return {
        "runs": runs, "completed": len(done),
        "to_running_p50": round(statistics.median(to_running), 2), "to_running_p99": round(percentile(to_running, 99), 2),
        "to_completed_p50": round(statistics.median(to_completed), 2),
        "to_completed_p99": round(percentile(to_completed, 99), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--pause", type=float, default=0.5, help="seconds between one job's end and the next")
    parser.add_argument("--only", action="append", choices=list(CONFIGS), help="measure only these settings")
    args = parser.parse_args()
    from factories import make_execution

    results = {}
    with tempfile.TemporaryDirectory(prefix="nightshift-latency-") as tmp:
        with Stack(Path(tmp), workers=0, redis_db=4) as stack:
            execution = make_execution(stack.app_url)
            with stack.client() as client:  # extract once: every measured job is then a short read
                first = client.post("/jobs", json={"type": "extract_todos", "params": {"task_execution_id": execution}})
            stack.worker_env = CONFIGS["polling 1 s + fork server"][0]
            stack.start_worker(0)
            _wait_completed(stack, first.json()["id"])
            stack.kill("worker-0")
            for i, (name, (env, fork_server)) in enumerate(CONFIGS.items(), start=1):
                if args.only and name not in args.only:
                    continue
                stack.worker_env = env
                stack.start_worker(i, fork_server=fork_server)
                time.sleep(12)  # the worker is up and has polled once
                results[name] = measure(stack, execution, args.runs, args.pause) | {"worker_env": env,
                                                                                      "fork_server": fork_server}
                stack.kill(f"worker-{i}")
                print(name, json.dumps(results[name]), flush=True)
    print(json.dumps(results, indent=2))


def _wait_completed(stack: Stack, job_id: str) -> None:
    with stack.client() as client:
        for _ in range(300):
            if client.get(f"/jobs/{job_id}").json()["status"] == "completed":
                return
            time.sleep(1)
    raise RuntimeError(f"job {job_id} did not complete; see {stack.workdir}")


if __name__ == "__main__":
    main()
