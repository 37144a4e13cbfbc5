"""Mail to the operators: one builder for every operator mail, sent at most once per alert key.

The failure notifier (flows/operators.py) mails about failed and crashed runs; the watchdog
(deployments/operations/watchdog.py) about stalled schedules and an unreachable Prefect API.
"""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage
from uuid import UUID

from prefect import get_run_logger, task
from prefect.client.orchestration import get_client
from prefect.settings import PREFECT_API_URL, PREFECT_UI_URL

from blocks.profile import load_profile

OPERATORS_ENV = "NIGHTSHIFT_OPERATOR_EMAIL"
NOTIFIER_DEPLOYMENT = "notify-failed-run/notify-failed-run"
STALE_CLAIM = dt.timedelta(minutes=10)  # a notifier that died while sending: another may send


def operator_message(to: str, subject: str, body: str) -> EmailMessage:
    """An e-mail to the operators; every subject starts with "[nightshift]"."""
    message = EmailMessage()
    message["To"] = to
    message["Subject"] = f"[nightshift] {subject}"
    message.set_content(body)
    return message


def failure_message(run_name: str, run_id: str, state: str, error: str | None, deployment: str | None,
                    ui_url: str | None, to: str) -> EmailMessage:
    """The operators' e-mail about one failed or crashed run."""
    link = f"{ui_url}/runs/flow-run/{run_id}" if ui_url else f"flow run {run_id}"
    return operator_message(to, f"{state}: {run_name}", (
        f"Flow run {run_name} ({deployment or 'no deployment'}) ended {state}.\n\n"
        f"Error: {error or '(no message)'}\n\nOpen it, read its logs and retry it from the UI: {link}\n"))


def mail_once(key: str, message: EmailMessage, details: dict[str, str | None]) -> str:
    """Send `message` through the profile's mailer unless the alert `key` was mailed; its Message-ID or ""."""
    from store import operator_mail

    profile = load_profile()
    with profile.database.session() as session:
        if not operator_mail.claim(session, key, details, STALE_CLAIM):
            return ""
    try:
        message_id = profile.mailer.send(message)
    except BaseException:
        with profile.database.session() as session:
            operator_mail.release(session, key)
        raise
    with profile.database.session() as session:
        operator_mail.sent(session, key, message_id, details)
    return message_id


@task(retries=2, retry_delay_seconds=5)
def mail_operators(flow_run_id: str, to: str) -> str:
    """Mail the operators about flow run `flow_run_id`; return the Message-ID ("" when skipped)."""
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(UUID(flow_run_id))
        deployment = client.read_deployment(run.deployment_id) if run.deployment_id else None
    if deployment is not None and deployment.name == NOTIFIER_DEPLOYMENT.split("/")[1]:
        get_run_logger().warning("not mailing about the notifier's own run %s (no loops)", flow_run_id)
        return ""
    ui = PREFECT_UI_URL.value() or (PREFECT_API_URL.value() or "").removesuffix("/api") or None
    message = failure_message(run.name, flow_run_id, run.state_name or "Failed",
                              run.state.message if run.state else None,
                              deployment.name if deployment else None, ui, to)
    # One mail per run, however often the automation fires for it (a Failed then Crashed run, an
    # event delivered twice, a retried notifier).
    details = {"flow_run_id": flow_run_id, "state": run.state_name}
    sent = mail_once(f"failed-run:{flow_run_id}", message, details)
    if not sent:
        get_run_logger().info("operators were already mailed about run %s", flow_run_id)
    return sent
