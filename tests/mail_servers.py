"""Real mail endpoints on loopback: an aiosmtpd SMTP server (STARTTLS, AUTH) and a SendGrid v3 fake."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def self_signed_cert(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost and its key, made here with `cryptography`."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "nightshift test SMTP")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@dataclass
class Received:
    message: EmailMessage
    recipients: list[str]
    tls: bool
    login: str | None


class SmtpRecorder:
    """aiosmtpd handler: keeps every message; refuses recipients listed in `refuse`."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.refuse: set[str] = set()
        self.logins: list[str] = []
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        auth = session.auth_data
        login = auth.login.decode() if session.authenticated and isinstance(auth, LoginPassword) else None
        with self.lock:
            self.received.append(Received(message, list(envelope.rcpt_tos), session.ssl is not None, login))
        return "250 Message accepted"

    def authenticate(self, server, session, envelope, mechanism, auth_data):  # type: ignore[no-untyped-def]
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"mailer", b"s3cret")
        with self.lock:
            self.logins.append(auth_data.login.decode() if isinstance(auth_data, LoginPassword) else "?")
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


@dataclass
class SmtpServer:
    host: str
    port: int
    recorder: SmtpRecorder
    ca_file: str | None = None

    @property
    def received(self) -> list[Received]:
        return self.recorder.received


@contextmanager
def smtp_server(tls_folder: Path | None = None) -> Iterator[SmtpServer]:
    """An aiosmtpd server on 127.0.0.1; with `tls_folder`: STARTTLS required, then AUTH required."""
    import ssl

    recorder = SmtpRecorder()
    options: dict[str, Any] = {}
    ca_file = None
    if tls_folder is not None:
        cert, key = self_signed_cert(tls_folder)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        ca_file = str(cert)
        options = {"tls_context": context, "require_starttls": True, "auth_required": True,
                   "auth_require_tls": True, "authenticator": recorder.authenticate}
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port(), **options)
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", controller.port, recorder, ca_file)
    finally:
        controller.stop()


@pytest.fixture
def smtp_sink() -> Iterator[SmtpServer]:
    """A plain SMTP server on loopback that accepts everything."""
    with smtp_server() as server:
        yield server


# --- SendGrid v3 ---------------------------------------------------------------------------------------


@dataclass
class SendGridReply:
    status: int = 202
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class SendGridRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class FakeSendGrid(ThreadingHTTPServer):
    """Speaks POST /v3/mail/send: replies script[i] to request i (the last entry repeats)."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _SendGridHandler)
        self.script: list[SendGridReply] = [SendGridReply()]
        self.requests: list[SendGridRequest] = []
        self.lock = threading.Lock()

    @property
    def host(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def reply(self, request: SendGridRequest) -> SendGridReply:
        with self.lock:
            self.requests.append(request)
            if request.path != "/v3/mail/send":
                return SendGridReply(404, {"errors": [{"message": f"no route {request.path}", "field": None}]})
            if request.headers.get("authorization") != "Bearer SG.test-key":
                return SendGridReply(401, {"errors": [{"message": "authorization required", "field": None}]})
            return self.script[min(len(self.requests), len(self.script)) - 1]


class _SendGridHandler(BaseHTTPRequestHandler):
    server: FakeSendGrid

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        headers = {k.lower(): v for k, v in self.headers.items()}
        reply = self.server.reply(SendGridRequest(self.path, headers, json.loads(raw or b"{}")))
        body = json.dumps(reply.body).encode() if reply.body is not None else b""
        self.send_response(reply.status)
        if reply.status == 202:
            self.send_header("X-Message-Id", f"sg-{len(self.server.requests)}")
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def sendgrid_server() -> Iterator[FakeSendGrid]:
    server = FakeSendGrid()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def plain_part(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def html_part(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("html",)).get_content()

