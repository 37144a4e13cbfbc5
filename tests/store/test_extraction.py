"""Work selection and idempotent writes, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading

from factories import add_version, make_execution
from sqlalchemy import func, select

from store import extraction
from store.db import session_scope
from store.models import ProducedTextVersion, TaskExecution, Todo, TodoScheduling

QUIET = dt.timedelta(minutes=10)


def _due(url: str) -> list[int]:
    with session_scope(url) as session:
        return extraction.executions_due_for_extraction(session, dt.datetime.now(dt.UTC), QUIET, 100)


def test_selects_quiet_unextracted_executions_only(db_url: str) -> None:
    now = dt.datetime.now(dt.UTC)
    quiet = make_execution(db_url, produced_at=now - dt.timedelta(minutes=30))
    recent = make_execution(db_url, produced_at=now - dt.timedelta(minutes=2))
    no_text = make_execution(db_url, with_produced_text=False)
    assert _due(db_url) == [quiet]
    assert recent not in _due(db_url) and no_text not in _due(db_url)


def test_extracted_version_is_not_selected_again_but_a_newer_one_is(db_url: str) -> None:
    now = dt.datetime.now(dt.UTC)
    execution = make_execution(db_url, produced_at=now - dt.timedelta(minutes=30))
    with session_scope(db_url) as session:
        version = extraction.latest_version_id(session, execution)
        assert extraction.claim_extraction(session, execution, version, now)
    assert _due(db_url) == []
    newer = add_version(db_url, execution, "v2", created_at=now - dt.timedelta(minutes=20))
    assert _due(db_url) == [execution]
    with session_scope(db_url) as session:
        assert extraction.latest_version_id(session, execution) == newer


def test_latest_version_is_by_created_at_not_id(db_url: str) -> None:
    now = dt.datetime.now(dt.UTC)
    execution = make_execution(db_url, produced_at=now - dt.timedelta(minutes=15))
    add_version(db_url, execution, "backfilled older", created_at=now - dt.timedelta(days=2))
    with session_scope(db_url) as session:
        latest = session.get(ProducedTextVersion, extraction.latest_version_id(session, execution))
        assert latest is not None and latest.body != "backfilled older"
    assert _due(db_url) == [execution]  # the newest version (15 min old) counts, not the backfilled one


def test_claim_succeeds_once_per_version(db_url: str) -> None:
    execution = make_execution(db_url)
    now = dt.datetime.now(dt.UTC)
    with session_scope(db_url) as session:
        version = extraction.latest_version_id(session, execution)
    with session_scope(db_url) as session:
        assert extraction.claim_extraction(session, execution, version, now) is True
    with session_scope(db_url) as session:
        assert extraction.claim_extraction(session, execution, version, now) is False


def test_claim_race_has_one_winner(db_url: str) -> None:
    execution = make_execution(db_url)
    with session_scope(db_url) as session:
        version = extraction.latest_version_id(session, execution)
    results: list[bool] = []
    barrier = threading.Barrier(4)

    def claim() -> None:
        barrier.wait()
        with session_scope(db_url) as session:
            results.append(extraction.claim_extraction(session, execution, version, dt.datetime.now(dt.UTC)))

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False, False, False, True]


def test_insert_todos_skips_existing_dedup_keys(db_url: str) -> None:
    execution = make_execution(db_url)
    now = dt.datetime.now(dt.UTC)
    with session_scope(db_url) as session:
        user_id = session.get(TaskExecution, execution).user_id

    def rows(*keys: str) -> list[dict]:
        return [{"task_execution_id": execution, "user_id": user_id, "description": k, "dedup_key": k,
                 "created_at": now, "source_run_id": "run-1"} for k in keys]

    with session_scope(db_url) as session:
        first = extraction.insert_todos(session, rows("a", "b"), [dt.date(2026, 11, 27)] * 2, "run-1")
    with session_scope(db_url) as session:
        second = extraction.insert_todos(session, rows("b", "c"), [dt.date(2026, 11, 30)] * 2, "run-2")
    assert set(first) == {"a", "b"} and set(second) == {"c"}
    with session_scope(db_url) as session:
        assert session.scalar(select(func.count()).select_from(Todo)) == 3
        assert session.scalar(select(func.count()).select_from(TodoScheduling)) == 3


def test_execution_chain_follows_predecessors_and_stops_on_cycles(db_url: str) -> None:
    first = make_execution(db_url)
    second = make_execution(db_url, previous_execution_id=first)
    third = make_execution(db_url, previous_execution_id=second)
    with session_scope(db_url) as session:
        assert extraction.execution_chain(session, third) == [third, second, first]
        session.get(TaskExecution, first).previous_execution_id = third
    with session_scope(db_url) as session:
        assert extraction.execution_chain(session, third) == [third, second, first]
