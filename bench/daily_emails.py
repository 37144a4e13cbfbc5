"""Benchmark: the daily todo emails of 10,000 users (goal: <= 60 s, Prefect overhead <= 10 %).

    .venv/bin/python bench/daily_emails.py [--users 10000] [--chunk-size 500]

A fresh SQLite database in a temporary folder gets N users in UTC+1 zones, each with todos on two
Mondays-to-Tuesdays and one todo moved the evening before. The offline writer composes, an SMTP server
(aiosmtpd) on loopback receives. The same work runs twice in this process, on two local days so that
neither run finds the other's emails already sent:

* baseline: the tasks' plain functions (select, then chunks over a thread pool of the flow's size),
* Prefect: the send-daily-todo-emails flow against a Prefect API (a temporary test server).

Prefect's share is (flow wall time - baseline wall time) / flow wall time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import os
import socket
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ZONES = ["Europe/Paris", "Europe/Berlin", "Europe/Madrid", "Africa/Lagos"]  # all UTC+1 in November
MONDAY, TUESDAY = dt.date(2026, 11, 23), dt.date(2026, 11, 24)
AT_0830 = {MONDAY: dt.datetime(2026, 11, 23, 7, 30, tzinfo=dt.UTC),
           TUESDAY: dt.datetime(2026, 11, 24, 7, 30, tzinfo=dt.UTC)}
WORKERS = 4  # the flow's ThreadPoolTaskRunner(max_workers=4)


class CountingSink:
    """aiosmtpd handler that counts accepted messages in a counter shared with the benchmark."""

    def __init__(self, counter) -> None:  # type: ignore[no-untyped-def]
        self.counter = counter

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        with self.counter.get_lock():
            self.counter.value += 1
        return "250 OK"


def serve_sink(port: int, counter, ready, stop) -> None:  # type: ignore[no-untyped-def]
    """The SMTP sink, in a process of its own so that it does not compete for this one's GIL."""
    from aiosmtpd.controller import Controller

    controller = Controller(CountingSink(counter), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    stop.wait()
    controller.stop()


def seed(url: str, users: int) -> None:
    """Bulk-insert users, one execution each, todos on Monday and Tuesday and one moved todo each."""
    from store.db import get_engine, migrate
    from store.models import Task, TaskExecution, Todo, TodoScheduling, User

    migrate(url)
    created = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    moved_at = dt.datetime(2026, 11, 22, 20, 0, tzinfo=dt.UTC)
    with get_engine(url).begin() as conn:
        conn.execute(Task.__table__.insert(), [{"id": 1, "name": "Pitch deck review", "definition": "Review"}])
        conn.execute(User.__table__.insert(), [
            {"id": i, "name": f"User {i}", "email": f"user{i}@example.com", "language_code": "fr" if i % 3 else "en",
             "timezone": ZONES[i % len(ZONES)], "todo_email_opt_in": True} for i in range(1, users + 1)])
        conn.execute(TaskExecution.__table__.insert(), [
            {"id": i, "user_id": i, "task_id": 1, "title": f"Deck review #{i}", "created_at": created,
             "ended_at": created} for i in range(1, users + 1)])
        todos, schedules = [], []
        for i in range(1, users + 1):
            for n, (day, moved) in enumerate([(MONDAY, False), (MONDAY, True), (TUESDAY, False), (TUESDAY, True)]):
                todo_id = (i - 1) * 4 + n + 1
                todos.append({"id": todo_id, "task_execution_id": i, "user_id": i, "description": f"Todo {n} of {i}",
                              "dedup_key": f"k{n}", "created_at": created})
                schedules.append({"todo_id": todo_id, "scheduled_for": day - dt.timedelta(days=4),
                                  "created_at": created, "justification": None} if moved else
                                 {"todo_id": todo_id, "scheduled_for": day, "created_at": created, "justification": None})
                if moved:
                    schedules.append({"todo_id": todo_id, "scheduled_for": day, "created_at": moved_at + (day - MONDAY),
                                      "justification": "The quietest working day."})
        conn.execute(Todo.__table__.insert(), todos)
        conn.execute(TodoScheduling.__table__.insert(), schedules)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def baseline(now: dt.datetime, chunk_size: int) -> list:
    """The flow's work as plain function calls: select, then the chunks over the same thread pool size."""
    from tasks.emails.steps import send_daily_emails
    from tasks.sweeps import select_users_for_sweep

    ids = select_users_for_sweep.fn(now, window_start_hour=8, opted_in_only=True)
    chunks = [ids[i : i + chunk_size] for i in range(0, len(ids), chunk_size)]
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return [o for outcomes in pool.map(lambda chunk: send_daily_emails.fn(chunk, now), chunks) for o in outcomes]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--chunk-size", type=int, default=500)
    args = parser.parse_args()

    from prefect.testing.utilities import prefect_test_harness

    with tempfile.TemporaryDirectory(prefix="nightshift-bench-") as tmp:
        url = f"sqlite:///{tmp}/nightshift.db"
        started = time.perf_counter()
        seed(url, args.users)
        print(f"seeded {args.users} users, {args.users * 4} todos in {time.perf_counter() - started:.1f} s")
        spawn = multiprocessing.get_context("spawn")
        counter, ready, stop, port = spawn.Value("i", 0), spawn.Event(), spawn.Event(), free_port()
        sink = spawn.Process(target=serve_sink, args=(port, counter, ready, stop), daemon=True)
        sink.start()
        try:
            if not ready.wait(60):
                raise RuntimeError("the SMTP sink did not start within 60 s")
            with prefect_test_harness(server_startup_timeout=120):
                return run(url, Path(tmp), port, counter, args)
        finally:
            stop.set()
            sink.join(10)


def run(url: str, home: Path, smtp_port: int, sent, args: argparse.Namespace) -> int:  # type: ignore[no-untyped-def]
    from blocks.mailer import SmtpMailer
    from blocks.profile import clear_profile_cache, embedded_profile
    from deployments.operations.bootstrap import register_block_types, save_profile
    from flows.emails import send_daily_todo_emails

    register_block_types()
    mailer = SmtpMailer(host="127.0.0.1", port=smtp_port, security="none", from_address="bot@example.com")
    save_profile(embedded_profile(home, url).model_copy(update={"mailer": mailer}), "bench", overwrite=True)
    os.environ["NIGHTSHIFT_PROFILE"] = "bench"
    clear_profile_cache()
    send_daily_todo_emails(now=AT_0830[MONDAY] - dt.timedelta(days=1))  # warm-up: a Sunday, nobody to mail

    started = time.perf_counter()
    plain = baseline(AT_0830[MONDAY], args.chunk_size)
    plain_seconds, plain_sent = time.perf_counter() - started, sent.value

    started = time.perf_counter()
    flowed = send_daily_todo_emails(now=AT_0830[TUESDAY], chunk_size=args.chunk_size)
    flow_seconds, flow_sent = time.perf_counter() - started, sent.value - plain_sent

    for name, outcomes, sent in (("baseline", plain, plain_sent), ("prefect", flowed, flow_sent)):
        statuses = {o.status for o in outcomes}
        if statuses != {"sent"} or sent != args.users:
            print(f"{name}: expected {args.users} sent emails, got {sent} (statuses {statuses})")
            return 1
    share = (flow_seconds - plain_seconds) / flow_seconds
    print(f"users: {args.users}, chunk size {args.chunk_size}, {WORKERS} chunks at a time, offline writer, SMTP sink")
    print(f"baseline (plain functions): {plain_seconds:6.1f} s  {plain_sent / plain_seconds:7.1f} emails/s")
    print(f"prefect flow:               {flow_seconds:6.1f} s  {flow_sent / flow_seconds:7.1f} emails/s")
    print(f"prefect share of the wall time: {share:.1%} (goal <= 10 %); flow wall time goal <= 60 s: "
          f"{'met' if flow_seconds <= 60 else 'missed'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
