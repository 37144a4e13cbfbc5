"""The SMTP mailer against a real aiosmtpd server on loopback: STARTTLS with a self-signed CA, AUTH."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
from mail_servers import plain_part, smtp_server
from pydantic import SecretStr

from blocks.mailer import MailRejected, SmtpMailer


def _message(to: str, subject: str) -> EmailMessage:
    message = EmailMessage()
    message["To"] = to
    message["Subject"] = subject
    message.set_content(f"Body of {subject}")
    message.add_alternative(f"<p>Body of {subject}</p>", subtype="html")
    return message


def _mailer(server, **changes) -> SmtpMailer:  # type: ignore[no-untyped-def]
    values = {"host": server.host, "port": server.port, "security": "starttls", "username": "mailer",
              "password": SecretStr("s3cret"), "tls_ca_file": server.ca_file, "timeout_seconds": 10,
              "from_address": "nightshift <bot@example.com>"}
    return SmtpMailer(**(values | changes))


def test_starttls_and_auth_send_a_batch_over_one_connection(tmp_path: Path) -> None:
    with smtp_server(tls_folder=tmp_path) as server:
        with _mailer(server).batch() as send:
            first = send(_message("ada@example.com", "Tâches du lundi"))
            second = send(_message("bob@example.com", "Todos for Monday"))
    assert [r.recipients for r in server.received] == [["ada@example.com"], ["bob@example.com"]]
    assert all(r.tls and r.login == "mailer" for r in server.received)
    assert server.recorder.logins == ["mailer"]  # one login: the connection was reused
    assert [str(r.message["Message-ID"]) for r in server.received] == [first, second]
    assert all(parsedate_to_datetime(str(r.message["Date"])).tzinfo is not None for r in server.received)
    assert server.received[0].message["Subject"] == "Tâches du lundi"
    assert plain_part(server.received[0].message).strip() == "Body of Tâches du lundi"


def test_wrong_password_is_a_clear_rejection(tmp_path: Path) -> None:
    with smtp_server(tls_folder=tmp_path) as server:
        with pytest.raises(MailRejected, match="refused the login of 'mailer'"):
            _mailer(server, password=SecretStr("wrong")).send(_message("ada@example.com", "x"))
    assert server.received == []


def test_untrusted_certificate_is_refused(tmp_path: Path) -> None:
    with smtp_server(tls_folder=tmp_path) as server:
        with pytest.raises(MailRejected, match="CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
            _mailer(server, tls_ca_file=None).send(_message("ada@example.com", "x"))
    assert server.received == []


def test_refused_recipient_raises_and_the_next_message_still_goes(tmp_path: Path) -> None:
    with smtp_server(tls_folder=tmp_path) as server:
        server.recorder.refuse.add("gone@example.com")
        with _mailer(server).batch() as send:
            with pytest.raises(MailRejected, match="refused"):
                send(_message("gone@example.com", "x"))
            send(_message("ada@example.com", "y"))
    assert [r.recipients for r in server.received] == [["ada@example.com"]]


def test_plain_smtp_without_tls_or_auth(tmp_path: Path) -> None:
    with smtp_server() as server:
        message_id = _mailer(server, security="none", username=None, password=None).send(
            _message("ada@example.com", "plain"))
    [received] = server.received
    assert not received.tls and received.message["Message-ID"] == message_id
    assert received.message["From"] == "nightshift <bot@example.com>"
