"""infra/ agrees with the code: compose file, Helm values and work-pool templates, parsed and cross-checked."""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
from pathlib import Path

import pytest
import yaml
from prefect.settings.models.root import Settings
from prefect.utilities.templating import apply_values
from prefect.workers.process import ProcessJobConfiguration
from prefect_redis.client import RedisMessagingSettings
from pydantic import AliasChoices
from pydantic_settings import BaseSettings

from deployments.operations.bootstrap import WORK_POOLS, base_job_template

ROOT = Path(__file__).resolve().parents[1]
INFRA = ROOT / "infra"
COMPOSE = yaml.safe_load((INFRA / "compose.yaml").read_text())
SERVICES = COMPOSE["services"]
DEPLOYMENTS = yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]
HELM_SERVER = yaml.safe_load((INFRA / "helm" / "prefect-server-values.yaml").read_text())
HELM_WORKERS = {pool: yaml.safe_load((INFRA / "helm" / f"prefect-worker-{pool}-values.yaml").read_text())
                for pool in WORK_POOLS}
# What a flow-run process needs so that the Jobs API can read its result, and the watchdog sees its heartbeats.
RUN_ENV = {"PREFECT_RESULTS_PERSIST_BY_DEFAULT": "true", "PREFECT_RESULTS_DEFAULT_SERIALIZER": "json",
           "PREFECT_TASKS_DEFAULT_PERSIST_RESULT": "false", "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "30"}


def _setting_names(model: type[BaseSettings]) -> set[str]:
    """Every environment variable a Prefect settings model reads."""
    names = set()
    for field_name, field in model.model_fields.items():
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseSettings):
            names |= _setting_names(field.annotation)
            continue
        if isinstance(field.validation_alias, AliasChoices):
            names |= {c.upper() for c in field.validation_alias.choices if isinstance(c, str)}
        names.add((model.model_config.get("env_prefix", "") + field_name).upper())
    return names


PREFECT_SETTINGS = _setting_names(Settings) | _setting_names(RedisMessagingSettings)


def _helm_env(values: dict, key: str) -> dict[str, str]:
    return {e["name"]: e["value"] for e in values[key]}


def _all_env() -> list[tuple[str, str, str]]:
    """(where, name, value) of every environment variable infra/ sets."""
    found = [(name, k, str(v)) for name, svc in SERVICES.items() for k, v in (svc.get("environment") or {}).items()]
    found += [("helm server", k, v) for k, v in _helm_env(HELM_SERVER["server"], "env").items()]
    for pool, values in HELM_WORKERS.items():
        found += [(f"helm worker {pool}", k, v) for k, v in _helm_env(values["worker"], "extraEnvVars").items()]
    for pool in WORK_POOLS:
        env = base_job_template(pool)["variables"]["properties"]["env"]["default"]
        found += [(f"template {pool}", k, v) for k, v in env.items()]
    return found


def test_every_prefect_variable_is_a_real_setting() -> None:
    unknown = [(where, name) for where, name, _ in _all_env()
               if name.startswith("PREFECT_") and name not in PREFECT_SETTINGS]
    assert not unknown, f"not Prefect settings (typo or renamed): {unknown}"
    assert "PREFECT_BOGUS_SETTING" not in PREFECT_SETTINGS  # the check can fail


def test_server_uses_postgresql_and_redis_messaging() -> None:
    server = SERVICES["prefect-server"]["environment"]
    assert server["PREFECT_API_DATABASE_CONNECTION_URL"].startswith("postgresql+asyncpg://")
    assert "@postgres:5432/" in server["PREFECT_API_DATABASE_CONNECTION_URL"]
    assert server["PREFECT_REDIS_MESSAGING_HOST"] == "redis"
    assert server["PREFECT_SERVER_DOCKET_URL"].startswith("redis://redis:")
    helm = _helm_env(HELM_SERVER["server"], "env")
    for env in (server, helm):
        for key in ("PREFECT_MESSAGING_BROKER", "PREFECT_MESSAGING_CACHE", "PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE"):
            importlib.import_module(env[key])  # the module the server will load exists
            assert env[key].startswith("prefect_redis."), key
    assert set(SERVICES["prefect-server"]["depends_on"]) == {"postgres", "redis"}
    assert HELM_SERVER["postgresql"]["enabled"] is False  # external PostgreSQL, not the chart's SQLite default


def _worker_services() -> dict[str, dict]:
    workers = {}
    for svc in SERVICES.values():
        command = svc.get("command") or []
        if command[:2] == ["nightshift", "worker"]:
            workers[command[command.index("--pool") + 1]] = svc
    return workers


def test_a_worker_for_every_pool_and_every_deployment_has_one() -> None:
    workers = _worker_services()
    assert set(workers) == set(WORK_POOLS) == set(HELM_WORKERS)
    for deployment in DEPLOYMENTS:
        assert deployment["work_pool"]["name"] in workers, deployment["name"]
    for pool, svc in workers.items():
        # `nightshift worker` starts a process worker with its fork server; the pools' command forks from it.
        assert svc["command"] == ["nightshift", "worker", "--pool", pool]
        template = json.loads((ROOT / "infra" / "work-pools" / f"{pool}.json").read_text())
        assert template["variables"]["properties"]["command"]["default"] == "python -m deployments.worker.launch"
        assert importlib.util.find_spec("deployments.worker.launch") is not None
        assert HELM_WORKERS[pool]["worker"]["config"] == HELM_WORKERS[pool]["worker"]["config"] | {
            "workPool": pool, "type": "process"}
    gpu_devices = workers["gpu"]["deploy"]["resources"]["reservations"]["devices"]
    assert gpu_devices == [{"driver": "nvidia", "count": "all", "capabilities": ["gpu"]}]
    assert "deploy" not in workers["cpu"]
    assert HELM_WORKERS["gpu"]["worker"]["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert "nvidia.com/gpu" not in HELM_WORKERS["cpu"]["worker"]["resources"]["limits"]


def test_workers_persist_json_results_where_the_jobs_api_reads_them() -> None:
    workers = _worker_services()
    api = SERVICES["jobs-api"]
    for pool, svc in workers.items():
        env = {k: str(v) for k, v in svc["environment"].items()}
        assert RUN_ENV.items() <= env.items(), pool
        assert RUN_ENV.items() <= _helm_env(HELM_WORKERS[pool]["worker"], "extraEnvVars").items(), pool
        results = env["PREFECT_LOCAL_STORAGE_PATH"]
        mounts = {v.split(":")[1]: v.split(":")[0] for v in svc["volumes"]}
        api_mounts = {v.split(":")[1]: v.split(":")[0] for v in api["volumes"]}
        assert mounts[results] == api_mounts[results], "workers and the Jobs API must share the results volume"
        assert env["PREFECT_API_URL"] == api["environment"]["PREFECT_API_URL"]
    assert api["command"][:3] == ["python", "-m", "deployments.api"]
    assert "NIGHTSHIFT_JOBS_API_TOKEN" in api["environment"]


def test_clients_point_at_the_server_they_start() -> None:
    port = SERVICES["prefect-server"]["command"][SERVICES["prefect-server"]["command"].index("--port") + 1]
    for name, svc in SERVICES.items():
        url = (svc.get("environment") or {}).get("PREFECT_API_URL")
        if url:
            assert url == f"http://prefect-server:{port}/api", name
    for pool, values in HELM_WORKERS.items():
        assert values["worker"]["selfHostedServerApiConfig"]["apiUrl"].endswith(":4200/api"), pool
    for svc in SERVICES.values():
        for dependency in svc.get("depends_on") or {}:
            assert dependency in SERVICES


@pytest.mark.parametrize("pool", sorted(WORK_POOLS))
def test_base_job_templates_render_the_run_environment(pool: str) -> None:
    template = json.loads((INFRA / "work-pools" / f"{pool}.json").read_text())
    assert template == base_job_template(pool)  # what bootstrap applies
    defaults = {name: spec["default"] for name, spec in template["variables"]["properties"].items() if "default" in spec}
    rendered = ProcessJobConfiguration(**apply_values(template["job_configuration"], defaults))
    assert RUN_ENV.items() <= rendered.env.items()
    assert rendered.env["NIGHTSHIFT_POOL"] == pool


def test_image_carries_every_package_the_code_needs() -> None:
    dockerfile = (INFRA / "Dockerfile").read_text()
    copied = set(re.findall(r"^COPY (\S+) ", dockerfile, flags=re.MULTILINE))
    for package in ("flows", "tasks", "blocks", "store", "deployments", "infra", "prefect.yaml"):
        assert package in copied, package
    for deployment in DEPLOYMENTS:
        assert deployment["entrypoint"].split("/")[0] in copied, deployment["name"]
    assert "CREATE DATABASE nightshift" in (INFRA / "postgres-init.sql").read_text()
    assert "/nightshift" in SERVICES["bootstrap"]["environment"]["APP_DATABASE_URL"]


def _json_safe(annotation: object) -> bool:
    """Whether results of this type survive Prefect's JSON serializer for a non-Python reader."""
    import types
    import typing

    from pydantic import BaseModel

    origin = typing.get_origin(annotation)
    if origin in (list, tuple, typing.Union, types.UnionType, dict):
        return all(_json_safe(arg) for arg in typing.get_args(annotation) if arg is not Ellipsis)
    if origin is typing.Literal:
        return True
    return annotation in (str, int, float, bool, type(None)) or (
        isinstance(annotation, type) and issubclass(annotation, BaseModel))


@pytest.mark.parametrize("deployment", DEPLOYMENTS, ids=lambda d: d["name"])
def test_every_flow_returns_what_the_json_serializer_keeps(deployment: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    import typing

    from prefect.flows import load_flow_from_entrypoint

    monkeypatch.chdir(ROOT)
    flow = load_flow_from_entrypoint(deployment["entrypoint"])
    returns = typing.get_type_hints(flow.fn)["return"]
    assert _json_safe(returns), f"{deployment['name']} returns {returns}: the Jobs API could not read it as JSON"


def test_image_runs_the_helm_charts_worker_command_with_the_fork_server() -> None:
    """The prefect-worker chart runs `tini -g -- /opt/prefect/entrypoint.sh prefect worker start …`."""
    import os
    import subprocess
    import sys

    dockerfile = (INFRA / "Dockerfile").read_text()
    assert "tini" in dockerfile and "infra/worker-entrypoint.sh /opt/prefect/entrypoint.sh" in dockerfile
    entrypoint = INFRA / "worker-entrypoint.sh"
    env = os.environ | {"PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["sh", str(entrypoint), *args], env=env, capture_output=True, text=True, timeout=120)

    # What the chart passes becomes `nightshift worker` with the same options (its --help shows whose it is).
    worker = run("prefect", "worker", "start", "--type", "process", "--pool", "cpu", "--help")
    assert worker.returncode == 0, worker.stderr
    assert "usage: nightshift worker" in worker.stdout and "--no-fork-server" in worker.stdout
    # Any other command (the server, the Jobs API, a shell) runs unchanged.
    other = run(sys.executable, "-c", "import sys; print('as given', sys.argv[1:])", "x")
    assert other.returncode == 0 and other.stdout.strip() == "as given ['x']"
