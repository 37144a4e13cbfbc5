"""Operations automation: mail the operators about failed or crashed runs, once per run.

Created (once, by name) by `nightshift bootstrap`. The mail goes through the profile's Mailer block by
running the small `notify-failed-run` deployment. Runs whose worker died are crashed by the watchdog
(deployments/watchdog.py), which this automation then reports like any other crash.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from email.message import EmailMessage
from uuid import UUID

from prefect import flow, get_run_logger, task
from prefect.automations import Automation
from prefect.client.orchestration import get_client
from prefect.events.actions import RunDeployment
from prefect.events.schemas.automations import EventTrigger, Posture
from prefect.events.schemas.events import ResourceSpecification
from prefect.exceptions import ObjectNotFound
from prefect.settings import PREFECT_API_URL, PREFECT_UI_URL

from blocks.profile import load_profile

logger = logging.getLogger("nightshift.automations")

NOTIFY_AUTOMATION = "nightshift-notify-failed-runs"
NOTIFIER_DEPLOYMENT = "notify-failed-run/notify-failed-run"
OPERATORS_ENV = "NIGHTSHIFT_OPERATOR_EMAIL"
# Zombie and stuck-pending runs are crashed by deployments/watchdog.py; these automations did it before.
REPLACED_AUTOMATIONS = ("nightshift-crash-zombie-runs", "nightshift-crash-stuck-pending-runs")
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


@task(retries=2, retry_delay_seconds=5)
def mail_operators(flow_run_id: str, to: str) -> str:
    """Mail the operators about flow run `flow_run_id`; return the Message-ID ("" when skipped)."""
    from prefect.utilities.asyncutils import run_coro_as_sync

    async def read() -> tuple:  # type: ignore[type-arg]
        async with get_client() as client:
            run = await client.read_flow_run(UUID(flow_run_id))
            deployment = await client.read_deployment(run.deployment_id) if run.deployment_id else None
            return run, deployment

    run, deployment = run_coro_as_sync(read())
    if deployment is not None and deployment.name == NOTIFIER_DEPLOYMENT.split("/")[1]:
        get_run_logger().warning("not mailing about the notifier's own run %s (no loops)", flow_run_id)
        return ""
    ui = PREFECT_UI_URL.value() or (PREFECT_API_URL.value() or "").removesuffix("/api") or None
    message = failure_message(run.name, flow_run_id, run.state_name or "Failed",
                              run.state.message if run.state else None,
                              deployment.name if deployment else None, ui, to)
    # One mail per run, however often the automation fires for it (a Failed then Crashed run, an
    # event delivered twice, a retried notifier).
    sent = mail_once(f"failed-run:{flow_run_id}", message, {"flow_run_id": flow_run_id, "state": run.state_name})
    if not sent:
        get_run_logger().info("operators were already mailed about run %s", flow_run_id)
    return sent


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


def _notify_run_name() -> str:
    from prefect.runtime import flow_run

    return "notify-failed-run-" + str(flow_run.parameters.get("flow_run_id", "")).removeprefix("prefect.flow-run.")


@flow(name="notify-failed-run", flow_run_name=_notify_run_name)
def notify_failed_run(flow_run_id: str, to: str = "operators@localhost") -> str:
    """Mail the operators that a flow run failed or crashed, with its error and a link to retry it."""
    return mail_operators(flow_run_id.removeprefix("prefect.flow-run."), to)


def notify_automation(notifier_deployment_id: UUID, to: str) -> Automation:
    """On every Failed or Crashed flow run, run the notifier deployment for it."""
    return Automation(
        name=NOTIFY_AUTOMATION,
        description="Mail the operators (profile's Mailer block) when a flow run fails or crashes.",
        trigger=EventTrigger(
            expect={"prefect.flow-run.Failed", "prefect.flow-run.Crashed"},
            match=ResourceSpecification({"prefect.resource.id": "prefect.flow-run.*"}),
            posture=Posture.Reactive, threshold=1, within=dt.timedelta(0),
        ),
        actions=[RunDeployment(source="selected", deployment_id=notifier_deployment_id,
                               parameters={"flow_run_id": "{{ event.resource.id }}", "to": to})],
    )


async def ensure_automations() -> list[str]:
    """Create the nightshift automations that are missing (by name); return the names created.

    Automations of older nightshifts that the watchdog replaced (zombie and stuck-pending runs, see
    deployments/watchdog.py) are deleted.
    """
    wanted = []
    async with get_client() as client:
        try:
            notifier = await client.read_deployment_by_name(NOTIFIER_DEPLOYMENT)
            wanted.append(notify_automation(notifier.id, os.environ.get(OPERATORS_ENV, "operators@localhost")))
        except ObjectNotFound:
            logger.info("deployment %s is not deployed yet: deploy prefect.yaml, then bootstrap again "
                           "to create %s", NOTIFIER_DEPLOYMENT, NOTIFY_AUTOMATION)
        for name in REPLACED_AUTOMATIONS:
            for automation in await client.read_automations_by_name(name):
                await client.delete_automation(automation.id)
        created = []
        for automation in wanted:
            if not await client.read_automations_by_name(automation.name):
                await automation.acreate()
                created.append(automation.name)
    return created
