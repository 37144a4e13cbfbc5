"""The Jobs API's ledger on SQLite and PostgreSQL: accept once per key, dispatch queue, cancel, statuses."""

from __future__ import annotations

import datetime as dt
import threading
from uuid import uuid4

from conftest import clean_database
from sqlalchemy import func, select, text

from store import jobs as ledger
from store.db import session_scope
from store.models import JobRecord

NOW = dt.datetime(2026, 11, 23, 8, 0, tzinfo=dt.UTC)


def _job(created: dt.datetime = NOW, key: str | None = None, type_: str = "extract_todos") -> dict:
    return {"id": str(uuid4()), "type": type_, "deployment_id": str(uuid4()), "params": {"task_execution_id": 1},
            "idempotency_key": key, "created_at": created, "next_attempt_at": created}


def test_an_idempotency_key_makes_one_job_even_when_requests_race(db_url: str) -> None:
    results: list[tuple[str, bool]] = []
    barrier = threading.Barrier(8)

    def post() -> None:
        barrier.wait()
        with session_scope(db_url) as session:
            record, created = ledger.accept(session, _job(key="nightly-1"))
            results.append((record.id, created))

    threads = [threading.Thread(target=post) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({job_id for job_id, _ in results}) == 1 and sum(created for _, created in results) == 1
    with session_scope(db_url) as session:
        # The same key for another type, and no key at all, are other jobs.
        assert ledger.accept(session, _job(key="nightly-1", type_="sweep_todo_extraction"))[1]
        assert ledger.accept(session, _job())[1] and ledger.accept(session, _job())[1]
        assert session.scalar(select(func.count()).select_from(JobRecord)) == 4


def test_dispatch_queue_order_retries_and_cancel(db_url: str) -> None:
    with session_scope(db_url) as session:
        first, _ = ledger.accept(session, _job(NOW))
        second, _ = ledger.accept(session, _job(NOW + dt.timedelta(seconds=1)))
        third, _ = ledger.accept(session, _job(NOW + dt.timedelta(seconds=2)))
    with session_scope(db_url) as session:
        assert [r.id for r in ledger.due(session, NOW + dt.timedelta(seconds=5), 10)] == [first.id, second.id, third.id]
        ledger.postpone(session, first.id, 1, NOW + dt.timedelta(seconds=60))  # Prefect was away: later
        assert not ledger.dispatched(session, second.id, str(uuid4()))
        assert ledger.cancel_waiting(session, third.id)
    with session_scope(db_url) as session:
        assert ledger.due(session, NOW + dt.timedelta(seconds=5), 10) == []
        assert ledger.next_due_at(session) == NOW + dt.timedelta(seconds=60)
        assert [r.id for r in ledger.due(session, NOW + dt.timedelta(seconds=61), 10)] == [first.id]
        # Too late to cancel without Prefect: the job has its flow run; the flag is kept for the dispatcher.
        assert not ledger.cancel_waiting(session, second.id)
        assert ledger.get(session, second.id).cancel_requested
        assert ledger.get(session, third.id).final_status == "cancelled"
        ledger.give_up(session, first.id, "deployment gone")
    with session_scope(db_url) as session:
        assert ledger.next_due_at(session) is None
        assert (ledger.get(session, first.id).final_status, ledger.get(session, first.id).dispatch_error) == (
            "failed", "deployment gone")


def test_lists_newest_first_and_final_statuses_are_kept(db_url: str) -> None:
    with session_scope(db_url) as session:
        ids = [ledger.accept(session, _job(NOW + dt.timedelta(seconds=i)))[0].id for i in range(5)]
        other = ledger.accept(session, _job(NOW, type_="recommend"))[0].id
    with session_scope(db_url) as session:
        ledger.record_runs(session, {ids[0]: {"status": "completed"}, ids[3]: {"status": "failed"}}, NOW)
        ledger.record_runs(session, {ids[0]: {"status": "crashed"}}, NOW)  # a final status, once kept, stays
    with session_scope(db_url) as session:
        assert [r.id for r in ledger.page(session, ["extract_todos"], None, 3, 0)] == ids[4:1:-1]
        assert [r.id for r in ledger.page(session, ["extract_todos"], None, 3, 3)] == ids[1::-1]
        assert [r.id for r in ledger.page(session, None, "completed", 10, 0)] == [ids[0]]
        assert [r.id for r in ledger.active(session, ["extract_todos"])] == [ids[4], ids[2], ids[1]]
        assert other in [r.id for r in ledger.active(session, None)]


def test_a_batched_job_is_run_by_its_batch_only_and_handed_back_when_the_batch_ends(db_url: str) -> None:
    with session_scope(db_url) as session:
        ids = [ledger.accept(session, _job(NOW + dt.timedelta(seconds=i)))[0].id for i in range(3)]
        ledger.batched(session, ids, "batch-1")
        assert ledger.due(session, NOW + dt.timedelta(seconds=5), 10) == []  # handed over: not due
        assert ledger.cancel_waiting(session, ids[2])  # not started yet: cancelled at once
    with session_scope(db_url) as session:
        assert [r.id for r in ledger.claim(session, ids, "batch-2", NOW)] == []  # not its jobs
        assert sorted(r.id for r in ledger.claim(session, ids, "batch-1", NOW)) == sorted(ids[:2])
        assert not ledger.cancel_waiting(session, ids[0])  # started: runs to its end
        assert ledger.finish(session, "batch-1", [(ids[0], "completed", {"saved": 2}, None)], NOW) == [ids[0]]
    with session_scope(db_url) as session:
        # batch-1 ended with ids[1] unfinished: handed back once, then given up on at the third time.
        assert ledger.unbatch(session, ledger.in_batches(session), 3, NOW) == 0
        assert [r.id for r in ledger.due(session, NOW, 10)] == [ids[1]]
        assert ledger.finish(session, "batch-1", [(ids[1], "completed", None, None)], NOW) == []  # too late
        for batch in ("batch-2", "batch-3"):
            ledger.batched(session, [ids[1]], batch)
            ledger.unbatch(session, ledger.in_batches(session), 3, NOW)
    with session_scope(db_url) as session:
        done, dropped, cancelled = (ledger.get(session, i) for i in ids)
        assert (done.final_status, done.result) == ("completed", {"saved": 2})
        assert (dropped.final_status, dropped.dispatch_attempts) == ("failed", 3) and dropped.dispatch_error
        assert cancelled.final_status == "cancelled"


def test_recording_runs_never_waits_on_a_row_another_writer_holds(database_urls: dict[str, str]) -> None:
    # Two requests recording overlapping jobs in other orders deadlocked PostgreSQL (the Jobs API answered 500):
    # a recorder now leaves a row another transaction holds to that writer, and waits on none.
    postgres_url = database_urls["postgres"]
    clean_database(postgres_url)
    with session_scope(postgres_url) as session:
        held, free = (ledger.accept(session, _job())[0].id for _ in range(2))
    with session_scope(postgres_url) as holder:
        holder.execute(select(JobRecord).where(JobRecord.id == held).with_for_update()).all()
        with session_scope(postgres_url) as recorder:
            recorder.execute(text("SET LOCAL lock_timeout = '2s'"))
            changed = ledger.record_runs(recorder, {held: {"status": "completed"}, free: {"status": "failed"}}, NOW)
    assert changed == 1
    with session_scope(postgres_url) as session:
        statuses = {r.id: r.final_status for r in session.scalars(select(JobRecord))}
    assert statuses == {held: None, free: "failed"}
