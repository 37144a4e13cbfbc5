"""The production Prefect API answers only callers with its auth string: block secrets stay with nightshift."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
COMPOSE = yaml.safe_load((INFRA / "compose.yaml").read_text())["services"]
AUTH = "admin:" + base64.urlsafe_b64encode(os.urandom(12)).decode()


def _auth_env(service: str) -> dict[str, str]:
    """The variables compose sets on `service` from ${PREFECT_API_AUTH_STRING}, with this test's value."""
    env = COMPOSE[service].get("environment") or {}
    return {k: AUTH for k, v in env.items() if str(v).startswith("${PREFECT_API_AUTH_STRING")}


def test_compose_protects_the_server_and_configures_every_client() -> None:
    server = COMPOSE["prefect-server"]
    assert server["environment"]["PREFECT_SERVER_API_AUTH_STRING"].startswith("${PREFECT_API_AUTH_STRING:?")
    assert all(port.startswith("127.0.0.1:") for port in server["ports"]), "the Prefect API is published on loopback only"
    clients = {name: svc["environment"] for name, svc in COMPOSE.items()
               if "PREFECT_API_URL" in (svc.get("environment") or {})}
    assert {"bootstrap", "worker-cpu", "worker-gpu", "jobs-api"} <= set(clients)
    for name, env in clients.items():
        assert env.get("PREFECT_API_AUTH_STRING") == server["environment"]["PREFECT_SERVER_API_AUTH_STRING"], name


def test_helm_values_enable_basic_auth_on_the_server_and_the_workers() -> None:
    server = yaml.safe_load((INFRA / "helm" / "prefect-server-values.yaml").read_text())["server"]["basicAuth"]
    assert server["enabled"] is True and server["existingSecret"]
    for pool in ("cpu", "gpu"):
        values = yaml.safe_load((INFRA / "helm" / f"prefect-worker-{pool}-values.yaml").read_text())
        worker = values["worker"]["selfHostedServerApiConfig"]["basicAuth"]
        assert worker == {"enabled": True, "existingSecret": server["existingSecret"]}, pool


@pytest.fixture(scope="module")
def protected_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`prefect server start` with the auth settings compose gives it (on SQLite here)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env |= {"PREFECT_HOME": str(tmp_path_factory.mktemp("prefect-home")), **_auth_env("prefect-server"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1", "PREFECT_UI_ENABLED": "false"}
    process = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                                "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None and time.monotonic() < deadline, "the Prefect server did not start"
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_block_secrets_are_refused_without_the_auth_string(protected_server: str) -> None:
    """block_documents/filter?include_secrets=true returned every secret to anyone who reached the server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    # A client configured as compose configures the workers and the Jobs API stores a secret.
    env |= {"PREFECT_API_URL": protected_server, **_auth_env("jobs-api"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    script = ("from prefect.blocks.system import Secret\n"
              "Secret(value='sk-live-secret').save('hostile-llm-key', overwrite=True)\n"
              "print(Secret.load('hostile-llm-key').get())\n")
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0 and done.stdout.strip() == "sk-live-secret", done.stderr[-2000:]

    stranger = httpx.post(f"{protected_server}/block_documents/filter", params={"include_secrets": "true"}, json={"include_secrets": True})
    assert stranger.status_code == 401 and "sk-live-secret" not in stranger.text
    wrong = httpx.post(f"{protected_server}/block_documents/filter", params={"include_secrets": "true"}, json={"include_secrets": True},
                       auth=("admin", "guess"))
    assert wrong.status_code == 401
    operator = httpx.post(f"{protected_server}/block_documents/filter", params={"include_secrets": "true"}, json={"include_secrets": True},
                          auth=tuple(AUTH.split(":", 1)))  # type: ignore[arg-type]
    assert operator.status_code == 200 and "sk-live-secret" in operator.text
