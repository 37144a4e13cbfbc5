"""Production-shaped soak: 1,000 mixed jobs through the Jobs API, one worker killed mid-run.

Prefect server on PostgreSQL with Redis messaging, two process workers, the Jobs API (bench/prefect_stack.py).
Jobs: extract-todos on prepared executions (some twice, some forced, a few for executions that do not
exist, so they fail and the failure automation mails the operators), sweeps racing them, document updates
racing each other on a few text documents, daily e-mails asked for again and again for the same users,
and repeated idempotency keys. Mid-run one worker and its flow-run processes are SIGKILLed (a machine dying); the
zombie automations mark its runs Crashed, the soak submits those jobs again. Then it checks that every
job reached a final state, none is lost, no todo, scheduling row, e-mail event or chunk is doubled, each
user got one daily e-mail, and each document's chunks in Chroma are its chunks in the database.

    .venv/bin/python bench/jobs_soak.py --jobs 1000
"""

from __future__ import annotations

import argparse
import email
import email.utils
import json
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[1] / "tests")]

from bench.prefect_stack import Stack

FINAL = {"completed", "failed", "cancelled", "crashed"}
MISSING_EXECUTION = 10_000_000  # ids above this do not exist: those jobs fail on purpose
DEPLOYMENTS = ("extract-todos", "sweep-todo-extraction", "update-document", "send-daily-todo-emails",
               "notify-failed-run")


@dataclass
class Fixtures:
    """Rows the jobs work on: finished executions, text documents and the users owning them."""

    executions: list[int]
    documents: dict[int, int]  # document id -> owner user id
    now: str  # the instant every daily e-mail job is for (one local date per user)

    @property
    def owners(self) -> list[int]:
        return sorted(set(self.documents.values()))


def job_mix(n_jobs: int, fixtures: Fixtures) -> list[dict]:
    """The requests of the soak, in submission order."""
    executions, documents, users = fixtures.executions, sorted(fixtures.documents), fixtures.owners
    bodies = []
    for i in range(n_jobs):
        if i % 25 == 0:
            bodies.append({"type": "sweep_todo_extraction", "params": {"quiet_minutes": 0, "chunk_size": 20}})
        elif i % 25 == 12:
            document = documents[(i // 25) % len(documents)]
            bodies.append({"type": "update_document", "params": {"document_id": document, "text": revision(i)}})
        elif i % 25 == 18:
            user = users[(i // 25) % len(users)]
            bodies.append({"type": "send_daily_todo_emails", "params": {
                "user_ids": [user], "ignore_local_window": True, "send_when_empty": True, "now": fixtures.now}})
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


def revision(i: int) -> str:
    """A document text of a few chunks whose middle paragraph changes with each revision."""
    steady = ("The onboarding guide explains how a new sales representative learns the product, the pricing "
              "and the way deals are closed. ") * 12
    return f"{steady}\n\nRevision {i}: the pipeline review moves to {['Monday', 'Wednesday', 'Friday'][i % 3]}.\n\n{steady}"


def prepare(app_url: str, n_executions: int, n_documents: int) -> Fixtures:
    from factories import make_execution

    from store import documents as store
    from store.db import session_scope
    from store.models import TaskExecution, utcnow

    executions = [make_execution(app_url) for _ in range(n_executions)]
    documents = {}
    with session_scope(app_url) as session:
        for execution in executions[:n_documents]:
            owner = session.get(TaskExecution, execution).user_id
            documents[store.add_document(session, owner, "text", f"Onboarding guide of user {owner}", None,
                                         utcnow())] = owner
    return Fixtures(executions, documents, utcnow().isoformat())


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


def daily_emails(app_url: str, outbox: Path, users: list[int]) -> dict[str, int]:
    """The daily e-mails of the mailed users: events by status, and .eml files addressed to each."""
    engine = sa.create_engine(app_url)
    with engine.connect() as conn:
        events = conn.execute(sa.text("SELECT user_id, payload FROM event WHERE kind = 'todo_daily_email'")).all()
        emails = dict(conn.execute(sa.text('SELECT id, email FROM "user"')).all())
    engine.dispose()
    recipients = Counter()
    for path in outbox.glob("*.eml") if outbox.exists() else []:
        message = email.message_from_bytes(path.read_bytes())
        recipients[email.utils.parseaddr(message["To"])[1]] += 1
    statuses = Counter((json.loads(p) if isinstance(p, str) else p).get("status") for user, p in events if user in users)
    return {"users": len(users), **{f"events {k}": v for k, v in statuses.items()},
            "users with exactly one e-mail": sum(recipients[emails[u]] == 1 for u in users),
            "users with more than one e-mail": sum(recipients[emails[u]] > 1 for u in users)}


def chunk_agreement(app_url: str, chroma_path: Path, documents: dict[int, int]) -> dict[str, int]:
    """Each document's chunks in the database against its vectors in Chroma (same ids, same hashes)."""
    from blocks.vectorstore import ChromaVectorStore, collection_name

    engine = sa.create_engine(app_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT document_id, position, content_hash FROM document_chunk "
                                    "WHERE document_id IN :ids").bindparams(sa.bindparam("ids", expanding=True)),
                            {"ids": list(documents)}).all()
        ready = conn.execute(sa.text("SELECT count(*) FROM document WHERE status = 'ready' AND id IN :ids")
                             .bindparams(sa.bindparam("ids", expanding=True)), {"ids": list(documents)}).scalar_one()
    engine.dispose()
    in_database = {(d, p): h for d, p, h in rows}
    vectors = ChromaVectorStore(path=str(chroma_path))
    in_chroma = {}
    for owner in set(documents.values()):
        got = vectors._collection(collection_name(owner)).get(include=["metadatas"])
        in_chroma |= {(m["document_id"], m["position"]): m["content_hash"] for m in got["metadatas"]}
    return {"documents": len(documents), "documents ready": ready, "chunks in the database": len(in_database),
            "chunks in Chroma": len(in_chroma), "chunks that differ": len(set(in_database.items()) ^ set(in_chroma.items()))}


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
    fixtures = prepare(stack.app_url, max(2, int(n_jobs * 0.6)), n_documents=max(2, n_jobs // 100))
    bodies = job_mix(n_jobs, fixtures)
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
    report["todos per execution"] = dict(todo_counts(stack.app_url, fixtures.executions))
    outbox = stack.workdir / "home" / "outbox"
    time.sleep(5)  # the failure automation's mail runs after the failures
    mailed = sorted({u for b in bodies if b["type"] == "send_daily_todo_emails" for u in b["params"]["user_ids"]})
    report["daily e-mails"] = daily_emails(stack.app_url, outbox, mailed)
    report["operator mails"] = (len(list(outbox.glob("*.eml"))) if outbox.exists() else 0) - \
        report["daily e-mails"]["users with exactly one e-mail"] - report["daily e-mails"]["users with more than one e-mail"]
    report["documents"] = chunk_agreement(stack.app_url, stack.workdir / "home" / "chroma", fixtures.documents)
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
        with Stack(Path(tmp), workers=2, extra_env=silence, redis_db=2, deployments=DEPLOYMENTS) as stack:
            report = soak(stack, args.jobs, args.kill_after, log=lambda m: print(m, flush=True))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
