"""Production-shaped soak: 1,000 mixed jobs through the Jobs API, one worker killed mid-run.

Prefect server on PostgreSQL with Redis messaging, two process workers, the Jobs API (bench/prefect_stack.py).
Jobs: extract-todos on prepared executions (some twice, some forced, a few for executions that do not
exist, so they fail and the failure automation mails the operators), sweeps racing them, and repeated
idempotency keys. Mid-run one worker and its flow-run processes are SIGKILLed (a machine dying); the
zombie automations mark its runs Crashed, the soak submits those jobs again. Then it checks that every
job reached a final state, none is lost, and no todo, scheduling row, e-mail event or chunk is doubled.

    .venv/bin/python bench/jobs_soak.py --jobs 1000
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import sqlalchemy as sa

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[1] / "tests")]

from bench.prefect_stack import Stack

FINAL = {"completed", "failed", "cancelled", "crashed"}
MISSING_EXECUTION = 10_000_000  # ids above this do not exist: those jobs fail on purpose


def job_mix(n_jobs: int, executions: list[int]) -> list[dict]:
    """The requests of the soak, in submission order."""
    bodies = []
    for i in range(n_jobs):
        if i % 25 == 0:
            bodies.append({"type": "sweep_todo_extraction", "params": {"quiet_minutes": 0, "chunk_size": 20}})
        elif i % 50 == 7:
            bodies.append({"type": "extract_todos", "params": {"task_execution_id": MISSING_EXECUTION + i}})
        else:
            params = {"task_execution_id": executions[i % len(executions)]}
            if i % 9 == 0:
                params["force"] = True
            body = {"type": "extract_todos", "params": params}
            if i % 10 == 3:
                body["idempotency_key"] = f"soak-{i}"
            bodies.append(body)
    return bodies


def prepare(app_url: str, n_executions: int) -> list[int]:
    from factories import make_execution

    return [make_execution(app_url) for _ in range(n_executions)]


def list_jobs(client) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    """Every job the API lists, by id (all pages)."""
    jobs, offset = {}, 0
    while offset is not None:
        page = client.get("/jobs", params={"limit": 200, "offset": offset}).raise_for_status().json()
        jobs |= {job["id"]: job for job in page["items"]}
        offset = page["next_offset"]
    return jobs


def wait_final(client, ids: set[str], timeout: float, on_progress=None) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        jobs = list_jobs(client)
        done = sum(1 for i in ids if jobs.get(i, {}).get("status") in FINAL)
        if on_progress:
            on_progress(done, len(ids))
        if done == len(ids) or time.monotonic() > deadline:
            return jobs
        time.sleep(2)


def duplicates(app_url: str) -> dict[str, int]:
    """Rows that exist twice where they must exist once (0 everywhere is the goal)."""
    queries = {
        "todos": "SELECT count(*) FROM (SELECT task_execution_id, dedup_key FROM todo GROUP BY 1, 2 HAVING count(*) > 1) d",
        "todo descriptions": "SELECT count(*) FROM (SELECT task_execution_id, lower(description) FROM todo "
                             "GROUP BY 1, 2 HAVING count(*) > 1) d",
        "first schedulings": "SELECT count(*) FROM (SELECT todo_id FROM todo_scheduling "
                             "GROUP BY 1 HAVING count(*) > 1) d",
        "email events": "SELECT count(*) FROM (SELECT dedup_key FROM event GROUP BY 1 HAVING count(*) > 1) d",
        "chunks": "SELECT count(*) FROM (SELECT document_id, position FROM document_chunk "
                  "GROUP BY 1, 2 HAVING count(*) > 1) d",
    }
    engine = sa.create_engine(app_url)
    with engine.connect() as conn:
        found = {name: conn.execute(sa.text(sql)).scalar_one() for name, sql in queries.items()}
    engine.dispose()
    return found


def todo_counts(app_url: str, executions: list[int]) -> Counter:
    """How many todos each prepared execution has (all executions share one conversation)."""
    engine = sa.create_engine(app_url)
    with engine.connect() as conn:
        rows = dict(conn.execute(sa.text("SELECT task_execution_id, count(*) FROM todo GROUP BY 1")).all())
        unmarked = conn.execute(sa.text("SELECT count(*) FROM task_execution WHERE todos_extracted_at IS NULL")).scalar_one()
    engine.dispose()
    counts = Counter(rows.get(e, 0) for e in executions)
    counts["unmarked executions"] = unmarked
    return counts


def soak(stack: Stack, n_jobs: int, kill_after: float = 0.3, timeout: float = 1800, log=print) -> dict:  # type: ignore[no-untyped-def]
    """Run the soak on a started stack; return the counts."""
    executions = prepare(stack.app_url, max(1, int(n_jobs * 0.6)))
    bodies = job_mix(n_jobs, executions)
    report: dict = {"jobs submitted": len(bodies)}
    with stack.client() as client:
        started = time.monotonic()
        created = [client.post("/jobs", json=body) for body in bodies]
        assert all(r.status_code == 202 for r in created), [r.text for r in created if r.status_code != 202][:3]
        ids = {r.json()["id"] for r in created}
        repeats = [client.post("/jobs", json=b) for b in bodies if "idempotency_key" in b]
        report["idempotent repeats (same id)"] = sum(r.json()["id"] in ids for r in repeats)
        report["idempotent repeats"] = len(repeats)
        report["unique jobs"] = len(ids)
        report["submit seconds"] = round(time.monotonic() - started, 1)
        killed = False

        def progress(done: int, total: int) -> None:
            nonlocal killed
            log(f"{time.monotonic() - started:7.1f} s  final jobs: {done}/{total}")
            if not killed and done >= kill_after * total:
                stack.kill("worker-0")
                killed = True
                report["worker killed after final jobs"] = done
                log(f"killed worker-0 and its flow runs after {done}/{total} final jobs")

        jobs = wait_final(client, ids, timeout, progress)
        statuses = Counter(jobs[i]["status"] if i in jobs else "missing" for i in ids)
        report["statuses"] = dict(statuses)
        crashed = [i for i in ids if jobs.get(i, {}).get("status") == "crashed"]
        resubmitted = {client.post("/jobs", json={"type": jobs[i]["type"], "params": jobs[i]["params"]}).json()["id"]
                       for i in crashed}
        if resubmitted:
            again = wait_final(client, resubmitted, timeout)
            report["crashed jobs resubmitted"] = len(resubmitted)
            report["resubmitted statuses"] = dict(Counter(again[i]["status"] for i in resubmitted))
            failed_again = [i for i in resubmitted if again[i]["status"] == "failed"]
            report["resubmitted failed (on purpose)"] = sum(
                again[i]["params"].get("task_execution_id", 0) > MISSING_EXECUTION for i in failed_again)
            report["resubmitted failed (other)"] = len(failed_again) - report["resubmitted failed (on purpose)"]
        report["seconds to all final"] = round(time.monotonic() - started, 1)
        final = list_jobs(client)
        report["lost (not final or not listed)"] = sum(1 for i in ids | resubmitted
                                                        if final.get(i, {}).get("status") not in FINAL)
        failed = [i for i in ids if final[i]["status"] == "failed"]
        report["failed (missing execution, on purpose)"] = sum(
            final[i]["params"].get("task_execution_id", 0) > MISSING_EXECUTION for i in failed)
        report["failed (other)"] = len(failed) - report["failed (missing execution, on purpose)"]
    report["duplicates"] = duplicates(stack.app_url)
    report["todos per execution"] = dict(todo_counts(stack.app_url, executions))
    outbox = stack.workdir / "home" / "outbox"
    time.sleep(5)  # the failure automation's mail runs after the failures
    report["operator mails"] = len(list(outbox.glob("*.eml"))) if outbox.exists() else 0
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--kill-after", type=float, default=0.3, help="fraction of final jobs before the kill")
    parser.add_argument("--zombie-seconds", type=int, default=90, help="silence before a run is marked Crashed")
    args = parser.parse_args()
    silence = {"NIGHTSHIFT_ZOMBIE_AFTER_SECONDS": str(args.zombie_seconds),
               "NIGHTSHIFT_STUCK_PENDING_AFTER_SECONDS": str(args.zombie_seconds)}
    with tempfile.TemporaryDirectory(prefix="nightshift-soak-") as tmp:
        with Stack(Path(tmp), workers=2, extra_env=silence, redis_db=2) as stack:
            report = soak(stack, args.jobs, args.kill_after, log=lambda m: print(m, flush=True))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
