"""The exactly-once claim of each daily email, and the sending that moves it claimed -> sending -> sent."""

from __future__ import annotations

import datetime as dt
import hashlib
from email.utils import parseaddr
from typing import Any, Literal

from pydantic import BaseModel

from blocks.mailer import Mailer, MailRejected
from store.events import insert_event, insert_events, read_event, replace_event_payload, set_event_payload
from store.users import UserRow
from tasks.emails.compose import RenderedEmail, build_message
from tasks.runtime import run_logger, utcnow

EMAIL_KIND = "todo_daily_email"
STALE_CLAIM_MINUTES = 15

Status = Literal["sent", "already-sent", "nothing-to-report", "in-flight", "unknown", "failed"]


class DailyEmailOutcome(BaseModel):
    """What happened to one user's daily email."""

    user_id: int
    local_date: dt.date
    status: Status
    message_id: str | None = None
    todos: int = 0
    rescheduled: int = 0
    error: str | None = None



def dedup_key(user_id: int, local_date: dt.date) -> str:
    return f"{EMAIL_KIND}:{user_id}:{local_date.isoformat()}"


def stable_message_id(key: str, from_address: str) -> str:
    """The same Message-ID for every attempt at one email, so a resend replaces rather than adds."""
    domain = parseaddr(from_address)[1].rpartition("@")[2] or "nightshift.local"
    user_id, local_date = key.split(":")[1:3]
    digest = hashlib.sha256(f"{key}@{domain}".encode()).hexdigest()[:16]
    return f"<todo-daily-email.{user_id}.{local_date}.{digest}@{domain}>"



def claim_payload(owner: str, message_id: str, now: dt.datetime) -> dict[str, Any]:
    return {"status": "claimed", "owner": owner, "claimed_at": now.isoformat(), "message_id": message_id, "attempt": 1}


def claim(session: Any, mailer: Mailer, key: str, user_id: int, message_id: str, owner: str,
          stale_after: dt.timedelta) -> Status | Literal["claimed"]:
    """Claim the email's event row: "claimed" when this run may send it, else why it must not."""
    now = utcnow()
    payload = claim_payload(owner, message_id, now)
    if insert_event(session, user_id, EMAIL_KIND, key, payload, now):
        return "claimed"
    event = read_event(session, key)
    if event is None:  # deleted in between by an operator: try again next run
        return "in-flight"
    held = event.payload
    status = held.get("status")
    if status == "sent":
        return "already-sent"
    if status == "unknown":
        return "unknown"
    claimed_at = dt.datetime.fromisoformat(held.get("claimed_at") or now.isoformat())
    if status in ("claimed", "sending") and held.get("owner") != owner and now - claimed_at < stale_after:
        return "in-flight"
    if status == "sending":
        # It died inside the mailer: resend only when the mailer can tell that the message did not go out.
        delivered = mailer.delivered(held.get("message_id") or message_id)
        if delivered is not False:
            outcome: Status = "already-sent" if delivered else "unknown"
            recorded = {**held, "status": "sent" if delivered else "unknown", "resolved_at": now.isoformat()}
            replace_event_payload(session, event, recorded)
            return outcome
    taken = {**payload, "attempt": int(held.get("attempt") or 1) + 1, "previous_status": status}
    return "claimed" if replace_event_payload(session, event, taken) else "in-flight"


def _record(db: Any, key: str, payload: dict[str, Any]) -> None:
    with db.session() as session:
        set_event_payload(session, key, payload)



def claim_all(db: Any, mailer: Mailer, ready: list[tuple[UserRow, str, str, RenderedEmail]], owner: str,
               stale_after: dt.timedelta, outcomes: dict[int, DailyEmailOutcome]) -> list[Any]:
    """Claim every written email of the chunk in one transaction; keep those this run may send."""
    claimed, now = [], utcnow()
    with db.session() as session:
        # One INSERT for the chunk; only the keys that already had a row go through the full claim.
        fresh = insert_events(session, [
            {"user_id": user.id, "kind": EMAIL_KIND, "dedup_key": key, "created_at": now,
             "payload": claim_payload(owner, message_id, now)} for user, key, message_id, _ in ready])
        for entry in ready:
            user, key, message_id, _ = entry
            result = "claimed" if key in fresh else claim(session, mailer, key, user.id, message_id, owner, stale_after)
            outcomes[user.id].message_id = message_id
            if result == "claimed":
                claimed.append(entry)
            else:
                outcomes[user.id].status = result
    return claimed


def send_all(db: Any, mailer: Mailer, claimed: list[tuple[UserRow, str, str, RenderedEmail]], owner: str,
              now: dt.datetime, outcomes: dict[int, DailyEmailOutcome]) -> None:
    """claimed -> sending -> sent (or failed / unknown) for each message, over one mailer connection.

    "sending" is committed before the mailer is called; a message's "sent" commits together with the
    next message's "sending" (one transaction per message instead of two).
    """
    sent: tuple[str, dict[str, Any]] | None = None
    with mailer.batch() as send:
        for user, key, message_id, rendered in claimed:
            outcome = outcomes[user.id]
            base = {"owner": owner, "message_id": message_id, "claimed_at": utcnow().isoformat(),
                    "todos": outcome.todos, "rescheduled": outcome.rescheduled}
            with db.session() as session:
                if sent is not None:
                    set_event_payload(session, *sent)
                set_event_payload(session, key, {**base, "status": "sending"})
            sent = None
            try:
                send(build_message(user, rendered, message_id, key, now))
            except Exception as exc:  # noqa: BLE001 - recorded for this user (unknown or refused); the others go on
                _record_failure(db, mailer, key, base, exc, outcome)
                continue
            sent = (key, {**base, "status": "sent", "sent_at": utcnow().isoformat()})
            outcome.status = "sent"
    if sent is not None:
        _record(db, *sent)


def _record_failure(db: Any, mailer: Mailer, key: str, base: dict[str, Any], exc: Exception,
                    outcome: DailyEmailOutcome) -> None:
    """A refusal may be sent again by a later run; an unclear failure only if the mailer saw nothing."""
    delivered = False if isinstance(exc, MailRejected) else mailer.delivered(base["message_id"])
    statuses: dict[bool | None, Status] = {True: "sent", False: "failed", None: "unknown"}
    status = statuses[delivered]
    _record(db, key, {**base, "status": status, "error": str(exc)[:500]})
    outcome.status = "sent" if delivered else status
    outcome.error = None if delivered else str(exc)
    run_logger().error("user %s: daily email %s: %s", outcome.user_id, status, exc)

