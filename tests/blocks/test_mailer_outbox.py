"""The outbox mailer writes each message as a complete .eml file."""

from __future__ import annotations

import email
from email.message import EmailMessage

from blocks.mailer import OutboxMailer


def test_outbox_writes_one_eml_per_message(tmp_path) -> None:  # type: ignore[no-untyped-def]
    mailer = OutboxMailer(folder=str(tmp_path / "outbox"), from_address="nightshift <bot@example.com>")
    message = EmailMessage()
    message["To"] = "ada@example.com"
    message["Subject"] = "Vos tâches du jour"
    message.set_content("Bonjour Ada,\n- Appeler la banque")
    message.add_alternative("<p>Bonjour Ada</p>", subtype="html")
    message_id = mailer.send(message)
    [path] = list((tmp_path / "outbox").iterdir())
    assert path.suffix == ".eml"
    parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert parsed["Message-ID"] == message_id and message_id.endswith("@example.com>")  # the sender's domain
    assert parsed["Date"].datetime.tzinfo is not None  # every mail is dated (a PDF notice had no Date)
    assert parsed["From"] == "nightshift <bot@example.com>"
    assert parsed["Subject"] == "Vos tâches du jour"
    assert "Appeler la banque" in parsed.get_body(preferencelist=("plain",)).get_content()
