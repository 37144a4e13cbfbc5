"""Operator notifications: the flow the failure automation runs for every failed or crashed run.

The automation itself (nightshift-notify-failed-runs) is created by `nightshift bootstrap`
(deployments/operations/automations.py); the mail goes through the profile's Mailer block.
"""

from prefect import flow

from tasks.operators import mail_operators


def _notify_run_name() -> str:
    from prefect.runtime import flow_run

    failed_run = str(flow_run.parameters.get("flow_run_id", ""))
    return "notify-failed-run-" + failed_run.removeprefix("prefect.flow-run.")


@flow(name="notify-failed-run", flow_run_name=_notify_run_name)
def notify_failed_run(flow_run_id: str, to: str = "operators@localhost") -> str:
    """Mail the operators that a flow run failed or crashed, with its error and a link to retry it."""
    return mail_operators(flow_run_id.removeprefix("prefect.flow-run."), to)
