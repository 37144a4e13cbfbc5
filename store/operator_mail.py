"""Claims of operator e-mails: each alert (a failed run, a stalled schedule) is mailed at most once.

The claim is an `event` row whose dedup key names the alert. It is taken before the mail is sent; a
send that fails gives it back so that a retry can send; a claim left by a process that died while
sending is taken again once it is older than `stale_after`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

from store.events import insert_event, read_event, replace_event_payload, set_event_payload
from store.models import Event, utcnow

KIND = "operator-mail"


def claim(session: Session, key: str, details: dict[str, Any], stale_after: dt.timedelta) -> bool:
    """True when this caller may send the mail `key` (nobody sent it, nobody is sending it)."""
    now = utcnow()
    payload = {**details, "status": "sending", "claimed_at": now.isoformat()}
    if insert_event(session, None, KIND, key, payload, now):
        return True
    held = read_event(session, key)
    if held is None or held.payload.get("status") == "sent":
        return False
    claimed_at = dt.datetime.fromisoformat(held.payload.get("claimed_at") or now.isoformat())
    return now - claimed_at >= stale_after and replace_event_payload(session, held, payload)


def sent(session: Session, key: str, message_id: str, details: dict[str, Any]) -> None:
    set_event_payload(session, key, {**details, "status": "sent", "message_id": message_id,
                                     "sent_at": utcnow().isoformat()})


def release(session: Session, key: str) -> None:
    """Give a claim back after a failed send."""
    session.execute(delete(Event).where(Event.dedup_key == key, Event.kind == KIND))

