"""The daily email sweep against a real Prefect API, on SQLite and PostgreSQL, with real mailers."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import time
from pathlib import Path

import pytest
from chat_server import FakeChatServer, Reply, answer
from conftest import swap_profile
from factories import utc
from mail_servers import SmtpServer, html_part, plain_part, smtp_sink  # noqa: F401  (fixture)
from prefect.artifacts import Artifact
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from todo_rows import events, make_execution, make_todo, make_user

from blocks.llm import OpenAICompatibleLLM
from blocks.mailer import SmtpMailer
from blocks.profile import clear_profile_cache
from flows.emails import DailyEmailsFailed, send_daily_todo_emails
from store.db import session_scope
from store.events import insert_event
from tasks.emails.claims import dedup_key
from tasks.sweeps import select_users_for_sweep

MON, TUE = dt.date(2026, 11, 23), dt.date(2026, 11, 24)
PARIS_MONDAY_0830 = utc(2026, 11, 23, 7, 30)
SUNDAY_EVENING = utc(2026, 11, 22, 18, 0)


def _url(profile) -> str:  # type: ignore[no-untyped-def]
    return profile.database.url.get_secret_value()


def _outbox(profile) -> list[email.message.EmailMessage]:  # type: ignore[no-untyped-def]
    folder = Path(profile.mailer.folder)
    files = sorted(folder.glob("*.eml")) if folder.exists() else []
    return [email.message_from_bytes(f.read_bytes(), policy=email.policy.default) for f in files]


def _clear_outbox(profile) -> None:  # type: ignore[no-untyped-def]
    for path in Path(profile.mailer.folder).glob("*.eml"):
        path.unlink()


@pytest.fixture
def outbox_profile(profile):  # type: ignore[no-untyped-def]
    _clear_outbox(profile)
    yield profile
    _clear_outbox(profile)


def test_morning_users_get_todays_todos_once(outbox_profile) -> None:  # type: ignore[no-untyped-def]
    profile = outbox_profile
    url = _url(profile)
    ada = make_user(url, "Europe/Paris", language_code="fr", name="Ada Martin")
    deck = make_execution(url, ada, title="Revue du deck <v3>")
    make_todo(url, deck, "Envoyer le deck <v4> à Claire", MON)
    make_todo(url, deck, "Relancer Marc", [(dt.date(2026, 11, 19), utc(2026, 11, 10), None),
                                           (MON, utc(2026, 11, 23, 0, 30), "Lundi est le jour le plus calme.")])
    make_todo(url, deck, "Appeler la banque", [(dt.date(2026, 11, 18), utc(2026, 11, 10), None),
                                               (TUE, utc(2026, 11, 22, 23, 30), "Mardi est libre.")])
    make_todo(url, deck, "Déjà fait", MON, completed=True)
    make_todo(url, deck, "Plus tard", dt.date(2026, 11, 27))
    opted_out = make_user(url, "Europe/Paris", opt_in=False)
    make_todo(url, make_execution(url, opted_out), "Should not be mailed", MON)
    idle = make_user(url, "Europe/Paris")

    outcomes = {o.user_id: o for o in send_daily_todo_emails(now=PARIS_MONDAY_0830)}
    assert set(outcomes) == {ada, idle}
    assert (outcomes[ada].status, outcomes[ada].todos, outcomes[ada].rescheduled) == ("sent", 2, 2)
    assert outcomes[idle].status == "nothing-to-report"
    [message] = _outbox(profile)
    assert message["To"] == "Ada Martin <" + message["To"].addresses[0].addr_spec + ">"
    assert message["Subject"] == "Vos tâches du lundi 23 novembre : 2 aujourd'hui, 2 reportées"
    assert message["Message-ID"] == outcomes[ada].message_id
    text, html = plain_part(message), html_part(message)
    assert "- Envoyer le deck <v4> à Claire (issue de Revue du deck <v3>)" in text
    assert "reportée du jeudi 19 novembre: Lundi est le jour le plus calme." in text
    assert "mercredi 18 novembre -> mardi 24 novembre: Mardi est libre." in text
    assert "Déjà fait" not in text and "Plus tard" not in text
    assert "Envoyer le deck &lt;v4&gt; à Claire" in html and "<v4>" not in html
    payload = events(url)[dedup_key(ada, MON)]
    assert (payload["status"], payload["message_id"]) == ("sent", message["Message-ID"])

    # The same hour again (a retry, a restarted run): nothing more is sent.
    again = {o.user_id: o.status for o in send_daily_todo_emails(now=PARIS_MONDAY_0830 + dt.timedelta(minutes=20))}
    assert again == {ada: "already-sent", idle: "nothing-to-report"}
    assert len(_outbox(profile)) == 1
    assert "already-sent: 1" in str(Artifact.get("daily-todo-emails").data)

    # Configurable: users with nothing to report may get an email too.
    [sent] = send_daily_todo_emails(now=PARIS_MONDAY_0830, user_ids=[idle], send_when_empty=True)
    assert sent.status == "sent" and len(_outbox(profile)) == 2


def test_local_date_and_weekday_come_from_the_users_zone(outbox_profile, caplog) -> None:  # type: ignore[no-untyped-def]
    url = _url(outbox_profile)
    users = {zone: make_user(url, zone) for zone in ("Pacific/Tongatapu", "Pacific/Honolulu", None)}
    for zone, user in users.items():
        execution = make_execution(url, user)
        make_todo(url, execution, f"Monday todo of {zone}", MON)
        make_todo(url, execution, f"Sunday todo of {zone}", dt.date(2026, 11, 22))
    # Sunday 19:30 UTC is Monday 08:30 in Tonga (UTC+13).
    [tonga] = send_daily_todo_emails(now=utc(2026, 11, 22, 19, 30))
    assert (tonga.user_id, tonga.local_date, tonga.status, tonga.todos) == (users["Pacific/Tongatapu"], MON, "sent", 1)
    # Monday 18:30 UTC is Monday 08:30 in Honolulu (UTC-10); 08:30 UTC for the user without a zone.
    [honolulu] = send_daily_todo_emails(now=utc(2026, 11, 23, 18, 30))
    assert (honolulu.user_id, honolulu.local_date) == (users["Pacific/Honolulu"], MON)
    [nowhere] = send_daily_todo_emails(now=utc(2026, 11, 23, 8, 30))
    assert (nowhere.user_id, nowhere.local_date, nowhere.status) == (users[None], MON, "sent")
    subjects = sorted(str(m["Subject"]) for m in _outbox(outbox_profile))
    assert subjects == ["Your todos for Monday 23 November: 1 today"] * 3
    assert all("Monday todo of" in plain_part(m) and "Sunday todo" not in plain_part(m) for m in _outbox(outbox_profile))
    # Friday 19:30 UTC is Saturday morning in Tonga: no email on its weekend.
    assert send_daily_todo_emails(now=utc(2026, 11, 27, 19, 30)) == []


def _select_for_email(now: dt.datetime) -> list[int]:
    """The daily email's selection: opted-in users at 08:00-08:59 local time on a weekday."""
    return select_users_for_sweep.fn(now, window_start_hour=8, opted_in_only=True)


@pytest.mark.parametrize(
    ("zone", "dst_sunday", "utc_hour_after", "utc_hour_before"),
    [("Europe/Paris", dt.date(2026, 3, 29), 6, 7), ("America/New_York", dt.date(2026, 3, 8), 12, 13)],
)
def test_dst_change(profile, zone: str, dst_sunday: dt.date, utc_hour_after: int, utc_hour_before: int) -> None:  # type: ignore[no-untyped-def]
    user = make_user(_url(profile), zone)
    midnight = dt.datetime.combine(dst_sunday, dt.time(), tzinfo=dt.UTC)
    # The change day is a Sunday: no hour of it selects the user.
    assert all(_select_for_email(midnight + dt.timedelta(hours=h)) == [] for h in range(24))
    # The Friday before, 08:00 local was one UTC hour later than on the Monday after.
    friday, monday = midnight - dt.timedelta(days=2), midnight + dt.timedelta(days=1)
    assert _select_for_email(friday + dt.timedelta(hours=utc_hour_before)) == [user]
    assert _select_for_email(monday + dt.timedelta(hours=utc_hour_before)) == []
    assert _select_for_email(monday + dt.timedelta(hours=utc_hour_after)) == [user]


def test_a_crash_between_claim_and_send_is_recovered_without_a_second_email(outbox_profile) -> None:  # type: ignore[no-untyped-def]
    url = _url(outbox_profile)
    ada = make_user(url, "Europe/Paris")
    make_todo(url, make_execution(url, ada), "Send the deck", MON)
    key = dedup_key(ada, MON)
    crashed_at = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)  # staleness is by the clock
    with session_scope(url) as session:  # what a run that died right after claiming leaves behind
        insert_event(session, ada, "todo_daily_email", key, {"status": "claimed", "owner": "crashed-run",
                     "claimed_at": crashed_at.isoformat(), "message_id": "<x@y>", "attempt": 1}, crashed_at)
    [outcome] = send_daily_todo_emails(now=PARIS_MONDAY_0830)
    assert outcome.status == "sent"
    assert [m["Message-ID"] for m in _outbox(outbox_profile)] == [outcome.message_id]
    payload = events(url)[key]
    assert (payload["status"], payload["message_id"]) == ("sent", outcome.message_id)
    [again] = send_daily_todo_emails(now=PARIS_MONDAY_0830)
    assert again.status == "already-sent" and len(_outbox(outbox_profile)) == 1


def test_chunks_are_task_runs_of_one_flow_run(outbox_profile) -> None:  # type: ignore[no-untyped-def]
    url = _url(outbox_profile)
    users = [make_user(url, "Europe/Paris") for _ in range(5)]
    for user in users:
        make_todo(url, make_execution(url, user), "Send the deck", MON)
    state = send_daily_todo_emails(now=PARIS_MONDAY_0830, chunk_size=2, return_state=True)
    assert sorted(o.user_id for o in state.result()) == sorted(users)
    assert len(_outbox(outbox_profile)) == 5
    flow_run_id = state.state_details.flow_run_id
    names: list[str] = []
    with get_client(sync_client=True) as client:
        for _ in range(50):  # task runs reach the API through events: give them a moment
            runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
            names = sorted(r.name for r in runs if r.name.startswith("daily-emails-users-"))
            if len(names) == 3:
                break
            time.sleep(0.2)
    assert names == sorted(f"daily-emails-users-{c[0]}-to-{c[-1]}" for c in (users[0:2], users[2:4], users[4:]))


@pytest.mark.parametrize("profile", ["sqlite"], indirect=True)  # swaps a block: one backend is enough
def test_smtp_one_connection_and_an_unknown_send_is_never_repeated(profile, smtp_sink: SmtpServer,  # type: ignore[no-untyped-def]
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    mailer = SmtpMailer(host=smtp_sink.host, port=smtp_sink.port, security="none", from_address="bot@example.com")
    swap_profile(profile, monkeypatch, "smtp", mailer=mailer)
    url = _url(profile)
    users = [make_user(url, "Europe/Paris") for _ in range(3)]
    for user in users:
        make_todo(url, make_execution(url, user), "Send the deck", MON)
    died_at = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    with session_scope(url) as session:  # a run died inside the SMTP conversation for the last user
        insert_event(session, users[2], "todo_daily_email", dedup_key(users[2], MON), {
            "status": "sending", "owner": "dead-run", "claimed_at": died_at.isoformat(), "message_id": "<m@x>"}, died_at)
    with pytest.raises(DailyEmailsFailed, match=f"user {users[2]}: unknown"):
        send_daily_todo_emails(now=PARIS_MONDAY_0830)
    assert sorted(r.recipients[0] for r in smtp_sink.received) == sorted(
        str(m) for m in [_email(url, u) for u in users[:2]])
    assert events(url)[dedup_key(users[2], MON)]["status"] == "unknown"
    with pytest.raises(DailyEmailsFailed):
        send_daily_todo_emails(now=PARIS_MONDAY_0830)
    assert len(smtp_sink.received) == 2  # neither the sent nor the unknown one went out again
    clear_profile_cache()


def _email(url: str, user_id: int) -> str:
    from store.models import User

    with session_scope(url) as session:
        return session.get(User, user_id).email


@pytest.mark.parametrize("profile", ["sqlite"], indirect=True)  # swaps a block: one backend is enough
def test_llm_writer_text_is_sanitized_and_a_failing_writer_falls_back(  # type: ignore[no-untyped-def]
        outbox_profile, chat_server: FakeChatServer, monkeypatch: pytest.MonkeyPatch) -> None:
    llm = OpenAICompatibleLLM(base_url=chat_server.base_url, model="test-model", max_attempts=1,
                              max_json_retries=0, timeout_seconds=5)
    swap_profile(outbox_profile, monkeypatch, "writer", llm=llm)
    url = _url(outbox_profile)
    ada, bob = make_user(url, "Europe/Paris", name="Ada"), make_user(url, "Europe/Paris", name="Bob")
    for user in (ada, bob):
        make_todo(url, make_execution(url, user), "Send the deck", MON)
    chat_server.script = [
        answer({"subject": "Your day\r\nBcc: all@example.com", "body":
                "Hi <b>Ada</b>!<script>steal()</script><img src=x onerror=alert(1)>\n\nTwo things today."}),
        Reply(status=400, body={"error": {"message": "quota exceeded"}}),
    ]
    outcomes = send_daily_todo_emails(now=PARIS_MONDAY_0830)
    assert [o.status for o in outcomes] == ["sent", "sent"]
    by_user = {o.user_id: o.message_id for o in outcomes}
    messages = {m["Message-ID"]: m for m in _outbox(outbox_profile)}
    written, fallback = messages[by_user[ada]], messages[by_user[bob]]
    assert written["Subject"] == "Your day Bcc: all@example.com" and written["Bcc"] is None
    assert "<p>Hi Ada!</p>" in html_part(written) and "script" not in html_part(written)
    assert "onerror" not in html_part(written) and "steal" not in plain_part(written)
    assert fallback["Subject"] == "Your todos for Monday 23 November: 1 today"
    assert "Good morning Bob" in plain_part(fallback)
    clear_profile_cache()
