"""Load: POST /jobs at a fixed rate (default 50/s for 60 s) on loopback; p50/p99 latency and errors.

The Prefect server runs on PostgreSQL with Redis messaging (bench/prefect_stack.py): under concurrent
writes a SQLite server answers 503 "database is locked" (the Jobs API's Prefect client would retry
them, at the cost of latency). No worker runs, so the jobs stay scheduled: this measures the API
and the server, not the flows. Open loop: requests start on schedule whether or not earlier ones
have answered (at most --max-in-flight at once), so a slow server shows up as latency, not as a
lower rate. Baseline in the same run: GET /health (the API without a Prefect write).

    .venv/bin/python bench/jobs_load.py --rate 50 --seconds 60

Goal: p99 ≤ 100 ms, 0 errors.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path[:0] = [str(Path(__file__).resolve().parents[1])]

from bench.prefect_stack import Stack
from bench.trigger_latency import percentile


async def load(stack: Stack, rate: float, seconds: float, max_in_flight: int, body_of) -> dict:  # type: ignore[no-untyped-def]
    latencies: list[float] = []
    errors: list[str] = []
    gate = asyncio.Semaphore(max_in_flight)
    limits = httpx.Limits(max_connections=max_in_flight, max_keepalive_connections=max_in_flight)
    async with httpx.AsyncClient(base_url=stack.api, headers={"Authorization": f"Bearer {stack.token}"},
                                 timeout=10, limits=limits) as client:

        async def one(i: int) -> None:
            async with gate:
                started = time.perf_counter()
                try:
                    method, path, body = body_of(i)
                    response = await client.request(method, path, json=body)
                    if response.status_code >= 400:
                        errors.append(f"{response.status_code} {response.text[:200]}")
                except httpx.HTTPError as exc:
                    errors.append(repr(exc))
                latencies.append(time.perf_counter() - started)

        total = int(rate * seconds)
        begin = time.perf_counter()
        tasks = []
        for i in range(total):  # bounded: exactly rate × seconds requests
            await asyncio.sleep(max(0.0, begin + i / rate - time.perf_counter()))
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - begin
    ms = [1000 * x for x in latencies]
    return {"requests": total, "achieved_rate": round(total / elapsed, 1), "errors": len(errors),
            "first_errors": errors[:3], "p50_ms": round(statistics.median(ms), 1),
            "p99_ms": round(percentile(ms, 99), 1), "max_ms": round(max(ms), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--max-in-flight", type=int, default=64)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nightshift-load-") as tmp:
        with Stack(Path(tmp), workers=0, redis_db=6) as stack:
            def warm(i: int) -> tuple[str, str, dict]:
                return "POST", "/jobs", {"type": "extract_todos", "params": {"task_execution_id": i + 1}}

            asyncio.run(load(stack, 10, 2, 8, warm))  # connections and registry warm
            health = asyncio.run(load(stack, args.rate, min(args.seconds, 10), args.max_in_flight,
                                      lambda i: ("GET", "/health", None)))
            post = asyncio.run(load(stack, args.rate, args.seconds, args.max_in_flight, warm))
    report = {"POST /jobs": post, "baseline GET /health": health,
              "goal": "POST /jobs p99 <= 100 ms at 50/s for 60 s, 0 errors",
              "met": post["p99_ms"] <= 100 and post["errors"] == 0}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
