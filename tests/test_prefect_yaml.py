"""prefect.yaml agrees with the code: entrypoints are flows, parameters fit them, pools exist."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from prefect.client.schemas.schedules import CronSchedule
from prefect.flows import Flow, load_flow_from_entrypoint

from deployments.operations.bootstrap import WORK_POOLS

ROOT = Path(__file__).resolve().parents[1]
DEPLOYMENTS = yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]


def test_deployment_names_are_unique() -> None:
    names = [d["name"] for d in DEPLOYMENTS]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("deployment", DEPLOYMENTS, ids=lambda d: d["name"])
def test_deployment_matches_its_flow(deployment: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    flow = load_flow_from_entrypoint(deployment["entrypoint"])
    assert isinstance(flow, Flow)
    parameters = deployment.get("parameters") or {}
    assert set(parameters) <= set(flow.parameters.properties), "unknown parameters"
    if deployment.get("schedules"):
        flow.validate_parameters(parameters)  # scheduled runs get nothing else: all required ones must be here
    assert deployment["work_pool"]["name"] in WORK_POOLS
    assert deployment["work_pool"].get("work_queue_name")
    for schedule in deployment.get("schedules") or []:
        assert schedule["timezone"] == "UTC"
        CronSchedule(cron=schedule["cron"], timezone=schedule["timezone"])  # raises on an invalid cron
