"""Every kind of mail nightshift sends, as each mailer delivers it (outbox file, SMTP server, SendGrid request).

Each one carries a Date and a Message-ID and says no line twice; what a user reads is in plain words, in
their language, without the technical error (that goes to the operators, whose mails carry it).
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import html
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import Message
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
from mail_servers import FakeSendGrid, SmtpServer, plain_part, sendgrid_server, smtp_sink  # noqa: F401  (fixtures)
from pydantic import SecretStr

from blocks.llm_types import DailyEmailContext, EmailTodo
from blocks.mailer import OutboxMailer, SendGridMailer, SmtpMailer
from blocks.offline import OfflineLLM
from blocks.rules.languages import LANGUAGES as EXTRACTOR_LANGUAGES
from blocks.rules.mail_writer import labels_for
from store.users import UserRow
from tasks.emails.claims import dedup_key, stable_message_id
from tasks.emails.compose import build_message, render_email
from tasks.emails.notice_words import WORDS
from tasks.emails.notices import LANGUAGES as NOTICE_LANGUAGES
from tasks.emails.notices import document_notice
from tasks.pdf.job import PdfOutcome, SourceJob
from tasks.pdf.report import outcome_message

FROM = "nightshift <bot@mail.example.com>"
MONDAY = dt.date(2026, 11, 23)
NOW = dt.datetime(2026, 11, 23, 7, 5, tzinfo=dt.UTC)
NAMES = {"en": "Ada Lovelace", "fr": "Éloïse Martin", "de": "Zoë Müller", "es": "Íñigo Peña", "it": "Niccolò Rossi"}
# Words of the technical errors (tasks/pdf, the database driver, Python) that a user must never read.
TECHNICAL = ("source 7", "NIGHTSHIFT_", "Error", "Traceback", "psycopg", "PSEOF", "hi_res", "%PDF", "Exception",
             "strategy=", "KeyError")
# Errors as tasks/pdf and the libraries under it word them for the operators.
ERRORS = {
    "encrypted": "source 7: the PDF is encrypted (password-protected); upload an unprotected copy",
    "corrupt": "source 7: the PDF is corrupt near page 1-16 (PSEOF: Unexpected EOF); re-export or repair it",
    "empty": "source 7: the file is empty; upload the PDF again",
    "not_pdf": "source 7: not a PDF (no %PDF- header); upload a PDF file",
    "too_many_pages": "source 7: the PDF has 2,400 pages, over the limit of 2,000 (NIGHTSHIFT_PDF_MAX_PAGES); split it",
    "too_heavy": "source 7: pages 1-16 took longer than 120 s (NIGHTSHIFT_PDF_PARTITION_SECONDS)",
    "no_text": "source 7: no text found in the PDF (scanned images need strategy='hi_res' with OCR)",
    "on_our_side": "OperationalError: (psycopg.OperationalError) connection to server at 127.0.0.1 failed",
}
WARNING = ("source 7: only 41.7% of the PDF's text layer reached the searchable passages (minimum 90%, "
           "NIGHTSHIFT_PDF_MIN_COVERAGE): some text cannot be found; 12 page(s) have no text layer and were not "
           "read (scanned; over NIGHTSHIFT_PDF_OCR_MAX_PAGES or no OCR on this worker): 3, 4, 5, 6, 7, 8, 9, 10, "
           "11, 12 and 2 more")
# What check_coverage hands the mail of that warning (tasks.pdf.job.CoverageWarning).
WARNED = {"share_read": 0.417, "unread_pages": list(range(3, 15))}


@dataclass
class Delivered:
    """A mail as the mailer handed it on: its headers, text part and HTML part (when it has one)."""

    subject: str
    date: str
    message_id: str
    text: str
    html: str | None


def _parsed(message: Message) -> Delivered:
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    html_body = parsed.get_body(preferencelist=("html",))
    return Delivered(str(parsed["Subject"]), str(parsed["Date"]), str(parsed["Message-ID"]), plain_part(parsed),
                     html_body.get_content() if html_body is not None else None)


@pytest.fixture(params=["outbox", "smtp", "sendgrid"])
def deliver(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[Message], Delivered]]:
    """Send a message through one mailer and read it back where that mailer put it."""
    if request.param == "outbox":
        outbox = OutboxMailer(folder=str(tmp_path / "outbox"), from_address=FROM)

        def through_outbox(message: Message) -> Delivered:
            return _parsed(email.message_from_bytes(outbox.path_of(outbox.send(message)).read_bytes()))

        yield through_outbox
    elif request.param == "smtp":
        server: SmtpServer = request.getfixturevalue("smtp_sink")
        smtp = SmtpMailer(host=server.host, port=server.port, security="none", timeout_seconds=10, from_address=FROM)

        def through_smtp(message: Message) -> Delivered:
            smtp.send(message)
            return _parsed(server.received[-1].message)

        yield through_smtp
    else:
        fake: FakeSendGrid = request.getfixturevalue("sendgrid_server")
        sendgrid = SendGridMailer(api_key=SecretStr("SG.test-key"), host=fake.host, timeout_seconds=5, from_address=FROM)

        def through_sendgrid(message: Message) -> Delivered:
            sendgrid.send(message)
            body = fake.requests[-1].body
            parts = {part["type"]: part["value"] for part in body["content"]}
            return Delivered(body["subject"], body["headers"].get("Date", ""), body["headers"].get("Message-ID", ""),
                             parts["text/plain"], parts.get("text/html"))

        yield through_sendgrid


def _html_lines(document: str) -> list[str]:
    """The text of each paragraph, list item and heading of an HTML part."""
    blocks = re.findall(r"<(p|li|h2)\b[^>]*>(.*?)</\1>", document, flags=re.S)
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", inner)).split()) for _, inner in blocks]


def assert_complete(mail: Delivered) -> None:
    """Dated with a time zone, one well-formed Message-ID, no line said twice in either part."""
    assert parsedate_to_datetime(mail.date).tzinfo is not None, mail.date
    assert re.fullmatch(r"<[^<>@\s]+@[^<>@\s]+>", mail.message_id), mail.message_id
    lines = [line.strip() for line in mail.text.splitlines() if line.strip()]
    assert len(lines) == len(set(lines)), mail.text
    if mail.html is not None:
        html_lines = [line for line in _html_lines(mail.html) if line]
        assert html_lines and len(html_lines) == len(set(html_lines)), mail.html


def assert_plain(mail: Delivered) -> None:
    """No word of a technical error in what the user reads."""
    for part in (mail.subject, mail.text, mail.html or ""):
        for technical in TECHNICAL:
            assert technical not in part, (technical, part)


def assert_in_language(mail: Delivered, language: str) -> None:
    """Not English, when the user's language is another one the extractor supports."""
    if language != "en":
        english = ("Hello", "Good morning", "Today", "could not be added", "ready to search", "Have a good day")
        assert not any(word in mail.subject + mail.text for word in english), mail.text


def test_the_notices_speak_every_language_the_extractor_supports() -> None:
    assert set(NOTICE_LANGUAGES) >= set(EXTRACTOR_LANGUAGES)
    for language in NOTICE_LANGUAGES:
        assert WORDS[language].keys() == WORDS["en"].keys(), language
        if language != "en":  # translated, not copied: every text differs from the English one
            same = [key for key, text in WORDS[language].items() if text == WORDS["en"][key]]
            assert same in ([], ["pages"]), (language, same)  # "{n} page(s)" is the same word in French


# --- the daily todo email ----------------------------------------------------------------------------------


def _daily(language: str, *, empty: bool) -> tuple[DailyEmailContext, UserRow]:
    todos = [] if empty else [EmailTodo(description="Relancer l'imprimeur (Zoom ou Livestorm)", execution_title="Salon",
                                        scheduled_for=MONDAY, previous_date=dt.date(2026, 11, 19),
                                        justification="Thursday was full.")]
    moved = [] if empty else [EmailTodo(description="Call the bank", execution_title="Cash plan",
                                        scheduled_for=dt.date(2026, 11, 25), previous_date=dt.date(2026, 11, 18),
                                        justification="Wednesday is quiet.")]
    context = DailyEmailContext(user_name=NAMES[language], language_code=language, local_date=MONDAY,
                                weekday="Monday", today=todos, rescheduled=moved)
    return context, UserRow(id=7, name=NAMES[language], email="user@example.com", language_code=language,
                            timezone="Europe/Paris")


def _daily_message(context: DailyEmailContext, user: UserRow, written: dict[str, str]) -> Message:
    """The message as the sweep builds it (tasks.emails.claims.send_all)."""
    key = dedup_key(user.id, context.local_date)
    return build_message(user, render_email(context, written), stable_message_id(key, FROM), key, NOW)


@pytest.mark.parametrize("language", EXTRACTOR_LANGUAGES)
@pytest.mark.parametrize("empty", [True, False], ids=["empty-day", "full-day"])
def test_the_daily_email(deliver: Callable[[Message], Delivered], language: str, empty: bool) -> None:
    context, user = _daily(language, empty=empty)
    message = _daily_message(context, user, OfflineLLM().write_daily_email(context))
    mail = deliver(message)
    assert_complete(mail)
    assert mail.message_id == stable_message_id(dedup_key(7, MONDAY), FROM)  # the sweep's, kept by the mailer
    assert parsedate_to_datetime(mail.date) == NOW
    labels = labels_for(language)
    assert labels["today"] in mail.text and labels["footer"] in mail.text
    assert mail.text.count(labels["nothing_today"]) == (1 if empty else 0)
    assert mail.html is not None and _html_lines(mail.html).count(labels["nothing_today"]) == (1 if empty else 0)
    if not empty:
        assert "Relancer l'imprimeur (Zoom ou Livestorm)" in mail.text  # the description whole, parentheses kept
    assert_in_language(mail, language)


@pytest.mark.parametrize("language", EXTRACTOR_LANGUAGES)
def test_an_empty_day_says_nothing_is_due_once_whatever_the_model_writes(
        deliver: Callable[[Message], Delivered], language: str) -> None:
    """A model that writes the list's own line ("Nothing is due today.") above it: the mail says it once."""
    context, user = _daily(language, empty=True)
    nothing = labels_for(language)["nothing_today"]
    written = {"subject": "Todos", "body": f"{NAMES[language]},\n\n{nothing}\n\n{nothing}\n\nCiao"}
    mail = deliver(_daily_message(context, user, written))
    assert_complete(mail)
    assert mail.text.count(nothing) == 1


# --- the document notices (PDF ingestion) ------------------------------------------------------------------


@pytest.mark.parametrize("language", NOTICE_LANGUAGES)
@pytest.mark.parametrize("kind", list(ERRORS))
def test_a_failed_document_is_told_in_plain_words_in_the_owners_language(
        deliver: Callable[[Message], Delivered], language: str, kind: str) -> None:
    message = document_notice(NAMES[language], "owner@example.com", "deck.pdf", ingested=False, error=ERRORS[kind],
                              language=language)
    mail = deliver(message)
    assert_complete(mail)
    assert_plain(mail)
    assert_in_language(mail, language)
    assert mail.subject == str(WORDS[language]["failed_subject"]).format(filename="deck.pdf")
    assert str(WORDS[language][kind]) in mail.text  # the cause and what to do, in their words


@pytest.mark.parametrize("language", NOTICE_LANGUAGES)
@pytest.mark.parametrize("warning", [None, WARNING], ids=["ready", "ready-with-warning"])
def test_a_ready_document_is_told_in_the_owners_language(
        deliver: Callable[[Message], Delivered], language: str, warning: str | None) -> None:
    message = document_notice(NAMES[language], "owner@example.com", "deck.pdf", ingested=True, pages=12, chunks=1,
                              warning=warning, language=language, **(WARNED if warning else {}))  # type: ignore[arg-type]
    mail = deliver(message)
    assert_complete(mail)
    assert_plain(mail)
    assert_in_language(mail, language)
    assert mail.subject == str(WORDS[language]["warned_subject" if warning else "ready_subject"]).format(filename="deck.pdf")
    if warning:
        more = str(WORDS[language]["and_more"]).format(n=2)
        assert "42" in mail.text and f"3, 4, 5, 6, 7, 8, 9, 10, 11, 12 {more}" in mail.text  # the share, the pages
        assert "OCR" in mail.text  # what to do about them


def test_an_unknown_language_gets_english() -> None:
    message = document_notice("Ana Silva", "ana@example.com", "deck.pdf", ingested=True, pages=1, chunks=3,
                              language="pt-BR")
    assert message["Subject"] == "deck.pdf is ready to search"
    assert "deck.pdf (1 page) is now in your knowledge base: 3 passages can be searched." in message.get_content()


# --- the PDF ingestion's mail, as tasks/pdf builds it ---------------------------------------------------------


def _job(language: str = "en") -> SourceJob:

    return SourceJob.model_validate({"source_id": 7, "collection_id": 3, "owner_user_id": 5, "owner_name": NAMES[language],
                                     "owner_email": "owner@example.com", "filename": "deck.pdf",
                                     "object_key": "5/uploads/3/deck.pdf", "owner_language": language})


def _pdf_mail(job: SourceJob, status: str, error: str | None = None, warning: str | None = None) -> Message:
    """What tasks.pdf.steps.email_owner hands to the mailer."""

    outcome = PdfOutcome(source_id=7, status=status, strategy="fast", pages=12, chunks=40, error=error,  # type: ignore[arg-type]
                         warning=warning, **(WARNED if warning else {}))
    return outcome_message(job, outcome)


@pytest.mark.parametrize("kind", list(ERRORS))
def test_the_pdf_ingestion_mail_is_dated_and_plain(deliver: Callable[[Message], Delivered], kind: str) -> None:
    """The defect of issue 14: the PDF path's mail had no Date; its failures showed the raw error."""
    mail = deliver(_pdf_mail(_job(), "failed", error=ERRORS[kind]))
    assert_complete(mail)
    assert_plain(mail)
    assert mail.subject == "deck.pdf could not be added"


def test_the_pdf_ingestion_mail_when_ready(deliver: Callable[[Message], Delivered]) -> None:
    mail = deliver(_pdf_mail(_job(), "ingested"))
    assert_complete(mail)
    assert mail.subject == "deck.pdf is ready to search" and "40 passages" in mail.text


def test_the_pdf_ingestion_mail_with_a_warning_is_plain(deliver: Callable[[Message], Delivered]) -> None:
    mail = deliver(_pdf_mail(_job(), "ingested", warning=WARNING))
    assert_complete(mail)
    assert_plain(mail)
    assert "about 42%" in mail.text and "3, 4, 5, 6, 7, 8, 9, 10, 11, 12 and 2 more" in mail.text


@pytest.mark.parametrize("language", [lang for lang in NOTICE_LANGUAGES if lang != "en"])
def test_the_pdf_ingestion_mail_is_in_the_owners_language(language: str) -> None:
    message = _pdf_mail(_job(language), "failed", error=ERRORS["encrypted"])
    assert message["Subject"] == str(WORDS[language]["failed_subject"]).format(filename="deck.pdf")


# --- the operators' mails ------------------------------------------------------------------------------------


def _operator_mails() -> dict[str, Message]:
    from deployments.operations.watchdog import Stall, stall_message, unreachable_message
    from tasks.operators import failure_message

    since = dt.datetime(2026, 11, 23, 6, 0, tzinfo=dt.UTC)
    stall = Stall("send-daily-todo-emails/hourly", "0b6c", dt.timedelta(hours=1), since, paused_schedule=False)
    return {
        "failed-run": failure_message("ingest-pdf-source-7", "9f1e", "Crashed", ERRORS["on_our_side"], "ingest-pdf",
                                      "http://127.0.0.1:4200", "ops@example.com"),
        "stalled-schedule": stall_message(stall, "ops@example.com", "http://127.0.0.1:4200"),
        "api-unreachable": unreachable_message("http://127.0.0.1:4200/api", since, "ConnectError: refused",
                                               "ops@example.com"),
    }


@pytest.mark.parametrize("kind", ["failed-run", "stalled-schedule", "api-unreachable"])
def test_the_operators_mails(deliver: Callable[[Message], Delivered], kind: str) -> None:
    mail = deliver(_operator_mails()[kind])
    assert_complete(mail)
    assert mail.subject.startswith("[nightshift] ")
    if kind == "failed-run":  # the technical error goes to the operators, with where to retry the run
        assert ERRORS["on_our_side"] in mail.text and "http://127.0.0.1:4200/runs/flow-run/9f1e" in mail.text
