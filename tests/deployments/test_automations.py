"""Operations automations: created once by bootstrap, and the failure mail sent through the Mailer block."""

from __future__ import annotations

import asyncio
import email
import email.policy
from pathlib import Path

from prefect import flow
from prefect.client.orchestration import get_client
from prefect.events.actions import RunDeployment

from blocks.profile import clear_profile_cache
from deployments.operations.automations import (
    NOTIFY_AUTOMATION,
    REPLACED_AUTOMATIONS,
    ensure_automations,
    notify_automation,
)
from deployments.operations.bootstrap import bootstrap
from flows.operators import notify_failed_run


def _automations() -> dict[str, int]:
    async def read() -> dict[str, int]:
        async with get_client() as client:
            names = [a.name for a in await client.read_automations()]
        return {name: names.count(name) for name in names}

    return asyncio.run(read())


def test_bootstrap_creates_the_automation_once_and_removes_the_replaced_ones(prefect_api, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from prefect.automations import Automation
    from prefect.events.actions import DoNothing
    from prefect.events.schemas.automations import EventTrigger

    old = Automation(name=REPLACED_AUTOMATIONS[0], trigger=EventTrigger(expect={"prefect.flow-run.heartbeat"}),
                     actions=[DoNothing()])
    old.create()  # what an older bootstrap left
    bootstrap("automations-test", home=tmp_path)
    bootstrap("automations-test", home=tmp_path)
    assert asyncio.run(ensure_automations()) == []  # nothing left to create
    counts = _automations()
    assert not set(REPLACED_AUTOMATIONS) & set(counts)  # zombie runs are the watchdog's now
    assert NOTIFY_AUTOMATION not in counts  # its deployment is not deployed in this test's server


def test_notify_automation_runs_the_notifier_with_the_failed_run() -> None:
    from uuid import uuid4

    deployment_id = uuid4()
    automation = notify_automation(deployment_id, "ops@example.com")
    assert automation.trigger.expect == {"prefect.flow-run.Failed", "prefect.flow-run.Crashed"}
    [action] = automation.actions
    assert isinstance(action, RunDeployment) and action.deployment_id == deployment_id
    assert action.parameters == {"flow_run_id": "{{ event.resource.id }}", "to": "ops@example.com"}


@flow(name="always-fails", flow_run_name="always-fails-7")
def always_fails() -> None:
    raise RuntimeError("document 7 could not be fetched: HTTP 503")


def test_notifier_mails_the_operators_about_a_failed_run(profile, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    state = always_fails(return_state=True)
    assert state.is_failed()
    message_id = notify_failed_run(f"prefect.flow-run.{state.state_details.flow_run_id}", to="ops@example.com")
    outbox = Path(profile.mailer.folder)
    [sent] = [email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in outbox.glob("*.eml")
              if message_id.strip("<>") in p.read_text()]
    assert sent["To"] == "ops@example.com" and sent["Subject"] == "[nightshift] Failed: always-fails-7"
    body = sent.get_content()
    assert "document 7 could not be fetched" in body and str(state.state_details.flow_run_id) in body
    clear_profile_cache()


def test_a_failed_run_is_mailed_once_however_often_the_notifier_runs(profile) -> None:  # type: ignore[no-untyped-def]
    state = always_fails(return_state=True)
    run_id = f"prefect.flow-run.{state.state_details.flow_run_id}"
    first = notify_failed_run(run_id, to="ops@example.com")
    again = [notify_failed_run(run_id, to="ops@example.com") for _ in range(2)]
    assert first and again == ["", ""]
    mails = [p for p in Path(profile.mailer.folder).glob("*.eml") if str(state.state_details.flow_run_id) in p.read_text()]
    assert len(mails) == 1
    clear_profile_cache()
