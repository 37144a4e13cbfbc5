"""The SendGrid mailer (the official client) against a loopback server speaking v3 /v3/mail/send."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import parsedate_to_datetime

import pytest
from mail_servers import FakeSendGrid, SendGridReply, sendgrid_server  # noqa: F401  (fixture)
from pydantic import SecretStr

from blocks.mailer import MailRejected, SendGridMailer


def _message() -> EmailMessage:
    message = EmailMessage()
    message["To"] = "Ada Martin <ada@example.com>"
    message["Subject"] = "Vos tâches du lundi"
    message["Message-ID"] = "<todo-daily-email.1.2026-11-23.abc@example.com>"
    message.set_content("Bonjour Ada")
    message.add_alternative("<p>Bonjour Ada</p>", subtype="html")
    return message


def _mailer(server: FakeSendGrid, **changes) -> SendGridMailer:  # type: ignore[no-untyped-def]
    values = {"api_key": SecretStr("SG.test-key"), "host": server.host, "retry_backoff_seconds": 0.01,
              "max_attempts": 3, "timeout_seconds": 5, "from_address": "nightshift <bot@example.com>"}
    return SendGridMailer(**(values | changes))


def test_202_sends_the_v3_payload(sendgrid_server: FakeSendGrid) -> None:
    message_id = _mailer(sendgrid_server).send(_message())
    [request] = sendgrid_server.requests
    assert request.path == "/v3/mail/send"
    assert request.headers["authorization"] == "Bearer SG.test-key"
    body = request.body
    assert body["personalizations"] == [{"to": [{"email": "ada@example.com", "name": "Ada Martin"}]}]
    assert body["from"] == {"email": "bot@example.com", "name": "nightshift"}
    assert body["subject"] == "Vos tâches du lundi"
    assert [c["type"] for c in body["content"]] == ["text/plain", "text/html"]
    assert body["content"][0]["value"].strip() == "Bonjour Ada"
    assert body["headers"]["Message-ID"] == message_id == "<todo-daily-email.1.2026-11-23.abc@example.com>"
    assert parsedate_to_datetime(body["headers"]["Date"]).tzinfo is not None  # dated, like every mail


def test_a_message_without_date_or_message_id_gets_both(sendgrid_server: FakeSendGrid) -> None:
    message = _message()
    del message["Message-ID"]
    message_id = _mailer(sendgrid_server).send(message)
    headers = sendgrid_server.requests[0].body["headers"]
    assert headers["Message-ID"] == message_id and message_id.endswith("@example.com>")
    assert parsedate_to_datetime(headers["Date"]).tzinfo is not None


def test_400_with_an_error_body_is_a_clear_rejection(sendgrid_server: FakeSendGrid) -> None:
    sendgrid_server.script = [SendGridReply(400, {"errors": [
        {"message": "The from address does not match a verified Sender Identity.", "field": "from"}]})]
    with pytest.raises(MailRejected, match="HTTP 400: from: The from address does not match a verified"):
        _mailer(sendgrid_server).send(_message())
    assert len(sendgrid_server.requests) == 1  # a 400 is not retried


def test_429_then_202_is_retried(sendgrid_server: FakeSendGrid) -> None:
    sendgrid_server.script = [
        SendGridReply(429, {"errors": [{"message": "too many requests", "field": None}]}, {"Retry-After": "0"}),
        SendGridReply(202),
    ]
    _mailer(sendgrid_server).send(_message())
    assert len(sendgrid_server.requests) == 2
    assert sendgrid_server.requests[0].body == sendgrid_server.requests[1].body


def test_persistent_5xx_gives_up_after_max_attempts(sendgrid_server: FakeSendGrid) -> None:
    sendgrid_server.script = [SendGridReply(503, {"errors": [{"message": "unavailable", "field": None}]})]
    with pytest.raises(MailRejected, match="HTTP 503"):
        _mailer(sendgrid_server, max_attempts=2).send(_message())
    assert len(sendgrid_server.requests) == 2


def test_bad_api_key_is_rejected_with_the_reason(sendgrid_server: FakeSendGrid) -> None:
    with pytest.raises(MailRejected, match="HTTP 401: request: authorization required"):
        _mailer(sendgrid_server, api_key=SecretStr("SG.wrong")).send(_message())
