"""The rescheduling sweep against a real Prefect API, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import logging

import pytest
from chat_server import FakeChatServer, Recorded, Reply, answer
from conftest import swap_profile
from factories import utc
from prefect.artifacts import Artifact
from todo_rows import make_execution, make_todo, make_user, schedule_of

from blocks.llm import OpenAICompatibleLLM
from flows.todos import sweep_todo_rescheduling
from tasks.rescheduling import reschedule_overdue_todos

MON, TUE, WED, THU = (dt.date(2026, 11, d) for d in (23, 24, 25, 26))
LAST_THU, SUNDAY = dt.date(2026, 11, 19), dt.date(2026, 11, 22)
PARIS_MONDAY_0130 = utc(2026, 11, 23, 0, 30)


def _url(profile) -> str:  # type: ignore[no-untyped-def]
    return profile.database.url.get_secret_value()


def test_overdue_open_todos_move_to_the_quietest_working_days(profile) -> None:  # type: ignore[no-untyped-def]
    url = _url(profile)
    ada = make_user(url, "Europe/Paris")
    execution = make_execution(url, ada)
    first = make_todo(url, execution, "Send the deck to Claire", LAST_THU)
    second = make_todo(url, execution, "Ask Marc for churn figures", [(dt.date(2026, 11, 16), utc(2026, 11, 10), None),
                                                                     (LAST_THU, utc(2026, 11, 17), "moved once")])
    yesterday = make_todo(url, execution, "Book the rehearsal", SUNDAY)  # one day late: not yet
    done = make_todo(url, execution, "Update the market slide", LAST_THU, completed=True)
    deleted = make_todo(url, execution, "Call the bank", LAST_THU, deleted=True)
    for day in (MON, MON, TUE):
        make_todo(url, execution, f"Busy on {day}", day)
    honolulu = make_user(url, "Pacific/Honolulu")  # 14:30 on Sunday there: not its night
    elsewhere = make_todo(url, make_execution(url, honolulu), "Not tonight", LAST_THU)

    state = sweep_todo_rescheduling(now=PARIS_MONDAY_0130, return_state=True)
    outcomes = state.result()
    run_id = str(state.state_details.flow_run_id)
    assert {(o.todo_id, o.new_date) for o in outcomes} == {(first, WED), (second, THU)}
    assert all(o.decided_by == "extractor" and o.rejected is None for o in outcomes)  # the offline block
    [*_, (day, justification, source)] = schedule_of(url, first)
    assert (day, source) == (WED, run_id)
    assert "fewest open todos" in justification and "Thursday 19 November" in justification
    assert len(schedule_of(url, second)) == 3  # appended, never rewritten
    for untouched in (yesterday, done, deleted, elsewhere):
        assert len(schedule_of(url, untouched)) == 1
    assert "rescheduled: 2" in str(Artifact.get("todo-rescheduling").data)

    assert sweep_todo_rescheduling(now=PARIS_MONDAY_0130 + dt.timedelta(minutes=20)) == []  # nothing overdue now


def test_local_night_and_weekday_by_the_users_zone(profile, caplog) -> None:  # type: ignore[no-untyped-def]
    url = _url(profile)
    tonga, honolulu, nowhere = (make_user(url, zone) for zone in ("Pacific/Tongatapu", "Pacific/Honolulu", None))
    todos = {user: make_todo(url, make_execution(url, user), "Overdue", LAST_THU) for user in (tonga, honolulu, nowhere)}

    # Sunday 12:30 UTC is Monday 01:30 in Tonga (UTC+13): its todo moves to a day from its Monday on.
    [moved] = sweep_todo_rescheduling(now=utc(2026, 11, 22, 12, 30))
    assert (moved.todo_id, moved.new_date) == (todos[tonga], MON)
    # Friday 12:30 UTC is Saturday in Tonga: nothing, unless the sweep is told to work at weekends.
    assert sweep_todo_rescheduling(now=utc(2026, 11, 27, 12, 30)) == []
    [moved] = sweep_todo_rescheduling(now=utc(2026, 11, 27, 12, 30), weekdays_only=False)
    assert moved.todo_id == todos[tonga] and moved.new_date > MON and moved.new_date.weekday() < 5
    # Monday 11:30 UTC is Monday 01:30 in Honolulu (UTC-10).
    [moved] = sweep_todo_rescheduling(now=utc(2026, 11, 23, 11, 30))
    assert moved.todo_id == todos[honolulu]
    # A user without a zone is treated as UTC (01:30 UTC), and the log says so.
    caplog.set_level(logging.WARNING, logger="nightshift")
    [moved] = reschedule_overdue_todos.fn([nowhere], utc(2026, 11, 23, 1, 30))
    assert (moved.todo_id, moved.new_date) == (todos[nowhere], MON)
    assert f"user {nowhere} has no timezone: treating it as UTC" in caplog.text
    assert [o.todo_id for o in sweep_todo_rescheduling(now=utc(2026, 11, 23, 1, 30))] == []  # already moved


def test_the_users_chunks_are_tasks_not_runs(profile) -> None:  # type: ignore[no-untyped-def]
    url = _url(profile)
    users = [make_user(url, "Europe/Paris") for _ in range(5)]
    for user in users:
        make_todo(url, make_execution(url, user), "Overdue", LAST_THU)
    outcomes = sweep_todo_rescheduling(now=PARIS_MONDAY_0130, chunk_size=2)
    assert sorted(o.user_id for o in outcomes) == sorted(users)
    assert {o.new_date for o in outcomes} == {MON}


@pytest.fixture
def llm_profile(profile, chat_server: FakeChatServer, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    llm = OpenAICompatibleLLM(base_url=chat_server.base_url, model="test-model", retry_backoff_seconds=0.01,
                              max_attempts=1, max_json_retries=0, timeout_seconds=5)
    return swap_profile(profile, monkeypatch, "resched-llm", llm=llm)


@pytest.mark.parametrize("profile", ["sqlite"], indirect=True)  # swaps a block: one backend is enough
def test_past_and_weekend_proposals_are_replaced_by_the_rule(llm_profile, chat_server) -> None:  # type: ignore[no-untyped-def]
    url = _url(llm_profile)
    ada = make_user(url, "Europe/Paris", language_code="fr")
    execution = make_execution(url, ada)
    past = make_todo(url, execution, "PAST relancer Claire", LAST_THU)
    weekend = make_todo(url, execution, "WEEKEND préparer la démo", LAST_THU)
    good = make_todo(url, execution, "GOOD envoyer le deck", LAST_THU)
    broken = make_todo(url, execution, "BROKEN appeler la banque", LAST_THU)
    proposals = {"PAST": {"reschedule_date": "2026-11-20", "justification": "hier"},
                 "WEEKEND": {"reschedule_date": "2026-11-28", "justification": "samedi"},
                 "GOOD": {"reschedule_date": "2026-11-26", "justification": "Jeudi est calme."}}

    def respond(request: Recorded) -> Reply:
        body = json.dumps(request.body, ensure_ascii=False)
        for marker, proposal in proposals.items():
            if f"{marker} " in body:
                return answer(proposal)
        return Reply(status=400, body={"error": {"message": "bad request"}})

    chat_server.responder = respond
    outcomes = {o.todo_id: o for o in sweep_todo_rescheduling(now=PARIS_MONDAY_0130)}
    assert (outcomes[good].new_date, outcomes[good].decided_by, outcomes[good].justification) == (
        THU, "extractor", "Jeudi est calme.")
    for todo, why in ((past, "in the past"), (weekend, "on a weekend"), (broken, "the extractor failed")):
        assert outcomes[todo].decided_by == "rule" and why in outcomes[todo].rejected
        assert outcomes[todo].new_date >= MON and outcomes[todo].new_date.weekday() < 5
        assert "jour ouvré le moins chargé" in schedule_of(url, todo)[-1][1]  # the rule speaks French
    prompt = chat_server.requests[0].body["messages"]
    assert '"times_scheduled": 1' in prompt[1]["content"] and "2026-11-23" in prompt[0]["content"]
