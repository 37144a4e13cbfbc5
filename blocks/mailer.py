"""The Mailer block: how nightshift sends mail. The embedded default writes .eml files to an outbox."""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import os
import re
import smtplib
import ssl
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email.header import decode_header, make_header
from email.message import Message
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from typing import Any, Literal

from prefect.blocks.core import Block
from pydantic import Field, SecretStr

logger = logging.getLogger("nightshift.mailer")

MAX_RETRY_DELAY_SECONDS = 60.0


class Mailer(Block):
    """Interface: send one message, return its Message-ID."""

    _block_type_name = "nightshift Mailer"

    from_address: str = Field("nightshift <nightshift@localhost>", description="The From header.")

    def send(self, message: Message) -> str:
        raise NotImplementedError

    @contextmanager
    def batch(self) -> Iterator[Callable[[Message], str]]:
        """A send function for many messages in a row (SMTP reuses one connection)."""
        yield self.send

    def delivered(self, message_id: str) -> bool | None:
        """Whether a message with this Message-ID went out: None when the service cannot tell."""
        return None

    def _prepare(self, message: Message) -> str:
        """Fill From, Date and Message-ID when absent (every mail carries all three); return the Message-ID."""
        if "From" not in message:
            message["From"] = self.from_address
        if "Date" not in message:
            message["Date"] = format_datetime(dt.datetime.now(dt.UTC))
        if "Message-ID" not in message:
            domain = parseaddr(str(message["From"]))[1].rpartition("@")[2] or "nightshift.local"
            message["Message-ID"] = make_msgid(domain=domain)
        return str(message["Message-ID"])


class OutboxMailer(Mailer):
    """Writes each message as an .eml file into a folder (atomically), for the embedded default."""

    _block_type_name = "Outbox Mailer"
    _block_type_slug = "nightshift-outbox-mailer"

    folder: str = Field(description="Absolute path of the outbox folder.")

    def send(self, message: Message) -> str:
        message_id = self._prepare(message)
        outbox = Path(self.folder)
        outbox.mkdir(parents=True, exist_ok=True)
        name = self.path_of(message_id).name
        fd, tmp = tempfile.mkstemp(dir=outbox, prefix=".", suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            handle.write(message.as_bytes())
        os.replace(tmp, outbox / name)
        return message_id

    def delivered(self, message_id: str) -> bool | None:
        return self.path_of(message_id).exists()

    def path_of(self, message_id: str) -> Path:
        """The .eml file of a message (its name comes from the Message-ID, so a resend replaces it)."""
        return Path(self.folder) / (re.sub(r"[^A-Za-z0-9._-]+", "_", message_id.strip("<>")) + ".eml")


class MailRejected(RuntimeError):
    """The mail service refused the message: it was certainly not sent and may be sent again."""


def masked(text: str, secret: str, username: str | None = None) -> str:
    """`text` with the secret masked in every form a mail service may echo it back.

    SMTP servers answer AUTH with text of their own choosing, SendGrid with a JSON body: either may
    quote what they received (the password, or the base64 of AUTH LOGIN and AUTH PLAIN). Those answers
    go into Prefect's logs, artifacts and events, and the operators' mails.
    """
    if not secret:
        return text
    forms = {secret, base64.b64encode(secret.encode()).decode(),
             base64.b64encode(f"\0{username or ''}\0{secret}".encode()).decode()}
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, "***")
    return text


class SmtpMailer(Mailer):
    """Sends through an SMTP server: STARTTLS (or implicit TLS) and AUTH; one connection per batch."""

    _block_type_name = "SMTP Mailer"
    _block_type_slug = "nightshift-smtp-mailer"

    host: str = Field(description="SMTP server host name.")
    port: int = Field(587, ge=1, le=65535, description="587 for STARTTLS, 465 for implicit TLS, 25 for none.")
    security: Literal["starttls", "tls", "none"] = Field("starttls", description="How the connection is secured.")
    username: str | None = Field(None, description="AUTH user; no AUTH when empty.")
    password: SecretStr | None = None
    tls_ca_file: str | None = Field(None, description="PEM file of CAs to trust instead of the system's.")
    timeout_seconds: float = Field(30, gt=0)

    def send(self, message: Message) -> str:
        with self.batch() as send:
            return send(message)

    @contextmanager
    def batch(self) -> Iterator[Callable[[Message], str]]:
        """One authenticated connection for many messages (reopened if the server dropped an idle one)."""
        connection = _SmtpConnection(self)
        try:
            yield connection.send
        finally:
            connection.close()

    def _tls_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.tls_ca_file or None)

    def _connect(self) -> smtplib.SMTP:
        """An open, secured and authenticated connection; MailRejected when the server says no."""
        where = f"SMTP server {self.host}:{self.port}"
        try:
            if self.security == "tls":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout_seconds, context=self._tls_context()
                )
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout_seconds)
            smtp.ehlo()
            if self.security == "starttls":
                smtp.starttls(context=self._tls_context())
                smtp.ehlo()
            if self.username:
                smtp.login(self.username, self._secret())
            return smtp
        # `from None`: the server's own exception (and its text) would be logged with the traceback.
        except smtplib.SMTPAuthenticationError as exc:
            raise MailRejected(self.masked(f"{where} refused the login of {self.username!r}: {_reply(exc)}; "
                                           "check the credentials")) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise MailRejected(self.masked(f"{where}: could not open a session: {_reply(exc)}")) from None

    def _secret(self) -> str:
        return self.password.get_secret_value() if self.password else ""

    def masked(self, text: str) -> str:
        return masked(text, self._secret(), self.username)


def _reply(exc: BaseException) -> str:
    """An SMTP error as the server's code and text (decoded, so that masking finds what it echoed)."""
    code, text = getattr(exc, "smtp_code", None), getattr(exc, "smtp_error", None)
    if code is None:
        return f"{type(exc).__name__}: {exc}"
    return f"{code} {text.decode('utf-8', 'replace') if isinstance(text, bytes) else text}"


class _SmtpConnection:
    """A lazily opened SMTP session that maps definite refusals to MailRejected."""

    IDLE_CHECK_SECONDS = 10.0

    def __init__(self, mailer: SmtpMailer) -> None:
        self.mailer = mailer
        self.smtp: smtplib.SMTP | None = None
        self.last_used = 0.0

    def send(self, message: Message) -> str:
        message_id = self.mailer._prepare(message)
        self._ensure_open()
        if self.smtp is None:
            raise RuntimeError(f"{message_id}: no SMTP connection after opening one")
        try:
            self.smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            raise MailRejected(self.mailer.masked(f"{message_id}: every recipient was refused: {exc.recipients}")) \
                from None
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            self._reset()
            raise MailRejected(self.mailer.masked(f"{message_id}: refused by the SMTP server: {_reply(exc)}")) from None
        self.last_used = time.monotonic()
        return message_id

    def _ensure_open(self) -> None:
        """Open on first use; after an idle spell, check with NOOP (nothing is sent yet, so reopening is safe)."""
        if self.smtp is not None and time.monotonic() - self.last_used > self.IDLE_CHECK_SECONDS:
            try:
                self.smtp.noop()
            except (smtplib.SMTPException, OSError):
                self.close()
        if self.smtp is None:
            self.smtp = self.mailer._connect()
            self.last_used = time.monotonic()

    def _reset(self) -> None:
        try:
            if self.smtp is not None:
                self.smtp.rset()
        except (smtplib.SMTPException, OSError):
            self.close()

    def close(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except (smtplib.SMTPException, OSError):
                self.smtp.close()
            self.smtp = None


class SendGridMailer(Mailer):
    """Sends through SendGrid's v3 mail/send API with the official client; retries 429 and 5xx."""

    _block_type_name = "SendGrid Mailer"
    _block_type_slug = "nightshift-sendgrid-mailer"

    api_key: SecretStr = Field(description="A SendGrid API key with the Mail Send permission.")
    host: str = Field("https://api.sendgrid.com", description="API root (https://api.eu.sendgrid.com in the EU).")
    timeout_seconds: float = Field(30, gt=0)
    max_attempts: int = Field(4, ge=1, description="HTTP attempts per message (429 and 5xx are retried).")
    retry_backoff_seconds: float = Field(1.0, ge=0, description="Base of the exponential backoff.")

    def send(self, message: Message) -> str:
        from python_http_client.exceptions import HTTPError
        from sendgrid import SendGridAPIClient

        message_id = self._prepare(message)
        client = SendGridAPIClient(api_key=self.api_key.get_secret_value(), host=self.host.rstrip("/"))
        client.client.timeout = self.timeout_seconds
        body = sendgrid_payload(message)
        for attempt in range(1, self.max_attempts + 1):
            try:
                client.send(body)
                return message_id
            except HTTPError as exc:
                problem = masked(f"{message_id}: SendGrid answered HTTP {exc.status_code}: {_sendgrid_errors(exc.body)}",
                                 self.api_key.get_secret_value())
                if (exc.status_code == 429 or exc.status_code >= 500) and attempt < self.max_attempts:
                    delay = _retry_delay(exc.headers, self.retry_backoff_seconds * 2 ** (attempt - 1))
                    logger.warning("%s; retry %d in %.2fs", problem, attempt, delay)
                    time.sleep(delay)
                    continue
                raise MailRejected(problem) from None
        raise MailRejected(f"{message_id}: max_attempts must be at least 1")


def sendgrid_payload(message: Message) -> dict[str, Any]:
    """The v3 mail/send JSON of a message: addresses, subject, text and HTML parts, Message-ID and Date."""
    payload: dict[str, Any] = {
        "personalizations": [{"to": [_address(str(a)) for a in message.get_all("To", [])]}],
        "from": _address(str(message["From"])),
        "subject": _decoded(message["Subject"]),
        "content": [],
        "headers": {name: str(message[name]) for name in ("Message-ID", "Date") if message[name]},
    }
    parts: dict[str, str] = {}
    for part in message.walk():
        kind = part.get_content_type()
        if kind in ("text/plain", "text/html") and kind not in parts and part.get_content_disposition() is None:
            data = part.get_payload(decode=True)
            raw = data if isinstance(data, bytes) else b""
            parts[kind] = raw.decode(part.get_content_charset() or "utf-8", "replace")
    # SendGrid wants text/plain first.
    payload["content"] = [{"type": kind, "value": parts[kind]} for kind in ("text/plain", "text/html") if kind in parts]
    return payload


def _decoded(header: Any) -> str:
    """A header as text, whether plain, an encoded word (=?utf-8?...?=) or an email.header.Header."""
    return str(make_header(decode_header(str(header or ""))))


def _address(header: str) -> dict[str, str]:
    name, address = parseaddr(header)
    name = _decoded(name)
    return {"email": address, "name": name} if name else {"email": address}


def _sendgrid_errors(body: bytes | str | None) -> str:
    """SendGrid's {"errors": [{"message", "field"}]} as one line, or the start of the body."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else (body or "")
    try:
        errors = json.loads(text)["errors"]
        return "; ".join(f"{e.get('field') or 'request'}: {e.get('message')}" for e in errors)
    except (ValueError, KeyError, TypeError, AttributeError):
        return text[:300] or "(empty body)"


def _retry_delay(headers: Any, backoff: float) -> float:
    """Retry-After (seconds) or X-RateLimit-Reset (epoch seconds) when given, else the backoff; capped."""
    headers = headers or {}
    try:
        return min(max(float(headers["Retry-After"]), 0.0), MAX_RETRY_DELAY_SECONDS)
    except (KeyError, TypeError, ValueError):
        pass
    try:
        return min(max(float(headers["X-RateLimit-Reset"]) - time.time(), 0.0), MAX_RETRY_DELAY_SECONDS)
    except (KeyError, TypeError, ValueError):
        return min(backoff, MAX_RETRY_DELAY_SECONDS)
