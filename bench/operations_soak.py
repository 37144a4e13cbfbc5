"""A day in the life of the embedded default, compressed: does it run on its own?

Starts the embedded default as `make demo` does (deployments/demo/local.sh: Prefect server on SQLite,
worker, Jobs API with its dispatcher and schedule watchdog, automations) with the real prefect.yaml,
its schedules compressed to short intervals (printed), and keeps the sweeps busy: new finished task
executions to extract, users in their e-mail hour and in their rescheduling hour with overdue todos.
Every few minutes a job fails on purpose (an execution that does not exist). At the end it prints:
scheduled runs expected / created / completed on time (lateness p50 and max), tracebacks in the
server, worker and API logs, operator mails per failed run, automation actions on finished runs,
stall alerts, and "database is locked" errors.

    .venv/bin/python bench/operations_soak.py --minutes 30
    .venv/bin/python bench/operations_soak.py --minutes 5 --json report.json   (the test suite's version)

Goals: every expected run on time (<= 30 s late), 0 tracebacks, exactly 1 operator mail per failed
run, 0 automation actions on finished runs, 0 "database is locked". Exit status 1 when one is missed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import email
import email.policy
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, available_timezones

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from local_stack import LocalStack

# Real schedule -> compressed interval (seconds). Only cron schedules of prefect.yaml appear here.
COMPRESSED = {"*/10 * * * *": 60, "0 * * * *": 120, "0 2 * * *": 300, "0 4 * * *": 300}
ON_TIME_SECONDS = 30
GRACE_SECONDS = 45  # runs expected in the last seconds of the soak are not judged yet
MISSING_EXECUTION = 10_000_000  # extract_todos for this execution fails: "does not exist"
FAIL_EVERY_SECONDS = 90
FEED_EVERY_SECONDS = 30
NOTIFY_AUTOMATION = "nightshift-notify-failed-runs"  # acts on finished (failed) runs by design
WATCHDOG_CRASH = ("No heartbeat", "Pending, never started")  # messages of the watchdog's Crashed states


def compressed_prefect_yaml(folder: Path, windows: dict[str, SweepWindow]) -> tuple[Path, dict[str, int]]:
    """prefect.yaml with each cron schedule replaced by its compressed interval; name -> seconds.

    The hourly sweeps serve users in a local window (01:00 for rescheduling, 08:00 for the mail) on
    weekdays; `windows` moves each to a local hour that some time zone is in for the whole soak."""
    config = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    intervals = {}
    for deployment in config["deployments"]:
        for schedule in deployment.get("schedules") or []:
            seconds = COMPRESSED[schedule.pop("cron")]
            schedule.pop("timezone", None)
            schedule["interval"] = seconds
            intervals[deployment["name"]] = seconds
        if deployment["name"] == "sweep-todo-extraction":
            deployment["parameters"]["quiet_minutes"] = 0  # the soak's executions are finished already
        if deployment["name"] in windows:
            window = windows[deployment["name"]]
            deployment["parameters"] |= {"window_start_hour": window.start_hour, "window_hours": window.hours,
                                         "weekdays_only": window.weekdays_only}
    path = folder / "prefect.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path, intervals


@dataclass(frozen=True, order=True)
class SweepWindow:
    zone: str
    start_hour: int
    hours: int
    weekdays_only: bool = True


def sweep_window(hour: int, start: dt.datetime, end: dt.datetime, taken: frozenset[int] = frozenset()) -> SweepWindow:
    """A zone in which [start, end] falls on one weekday, preferring local `hour` at `start` (the real
    window) and the fewest hours; its UTC offset is not one of `taken`, so the sweeps' users stay apart.
    From Saturday 12:00 to Sunday 10:00 UTC no zone is on a weekday: the window then takes weekends."""
    found = []
    for name in sorted(available_timezones()):
        zone = ZoneInfo(name)
        first, last = start.astimezone(zone), end.astimezone(zone)
        offset = int(first.utcoffset().total_seconds())  # type: ignore[union-attr]
        if "/" not in name or name.startswith("Etc/") or offset in taken:
            continue
        if first.date() == last.date():
            window = SweepWindow(name, first.hour, last.hour - first.hour + 1, weekdays_only=first.weekday() < 5)
            found.append((not window.weekdays_only, first.hour != hour, window.hours, window))
    return min(found)[-1]


def utc_offset(zone: str, at: dt.datetime) -> int:
    return int(at.astimezone(ZoneInfo(zone)).utcoffset().total_seconds())  # type: ignore[union-attr]


class Feeder:
    """Writes the rows that keep the sweeps busy, straight into the embedded default's database."""

    def __init__(self, home: Path) -> None:
        self.url = f"sqlite:///{home / 'nightshift.db'}"
        self.executions = 0

    def users_and_todos(self, now: dt.datetime, mail_zone: str, reschedule_zone: str) -> None:
        import todo_rows

        today = now.astimezone(ZoneInfo(mail_zone)).date()
        for i in range(20):
            user = todo_rows.make_user(self.url, mail_zone)
            execution = todo_rows.make_execution(self.url, user)
            todo_rows.make_todo(self.url, execution, f"Send the revised deck to investor {i}", today)
        # Overdue: more than one day in the past (yesterday's todos wait one more day).
        overdue = now.astimezone(ZoneInfo(reschedule_zone)).date() - dt.timedelta(days=3)
        for i in range(20):
            user = todo_rows.make_user(self.url, reschedule_zone)
            execution = todo_rows.make_execution(self.url, user)
            todo_rows.make_todo(self.url, execution, f"Call supplier {i} about the delivery", overdue)

    def publications(self, limit: int = 60) -> int:
        """A small real corpus for the nightly recommender build (sections of ../shared/data/html)."""
        from deployments.demo.corpus import load_publications, publications_from

        pages = sorted((ROOT.parent / "shared" / "data" / "html").glob("*.html"))
        return len(load_publications(self.url, publications_from(pages)[:limit]))

    def work_done(self) -> dict[str, int]:
        """What the sweeps did with the rows fed: executions extracted, daily e-mails, todos moved."""
        import sqlalchemy as sa

        engine = sa.create_engine(self.url)
        with engine.connect() as conn:
            one = lambda sql: int(conn.execute(sa.text(sql)).scalar() or 0)  # noqa: E731
            done = {"executions extracted": one("SELECT count(*) FROM task_execution WHERE todos_extracted_at IS NOT NULL"),
                    "todos": one("SELECT count(*) FROM todo"),
                    "daily e-mails sent": one("SELECT count(*) FROM event WHERE kind = 'todo_daily_email'"),
                    "todos rescheduled": one("SELECT count(*) FROM todo_scheduling WHERE justification IS NOT NULL"),
                    "recommender versions": one("SELECT count(*) FROM recommender_version")}
        engine.dispose()
        return done

    def finished_executions(self, count: int) -> None:
        import factories

        old = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=30)
        for _ in range(count):
            factories.make_execution(self.url, produced_at=old)
            self.executions += 1


def flow_runs(api: str, since: dt.datetime) -> list[dict]:
    runs, offset = [], 0
    while True:
        page = httpx.post(f"{api}/flow_runs/filter", timeout=60, json={
            "flow_runs": {"expected_start_time": {"after_": since.isoformat()}},
            "sort": "EXPECTED_START_TIME_ASC", "limit": 200, "offset": offset}).json()
        runs += page
        if len(page) < 200:
            return runs
        offset += 200


def deployments_by_id(api: str) -> dict[str, dict]:
    return {d["id"]: d for d in httpx.post(f"{api}/deployments/filter", json={}, timeout=60).json()}


def expected_starts(deployment: dict, start: dt.datetime, end: dt.datetime) -> int:
    """How many starts of the deployment's interval schedule fall in [start, end]."""
    [schedule] = [s["schedule"] for s in deployment["schedules"]]
    anchor = dt.datetime.fromisoformat(schedule["anchor_date"])
    step = dt.timedelta(seconds=schedule["interval"])
    first = max(0, -(-(start - anchor) // step))
    last = (end - anchor) // step
    return max(0, last - first + 1)


def automation_actions(api: str, since: dt.datetime) -> list[dict]:
    """Events of actions (triggered, executed, failed) of automations other than the notifier since `since`."""
    automations = {a["id"]: a["name"] for a in httpx.post(f"{api}/automations/filter", json={}, timeout=60).json()}
    page = httpx.post(f"{api}/events/filter", timeout=60, json={"limit": 50, "filter": {
        "occurred": {"since": since.isoformat()}, "event": {"prefix": ["prefect.automation.action."]}}}).json()
    events = list(page["events"])
    while page.get("next_page"):
        page = httpx.get(page["next_page"], timeout=60).json()
        events += page["events"]
    return [event for event in events if automations.get(
        event["resource"]["prefect.resource.id"].removeprefix("prefect.automation.")) != NOTIFY_AUTOMATION]


def crashed_after_finishing(api: str, runs: list[dict]) -> tuple[int, list[str]]:
    """Runs the watchdog crashed, and those of them that had reached a final state before."""
    crashed = [r for r in runs if r["state_type"] == "CRASHED"
               and (r.get("state") or {}).get("message", "").startswith(WATCHDOG_CRASH)]
    finished_first = []
    for run in crashed:
        states = httpx.get(f"{api}/flow_run_states/", params={"flow_run_id": run["id"]}, timeout=60).json()
        kinds = [s["type"] for s in sorted(states, key=lambda s: s["timestamp"])]
        if any(k in ("COMPLETED", "FAILED", "CANCELLED") for k in kinds[:-1]):
            finished_first.append(run["id"])
    return len(crashed), finished_first


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else (values[0] if values else 0.0)


def soak(minutes: float, workdir: Path) -> dict:
    home = workdir / "home"
    now = dt.datetime.now(dt.UTC)
    soak_end = now + dt.timedelta(minutes=minutes + 5)  # start-up and grace included
    mail = sweep_window(8, now, soak_end)
    reschedule = sweep_window(1, now, soak_end, frozenset({utc_offset(mail.zone, now)}))
    windows = {"send-daily-todo-emails": mail, "sweep-todo-rescheduling": reschedule}
    prefect_yaml, intervals = compressed_prefect_yaml(workdir, windows)
    stack = LocalStack(home, prefect_yaml=prefect_yaml, extra_env={
        "NIGHTSHIFT_WATCHDOG_SECONDS": "15", "NIGHTSHIFT_OPERATOR_EMAIL": "operators@soak.example"})
    print("schedules compressed for the soak:")
    for name, seconds in intervals.items():
        print(f"  {name:<24} every {seconds} s")
    for name, window in windows.items():
        days = "weekdays" if window.weekdays_only else "every day (no zone is on a weekday now)"
        print(f"  {name:<24} users in {window.zone}, local window {window.start_hour:02d}:00 for {window.hours} h,"
              f" {days}")
    t0 = time.monotonic()
    stack.local("start")
    print(f"embedded default started in {time.monotonic() - t0:.0f} s (server {stack.api_url}, Jobs API {stack.jobs_api})")
    token = stack.local("token").stdout.strip()
    started = dt.datetime.now(dt.UTC)
    feeder = Feeder(home)
    feeder.users_and_todos(started, mail.zone, reschedule.zone)
    feeder.publications()
    jobs = httpx.Client(base_url=stack.jobs_api, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    failing_jobs = 0
    try:
        deadline = time.monotonic() + minutes * 60
        next_feed = next_fail = time.monotonic()
        while time.monotonic() < deadline:
            if time.monotonic() >= next_feed:
                feeder.finished_executions(5)
                next_feed += FEED_EVERY_SECONDS
            if time.monotonic() >= next_fail:
                jobs.post("/jobs", json={"type": "extract_todos",
                                         "params": {"task_execution_id": MISSING_EXECUTION + failing_jobs}}
                          ).raise_for_status()
                failing_jobs += 1
                next_fail += FAIL_EVERY_SECONDS
            time.sleep(1)
        ended = dt.datetime.now(dt.UTC)
        time.sleep(GRACE_SECONDS)  # let the last failures be mailed and the runs due before `ended` finish
        report = measure(stack, intervals, started, ended)
    finally:
        jobs.close()
        stack.stop()
    found = stack.tracebacks()
    # The jobs that fail on purpose log their error with its traceback in the worker's log, as any
    # failed run does: counted apart. Every other traceback is a defect.
    on_purpose = {name: [e for e in errors if "does not exist" in e and str(MISSING_EXECUTION)[:4] in e]
                  for name, errors in found.items()}
    report["logs"] = {name: len(errors) - len(on_purpose[name]) for name, errors in found.items()}
    report["tracebacks_of_failing_jobs"] = sum(len(e) for e in on_purpose.values())
    report["traceback_samples"] = sorted({e for name, errors in found.items() for e in errors
                                          if e not in on_purpose[name]})[:10]
    report["database_is_locked"] = sum(stack.count("database is locked").values())
    report |= {"minutes": minutes, "failing_jobs_posted": failing_jobs, "executions_fed": feeder.executions,
               "work_done": feeder.work_done()}
    return report


def measure(stack: LocalStack, intervals: dict[str, int], started: dt.datetime, ended: dt.datetime) -> dict:
    api = stack.api_url
    deployments = deployments_by_id(api)
    names = {i: d["name"] for i, d in deployments.items()}
    by_name = {d["name"]: d for d in deployments.values()}
    runs = flow_runs(api, started - dt.timedelta(minutes=5))
    schedules: dict[str, dict] = {}
    judged_until = ended - dt.timedelta(seconds=GRACE_SECONDS)
    for name, seconds in intervals.items():
        if name.endswith("-gpu"):
            schedules[name] = {"note": "pool gpu has no worker in the embedded default: not expected"}
            continue
        scheduled = [r for r in runs if names.get(r["deployment_id"]) == name and r["auto_scheduled"]
                     and started.isoformat() <= r["expected_start_time"] <= judged_until.isoformat()]
        lateness = [(dt.datetime.fromisoformat(r["start_time"]) - dt.datetime.fromisoformat(r["expected_start_time"]))
                    .total_seconds() for r in scheduled if r["state_type"] == "COMPLETED" and r["start_time"]]
        expected = expected_starts(by_name[name], started, judged_until)
        schedules[name] = {"interval_s": seconds, "expected": expected, "created": len(scheduled),
                           "completed": len(lateness),
                           "on_time": sum(late <= ON_TIME_SECONDS for late in lateness),
                           "late_p50_s": round(statistics.median(lateness), 1) if lateness else None,
                           "late_max_s": round(max(lateness), 1) if lateness else None,
                           "states": dict(Counter(r["state_type"] for r in scheduled))}
    failed = {r["id"]: r["name"] for r in runs if r["state_type"] in ("FAILED", "CRASHED")
              and r.get("end_time") and r["end_time"] <= ended.isoformat()}
    mails = [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
             for p in (stack.home / "outbox").glob("*.eml")]
    per_run = Counter()
    stall_alerts = []
    for mail in mails:
        subject = str(mail["Subject"])
        if not subject.startswith("[nightshift] "):  # users' daily e-mails
            continue
        if subject.startswith("[nightshift] Schedule stalled"):
            stall_alerts.append(subject)
            continue
        body = mail.get_body(preferencelist=("plain",)).get_content()
        for run_id in failed:
            if run_id in body:
                per_run[run_id] += 1
    by_finish = {r["id"]: r.get("end_time") for r in runs}
    actions = automation_actions(api, started - dt.timedelta(minutes=5))
    watchdog_crashed, crashed_finished = crashed_after_finishing(api, runs)
    on_finished = []
    for event in actions:
        targets = [r["prefect.resource.id"].removeprefix("prefect.flow-run.") for r in event.get("related", [])
                   if r["prefect.resource.id"].startswith("prefect.flow-run.")]
        for run_id in targets:
            end = by_finish.get(run_id)
            if end and end <= event["occurred"]:
                on_finished.append({"event": event["event"], "run": run_id})
    return {"schedules": schedules, "failed_runs": len(failed),
            "operator_mails_per_failed_run": dict(Counter(per_run[r] for r in failed)),
            "failed_runs_detail": {failed[r]: per_run[r] for r in failed},
            "stall_alerts": stall_alerts,
            "watchdog_crashed_runs": watchdog_crashed,
            "automation_actions": len(actions), "actions_on_finished_runs": len(on_finished) + len(crashed_finished),
            "actions_on_finished_runs_detail": on_finished[:10] + crashed_finished[:10]}


def verdict(report: dict) -> list[str]:
    """The goals the report misses (empty: all met)."""
    missed = []
    for name, row in report["schedules"].items():
        if "expected" not in row:
            continue
        if row["created"] < row["expected"] or row["on_time"] < row["expected"]:
            missed.append(f"{name}: {row['on_time']} of {row['expected']} expected runs on time")
    if any(report["logs"].values()):
        missed.append(f"tracebacks in logs: {report['logs']}")
    if report["failed_runs"] < 1 or set(report["operator_mails_per_failed_run"]) != {1}:
        missed.append(f"operator mails per failed run: {report['operator_mails_per_failed_run']}")
    if report["actions_on_finished_runs"]:
        missed.append(f"automation actions on finished runs: {report['actions_on_finished_runs']}")
    if report["database_is_locked"]:
        missed.append(f"'database is locked': {report['database_is_locked']}")
    if report["stall_alerts"]:
        missed.append(f"schedule stall alerts: {report['stall_alerts']}")
    return missed


def print_report(report: dict) -> None:
    print(f"\nsoak of {report['minutes']} min; {report['executions_fed']} executions fed, "
          f"{report['failing_jobs_posted']} failing jobs posted")
    print("what the sweeps did: " + ", ".join(f"{k} {v}" for k, v in report["work_done"].items()))
    print(f"{'deployment':<26}{'every':>7}{'expected':>10}{'created':>9}{'done':>6}{'on time':>9}"
          f"{'late p50':>10}{'late max':>10}")
    for name, row in report["schedules"].items():
        if "expected" not in row:
            print(f"{name:<26}  {row['note']}")
            continue
        print(f"{name:<26}{row['interval_s']:>6}s{row['expected']:>10}{row['created']:>9}{row['completed']:>6}"
              f"{row['on_time']:>9}{row['late_p50_s'] or 0:>9}s{row['late_max_s'] or 0:>9}s")
    print(f"tracebacks: {report['logs']} (and {report['tracebacks_of_failing_jobs']} of the jobs failing on purpose)")
    for sample in report["traceback_samples"]:
        print(f"  {sample}")
    print(f"failed runs: {report['failed_runs']}; operator mails per failed run: "
          f"{report['operator_mails_per_failed_run']} (mails -> runs)")
    print(f"automation actions (other than the failure mail): {report['automation_actions']}; runs crashed by "
          f"the watchdog: {report['watchdog_crashed_runs']}; actions on finished runs: {report['actions_on_finished_runs']}")
    print(f"schedule stall alerts: {len(report['stall_alerts'])}")
    print(f"'database is locked': {report['database_is_locked']}")
    missed = verdict(report)
    print("goals: " + ("all met" if not missed else "MISSED: " + "; ".join(missed)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--json", type=Path, help="also write the report here")
    parser.add_argument("--workdir", type=Path, help="keep the stack's folder here (default: a temporary one)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="nightshift-soak-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        report = soak(args.minutes, workdir)
    print_report(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))
    return 1 if verdict(report) else 0


if __name__ == "__main__":
    sys.exit(main())
