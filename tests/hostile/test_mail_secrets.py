"""Mail services that echo what they were sent: no password or API key reaches a log or an error."""

from __future__ import annotations

import base64
import logging
import ssl
import traceback
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from mail_servers import SendGridReply, SmtpRecorder, free_port, self_signed_cert, sendgrid_server  # noqa: F401
from pydantic import SecretStr

from blocks.mailer import MailRejected, SendGridMailer, SmtpMailer

PASSWORD = "Tr0ub4dor-horse-battery"


def _message() -> EmailMessage:
    message = EmailMessage()
    message["To"] = "ada@example.com"
    message["Subject"] = "Todos"
    message.set_content("Body")
    return message


def _everything_said(exc: BaseException, records: list[logging.LogRecord]) -> str:
    """What Prefect would keep: the error, its traceback with every chained exception, and the logs."""
    return "".join(traceback.format_exception(exc)) + "\n".join(r.getMessage() for r in records)


@pytest.fixture
def mailer_logs() -> list[logging.LogRecord]:
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("nightshift.mailer")
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


class EchoingSmtp(SmtpRecorder):
    """Refuses every login and quotes the credentials back, as some servers' error texts do."""

    def authenticate(self, server, session, envelope, mechanism, auth_data):  # type: ignore[no-untyped-def]
        assert isinstance(auth_data, LoginPassword)
        raw = base64.b64encode(b"\0" + auth_data.login + b"\0" + auth_data.password).decode()
        return AuthResult(success=False, handled=False,
                          message=f"535 5.7.8 bad credentials {auth_data.login.decode()}:"
                                  f"{auth_data.password.decode()} ({raw})")


@pytest.fixture
def echoing_smtp(tmp_path: Path) -> Iterator[tuple[int, str]]:
    """An aiosmtpd server on loopback (STARTTLS, then AUTH) that quotes refused credentials back."""
    cert, key = self_signed_cert(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    recorder = EchoingSmtp()
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port(), tls_context=context,
                            require_starttls=True, auth_required=True, auth_require_tls=True,
                            authenticator=recorder.authenticate)
    controller.start()
    yield controller.port, str(cert)
    controller.stop()


def test_smtp_errors_never_carry_the_password(echoing_smtp: tuple[int, str], mailer_logs: list) -> None:
    """smtplib tries AUTH PLAIN, then AUTH LOGIN: the server's answers to both quote the password."""
    port, ca_file = echoing_smtp
    mailer = SmtpMailer(host="127.0.0.1", port=port, username="mailer", password=SecretStr(PASSWORD),
                        tls_ca_file=ca_file, timeout_seconds=10)
    with pytest.raises(MailRejected, match="bad credentials mailer:\\*\\*\\*") as raised:
        mailer.send(_message())
    said = _everything_said(raised.value, mailer_logs)
    for form in (PASSWORD, base64.b64encode(PASSWORD.encode()).decode(),
                 base64.b64encode(f"\0mailer\0{PASSWORD}".encode()).decode()):
        assert form not in said, said


def test_sendgrid_errors_never_carry_the_api_key(sendgrid_server, mailer_logs: list) -> None:  # type: ignore[no-untyped-def]
    echo = {"errors": [{"message": "invalid key Bearer SG.test-key for this account", "field": "authorization"}]}
    sendgrid_server.script = [SendGridReply(503, echo), SendGridReply(400, echo)]
    mailer = SendGridMailer(api_key=SecretStr("SG.test-key"), host=sendgrid_server.host, retry_backoff_seconds=0)
    with pytest.raises(MailRejected, match="invalid key Bearer \\*\\*\\*") as raised:
        mailer.send(_message())
    assert len(sendgrid_server.requests) == 2 and mailer_logs  # the 503 was retried and logged
    assert "SG.test-key" not in _everything_said(raised.value, mailer_logs)
