"""The demo's daily email: run the send-daily-todo-emails deployment for one user now, show the .eml."""

from __future__ import annotations

import email
import email.policy

from blocks.mailer import OutboxMailer
from blocks.prefect_calls import sync_result
from blocks.profile import load_profile
from store.events import latest_payload
from store.users import user_id_by_email

DEPLOYMENT = "send-daily-todo-emails/send-daily-todo-emails"


def run_demo(profile_name: str | None, user_email: str, timeout: float = 300) -> list[str]:
    """Send (once per local day) the daily email of the user with this address, whatever the local hour.

    Returns printable lines: the flow run and its state, then the outbox file, its subject and text part.
    """
    from prefect.deployments import run_deployment

    profile = load_profile(profile_name)
    with profile.database.session() as session:
        user_id = user_id_by_email(session, user_email)
    if user_id is None:
        raise LookupError(f"no user with e-mail {user_email!r}: load the demo data first")
    run = sync_result(run_deployment(
        DEPLOYMENT,
        parameters={"user_ids": [user_id], "ignore_local_window": True, "send_when_empty": True},
        timeout=timeout,
    ), "run_deployment")
    lines = [f"flow run {run.name!r}: {run.state.name if run.state else 'unknown'}"]
    with profile.database.session() as session:
        payload = latest_payload(session, user_id, "todo_daily_email")
    if not payload or payload.get("status") != "sent":
        return lines + [f"no daily email recorded as sent for user {user_id}: {payload}"]
    message_id = payload["message_id"]
    if not isinstance(profile.mailer, OutboxMailer):
        return lines + [f"sent through {type(profile.mailer).__name__}, Message-ID {message_id}"]
    path = profile.mailer.path_of(message_id)
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    body = message.get_body(preferencelist=("plain",))
    if body is None:
        raise ValueError(f"{path} has no text part")
    text = body.get_content()
    return lines + [f"outbox: {path}", f"subject: {message['Subject']}", "", *text.rstrip().splitlines()]
