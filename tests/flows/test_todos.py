"""Todo extraction flows against a real Prefect API, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest
from chat_server import FakeChatServer, Recorded, Reply, answer
from conftest import swap_profile
from factories import add_version, make_execution
from prefect.artifacts import Artifact
from sqlalchemy import func, select

from blocks.llm import OpenAICompatibleLLM
from flows.todos import ExtractionFailed, extract_todos, sweep_todo_extraction
from store.models import TaskExecution, Todo, TodoScheduling
from tasks.todos import extract_one


def _todos(profile) -> list[tuple[str, dt.date, str | None]]:  # type: ignore[no-untyped-def]
    with profile.database.session() as session:
        rows = session.execute(
            select(Todo.description, TodoScheduling.scheduled_for, Todo.source_run_id)
            .join(TodoScheduling, TodoScheduling.todo_id == Todo.id)
            .order_by(Todo.id)
        ).all()
    return [tuple(r) for r in rows]


def _artifact(key: str) -> str:
    """The latest artifact with that key, read back from the Prefect API."""
    artifact = Artifact.get(key)
    assert artifact is not None, f"no artifact {key!r}"
    return str(artifact.data)


def test_extract_todos_saves_the_next_steps_with_dates_and_run_id(profile) -> None:  # type: ignore[no-untyped-def]
    execution = make_execution(profile.database.url.get_secret_value())
    state = extract_todos(execution, return_state=True)
    outcome = state.result()
    assert outcome.status == "extracted"
    todos = _todos(profile)
    descriptions = [d for d, _, _ in todos]
    assert any(d.startswith("Publish the job ad on LinkedIn") for d in descriptions), descriptions
    assert any(d.startswith("Call three candidates") for d in descriptions), descriptions
    today = dt.datetime.now(dt.UTC).date()
    for _description, due, run_id in todos:
        assert due >= today - dt.timedelta(days=1)
        assert run_id == str(state.state_details.flow_run_id)
    by_description = {d: due for d, due, _ in todos}
    assert by_description[next(d for d in descriptions if d.startswith("Publish"))].weekday() == 4  # by Friday
    assert by_description[next(d for d in descriptions if d.startswith("Call"))].weekday() == 1  # next Tuesday
    report = _artifact(f"todos-execution-{execution}")
    assert "Publish the job ad on LinkedIn" in report and "todos saved: 2" in report
    # The operator reads which extractor ran and, for the offline rules, what they cannot find.
    assert "- extractor: offline rules" in report and "Steps said otherwise" in report


def test_rerun_and_forced_rerun_add_no_todo(profile) -> None:  # type: ignore[no-untyped-def]
    execution = make_execution(profile.database.url.get_secret_value())
    first = extract_todos(execution)
    again = extract_todos(execution)
    forced = extract_todos(execution, force=True)
    assert first.status == "extracted" and len(first.saved) == 2
    assert again.status == "already-extracted" and again.saved == []
    # Forced: the extractor sees the known todos and the dedup key stops any repeat it still gives.
    assert forced.status == "extracted" and forced.saved == []
    assert len(_todos(profile)) == 2


def test_new_version_extracts_only_new_todos(profile) -> None:  # type: ignore[no-untyped-def]
    url = profile.database.url.get_secret_value()
    execution = make_execution(url)
    extract_todos(execution)
    add_version(url, execution, "Plan v2. Remember to prepare the interview scorecard by Thursday.")
    second = extract_todos(execution)
    assert second.status == "extracted"
    assert [t.description for t in second.saved] == ["Prepare the interview scorecard"]
    assert len(_todos(profile)) == 3


def test_concurrent_extractions_of_one_execution_do_not_duplicate(profile) -> None:  # type: ignore[no-untyped-def]
    execution = make_execution(profile.database.url.get_secret_value())
    barrier = threading.Barrier(3)
    outcomes = []

    def run() -> None:
        barrier.wait()
        outcomes.append(extract_one(profile.database, profile.llm, execution, force=False))

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(o.status for o in outcomes).count("extracted") == 1
    assert len(_todos(profile)) == 2


def test_sweep_extracts_quiet_executions_once(profile) -> None:  # type: ignore[no-untyped-def]
    url = profile.database.url.get_secret_value()
    now = dt.datetime.now(dt.UTC)
    quiet = [make_execution(url, produced_at=now - dt.timedelta(minutes=m)) for m in (15, 40, 90)]
    recent = make_execution(url, produced_at=now - dt.timedelta(minutes=3))
    outcomes = sweep_todo_extraction(quiet_minutes=10, chunk_size=2)
    assert sorted(o.task_execution_id for o in outcomes) == sorted(quiet)
    assert all(o.status == "extracted" for o in outcomes)
    assert sweep_todo_extraction(quiet_minutes=10) == []
    with profile.database.session() as session:
        assert session.get(TaskExecution, recent).todos_extracted_at is None
        assert session.scalar(select(func.count()).select_from(Todo)) == 6


def test_unknown_execution_fails_with_its_id(profile) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ExtractionFailed, match="execution 987654"):
        extract_todos(987654)


def test_a_language_without_offline_rules_is_reported_not_silently_empty(profile) -> None:  # type: ignore[no-untyped-def]
    """Portuguese has no offline rules: the outcome, the artifact and the sweep's counts say so."""
    url = profile.database.url.get_secret_value()
    now = dt.datetime.now(dt.UTC)
    conversation = [("user", "Tenho que ligar para o banco amanhã.")]
    portuguese = make_execution(url, conversation=conversation, language_code="pt",
                                produced_at=now - dt.timedelta(minutes=30))
    spanish = make_execution(url, conversation=[("user", "Tengo que llamar al banco mañana.")], language_code="es",
                             produced_at=now - dt.timedelta(minutes=30))
    outcomes = {o.task_execution_id: o for o in sweep_todo_extraction(quiet_minutes=10)}
    assert outcomes[portuguese].status == "unsupported-language"
    assert outcomes[portuguese].error == "language pt has no offline rules"
    assert outcomes[spanish].status == "extracted"
    assert [t.description for t in outcomes[spanish].saved] == ["Llamar al banco"]
    report = _artifact("todos-sweep")
    assert "1 in a language without offline rules" in report
    assert f"| {portuguese} | language pt has no offline rules |" in report
    assert sweep_todo_extraction(quiet_minutes=10) == []  # marked, so the sweep does not pick it up every time


def test_a_known_todo_reworded_is_not_saved_again(profile) -> None:  # type: ignore[no-untyped-def]
    url = profile.database.url.get_secret_value()
    first = make_execution(url, conversation=[("user", "Je vais relancer l'imprimeur demain.")], language_code="fr")
    extract_todos(first)
    with profile.database.session() as session:
        user_id = session.get(TaskExecution, first).user_id
    second = make_execution(url, conversation=[("assistant", "Rappel : relance l'imprimeur demain.")],
                            language_code="fr", previous_execution_id=first, user_id=user_id)
    outcome = extract_todos(second)
    assert outcome.saved == [] and outcome.duplicates == 0  # the extractor itself skipped the known step
    assert [d for d, _, _ in _todos(profile)] == ["Relancer l'imprimeur"]


def test_steps_said_in_the_negative_or_called_off_are_not_saved(profile) -> None:  # type: ignore[no-untyped-def]
    conversation = [
        ("user", "Mañana tengo que llamar al banco y el viernes tengo que renovar el seguro."),
        ("assistant", "No tienes que enviar el formulario, el banco ya lo tiene."),
        ("user", "Al final no voy a llamar al banco, ya llamó Marta."),
    ]
    execution = make_execution(profile.database.url.get_secret_value(), conversation=conversation, language_code="es")
    outcome = extract_todos(execution)
    assert outcome.status == "extracted"
    assert [d for d, _, _ in _todos(profile)] == ["Renovar el seguro"]
    assert "todos saved: 1" in _artifact(f"todos-execution-{execution}")


@pytest.fixture
def llm_profile(profile, chat_server: FakeChatServer, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The active profile with its LLM swapped for the OpenAI-compatible block on a loopback server."""
    llm = OpenAICompatibleLLM(base_url=chat_server.base_url, model="test-model", retry_backoff_seconds=0.01,
                              max_attempts=2, timeout_seconds=5)
    return swap_profile(profile, monkeypatch, "llm", llm=llm)


def test_llm_items_with_bad_fields_are_skipped_and_the_rest_saved(llm_profile, chat_server) -> None:  # type: ignore[no-untyped-def]
    chat_server.script = [answer({"todos": [
        {"description": "Send the offer letter to Anna", "due_date": "2030-03-14", "mentioned_as_todo": True},
        {"description": "Call the recruiter", "due_date": "next blursday", "mentioned_as_todo": True},
        {"description": "Book the team lunch", "due_date": "2030-03-15", "mentioned_as_todo": "yes"},
        {"description": "Update the job board", "due_date": "2030-03-16"},
        {"description": "Share the scorecard", "due_date": "2030-03-17", "mentioned_as_todo": False},
        {"due_date": "2030-03-18"},
    ]})]
    execution = make_execution(llm_profile.database.url.get_secret_value())
    outcome = extract_todos(execution)
    assert [t.description for t in outcome.saved] == [
        "Send the offer letter to Anna", "Book the team lunch", "Update the job board", "Share the scorecard"]
    assert len(outcome.skipped) == 2
    assert {d for d, _, _ in _todos(llm_profile)} == {t.description for t in outcome.saved}
    report = _artifact(f"todos-execution-{execution}")
    assert "next blursday" in report and "## Skipped items" in report
    assert "- extractor: language model test-model" in report and "Steps said otherwise" not in report


def test_sweep_keeps_the_others_when_one_execution_fails(llm_profile, chat_server) -> None:  # type: ignore[no-untyped-def]
    url = llm_profile.database.url.get_secret_value()
    good = make_execution(url)
    bad = make_execution(url, conversation=[("user", "POISON: this one makes the model fail.")])

    def respond(request: Recorded) -> Reply:
        if "POISON" in json.dumps(request.body):
            return Reply(status=400, body={"error": {"message": "context too long"}})
        return answer({"todos": [{"description": "Call the candidate", "due_date": "2030-01-07"}]})

    chat_server.responder = respond
    with pytest.raises(ExtractionFailed, match=f"execution {bad}"):
        sweep_todo_extraction(quiet_minutes=10)
    with llm_profile.database.session() as session:
        assert session.get(TaskExecution, good).todos_extracted_at is not None
        assert session.get(TaskExecution, bad).todos_extracted_at is None  # retried by the next sweep
    assert [d for d, _, _ in _todos(llm_profile)] == ["Call the candidate"]


@pytest.mark.parametrize("profile", ["sqlite"], indirect=True)
def test_the_bulk_form_answers_each_job_in_order_as_its_own_run_would(profile) -> None:  # type: ignore[no-untyped-def]
    """A batch's extract-todos jobs: forced and unforced ones mixed, one naming no execution; each job gets
    the outcome (or the error) its own run of extract-todos would give, in the jobs' order, with one report."""
    from prefect import flow

    from flows.todos import extract_todos_in_bulk

    url = profile.database.url.get_secret_value()
    first, second = make_execution(url), make_execution(url)
    extract_todos(first)

    @flow(name="bulk-probe")
    def batch() -> list:
        return extract_todos_in_bulk([{"task_execution_id": first}, {"task_execution_id": 999_999},
                                      {"task_execution_id": second, "force": True}, {"task_execution_id": first, "force": True}])

    again, missing, forced_new, forced_old = batch()
    assert again.status == "already-extracted" and again.task_execution_id == first
    assert isinstance(missing, ExtractionFailed) and "execution 999999" in str(missing)
    assert forced_new.status == "extracted" and forced_new.task_execution_id == second and len(forced_new.saved) == 2
    assert forced_old.status == "extracted" and forced_old.task_execution_id == first and forced_old.saved == []
    assert "todos saved: 2" in _artifact("todos-job-batch")
