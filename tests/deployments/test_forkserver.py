"""The fork server and the launcher: runs forked from a preloaded process, signals, exits, fallback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fork_flows import fork_probe, run_state
from prefect import get_client
from prefect.client.schemas.objects import StateType
from prefect.settings import PREFECT_API_URL
from prefect.utilities.asyncutils import run_coro_as_sync

ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT = "tests/fork_flows.py:fork_probe"

pytestmark = pytest.mark.usefixtures("prefect_api")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "NIGHTSHIFT_FORKSERVER"}
    return env | {"PREFECT_API_URL": PREFECT_API_URL.value(), "PYTHONPATH": str(ROOT)} | extra


@pytest.fixture(scope="module")
def fork_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[subprocess.Popen, Path]]:
    socket_path = tmp_path_factory.mktemp("fork") / "sock"
    server = subprocess.Popen([sys.executable, "-m", "deployments.worker.forkserver", "--socket", str(socket_path)],
                              cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 90
    while not socket_path.exists():
        assert server.poll() is None, server.stdout.read() if server.stdout else ""
        assert time.monotonic() < deadline, "the fork server did not start in 90 s"
        time.sleep(0.1)
    yield server, socket_path
    server.terminate()
    server.wait(timeout=30)


def _flow_run(record: Path, seconds: float) -> str:
    async def create() -> str:
        async with get_client() as client:
            run = await client.create_flow_run(fork_probe, parameters={"record": str(record), "seconds": seconds})
            return str(run.id)

    return run_coro_as_sync(create())


def _launch(run_id: str, socket_path: Path | None) -> subprocess.Popen:
    extra = {"PREFECT__FLOW_RUN_ID": run_id, "PREFECT__FLOW_ENTRYPOINT": ENTRYPOINT}
    if socket_path is not None:
        extra["NIGHTSHIFT_FORKSERVER"] = str(socket_path)
    return subprocess.Popen([sys.executable, "-m", "deployments.worker.launch"], cwd=ROOT, env=_env(**extra),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(path: Path, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.read_text()):
        assert time.monotonic() < deadline, f"{path} never written"
        time.sleep(0.05)
    return json.loads(path.read_text())


def _gone(pid: int, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def test_a_run_forks_from_the_server_and_its_exit_and_output_reach_the_launcher(fork_server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    server, socket_path = fork_server
    record = tmp_path / "record.json"
    launcher = _launch(_flow_run(record, 0), socket_path)
    out, err = launcher.communicate(timeout=120)
    assert launcher.returncode == 0, err
    ran = json.loads(record.read_text())
    assert ran["ppid"] == server.pid and ran["pgid"] == ran["pid"]  # forked by the server, in its own group
    assert "new interpreter" not in err
    assert "fork-probe" in out + err  # the run's log lines came out through the launcher's own streams
    # A bad run id: the engine's error and exit code come back just as from `python -m prefect.engine`.
    bad = subprocess.run([sys.executable, "-m", "deployments.worker.launch", "not-a-uuid"], cwd=ROOT, text=True,
                         env=_env(NIGHTSHIFT_FORKSERVER=str(socket_path)), capture_output=True, timeout=60)
    assert bad.returncode == 1 and "Invalid flow run id" in bad.stderr and "new interpreter" not in bad.stderr


def test_sigterm_to_the_launcher_reaches_the_run(fork_server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _, socket_path = fork_server
    record = tmp_path / "record.json"
    run_id = _flow_run(record, 120)
    launcher = _launch(run_id, socket_path)
    ran = _wait_for(record)
    launcher.send_signal(signal.SIGTERM)
    launcher.communicate(timeout=60)
    assert launcher.returncode != 0
    assert _gone(ran["pid"])
    assert run_state(run_id) != StateType.COMPLETED


def test_a_launcher_killed_hard_takes_its_run_with_it(fork_server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    server, socket_path = fork_server
    record = tmp_path / "record.json"
    launcher = _launch(_flow_run(record, 120), socket_path)
    ran = _wait_for(record)
    launcher.kill()
    launcher.wait(timeout=30)
    assert _gone(ran["pid"]), "the forked run outlived its launcher"
    assert server.poll() is None  # the server itself carries on


def test_without_a_fork_server_the_launcher_runs_the_engine_itself(tmp_path) -> None:  # type: ignore[no-untyped-def]
    record = tmp_path / "record.json"
    launcher = _launch(_flow_run(record, 0), None)
    _, err = launcher.communicate(timeout=120)
    assert launcher.returncode == 0, err
    assert "NIGHTSHIFT_FORKSERVER is not set" in err
    assert json.loads(record.read_text())["pid"] == launcher.pid  # exec'd: the launcher became the engine
    unreachable = _launch(_flow_run(tmp_path / "second.json", 0), tmp_path / "no-such-socket")
    _, err = unreachable.communicate(timeout=120)
    assert unreachable.returncode == 0 and "unreachable" in err
