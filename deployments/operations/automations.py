"""Operations automation: mail the operators about failed or crashed runs, once per run.

Created (once, by name) by `nightshift bootstrap`. The mail goes through the profile's Mailer block by
running the small `notify-failed-run` deployment (flows/operators.py). Runs whose worker died are
crashed by the watchdog (deployments/operations/watchdog.py), which this automation then reports like
any other crash.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from uuid import UUID

from prefect.automations import Automation
from prefect.client.orchestration import get_client
from prefect.events.actions import RunDeployment
from prefect.events.schemas.automations import EventTrigger, Posture
from prefect.events.schemas.events import ResourceSpecification
from prefect.exceptions import ObjectNotFound

from tasks.operators import NOTIFIER_DEPLOYMENT, OPERATORS_ENV

logger = logging.getLogger("nightshift.automations")

NOTIFY_AUTOMATION = "nightshift-notify-failed-runs"
# Zombie and stuck-pending runs are crashed by the watchdog (watchdog.py); these automations did it before.
REPLACED_AUTOMATIONS = ("nightshift-crash-zombie-runs", "nightshift-crash-stuck-pending-runs")


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
    deployments/operations/watchdog.py) are deleted.
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
            for replaced in await client.read_automations_by_name(name):
                await client.delete_automation(replaced.id)
        created = []
        for automation in wanted:
            if not await client.read_automations_by_name(automation.name):
                await automation.acreate()
                created.append(automation.name)
    return created
