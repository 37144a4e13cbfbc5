"""The Mailer block: how nightshift sends mail. The embedded default writes .eml files to an outbox."""

from __future__ import annotations

import os
import re
import tempfile
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from prefect.blocks.core import Block
from pydantic import Field


class Mailer(Block):
    """Interface: send one message, return its Message-ID."""

    _block_type_name = "nightshift Mailer"

    from_address: str = Field("nightshift <nightshift@localhost>", description="The From header.")

    def send(self, message: EmailMessage) -> str:
        raise NotImplementedError

    def _prepare(self, message: EmailMessage) -> str:
        """Fill From and Message-ID when absent; return the Message-ID."""
        if "From" not in message:
            message["From"] = self.from_address
        if "Message-ID" not in message:
            message["Message-ID"] = make_msgid(domain="nightshift.local")
        return str(message["Message-ID"])


class OutboxMailer(Mailer):
    """Writes each message as an .eml file into a folder (atomically), for the embedded default."""

    _block_type_name = "Outbox Mailer"
    _block_type_slug = "nightshift-outbox-mailer"

    folder: str = Field(description="Absolute path of the outbox folder.")

    def send(self, message: EmailMessage) -> str:
        message_id = self._prepare(message)
        outbox = Path(self.folder)
        outbox.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", message_id.strip("<>")) + ".eml"
        fd, tmp = tempfile.mkstemp(dir=outbox, prefix=".", suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            handle.write(message.as_bytes())
        os.replace(tmp, outbox / name)
        return message_id
