"""`nightshift worker` for real: a Prefect process worker and its fork server, a deployment run, one SIGTERM."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fork_flows import run_state
from prefect import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.client.schemas.objects import StateType
from prefect.settings import PREFECT_API_URL
from prefect.utilities.asyncutils import run_coro_as_sync

from deployments.operations.bootstrap import base_job_template

ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT = "tests/fork_flows.py:fork_probe"
NOISE = ("found in sys.modules", "Still processing items")

pytestmark = pytest.mark.usefixtures("prefect_api")


def _deploy(pool: str) -> str:
    async def create() -> str:
        async with get_client() as client:
            await client.create_work_pool(WorkPoolCreate(name=pool, type="process",
                                                         base_job_template=base_job_template("cpu")))
            flow_id = await client.create_flow_from_name("fork-probe")
            deployment_id = await client.create_deployment(
                flow_id=flow_id, name=pool, entrypoint=ENTRYPOINT, work_pool_name=pool, path=str(ROOT),
                pull_steps=[{"prefect.deployments.steps.set_working_directory": {"directory": str(ROOT)}}],
            )
            return str(deployment_id)

    return run_coro_as_sync(create())


def _run(deployment_id: str, record: Path) -> str:
    async def create() -> str:
        async with get_client() as client:
            run = await client.create_flow_run_from_deployment(deployment_id, parameters={"record": str(record)})
            return str(run.id)

    return run_coro_as_sync(create())


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) is gone for our purposes.
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"


class Worker:
    """`nightshift worker` in a process of its own, its output in a file, its temporary files in `tmp`."""

    def __init__(self, folder: Path, pool: str, *options: str) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="nsw-"))  # short: a socket path allows ~100 bytes
        folder.mkdir(parents=True)
        self.log = folder / "worker.log"
        env = {k: v for k, v in os.environ.items() if k != "NIGHTSHIFT_FORKSERVER"}
        env |= {"PREFECT_API_URL": PREFECT_API_URL.value(), "PYTHONPATH": str(ROOT), "TMPDIR": str(self.tmp),
                "PREFECT_WORKER_QUERY_SECONDS": "1"}
        with open(self.log, "wb") as out:
            # As local.sh starts it (`nohup … &` in a non-interactive shell): with SIGINT ignored.
            self.process = subprocess.Popen(
                [sys.executable, "-m", "deployments.operations.cli", "worker", "--pool", pool, "--name", pool, *options],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, text: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output():
            assert self.process.poll() is None, f"the worker exited:\n{self.output()[-3000:]}"
            assert time.monotonic() < deadline, f"no {text!r} in {timeout} s:\n{self.output()[-3000:]}"
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)
        shutil.rmtree(self.tmp, ignore_errors=True)


@pytest.fixture
def worker_factory(tmp_path: Path) -> Iterator:  # type: ignore[type-arg]
    started: list[Worker] = []

    def start(pool: str, *options: str) -> Worker:
        started.append(Worker(tmp_path / pool, pool, *options))
        return started[-1]

    yield start
    for worker in started:
        worker.stop()


@pytest.mark.timeout(300)
def test_a_run_on_the_worker_logs_no_noise_and_one_sigterm_stops_everything(worker_factory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    deployment_id = _deploy("worker-stop-test")
    worker = worker_factory("worker-stop-test")
    worker.wait_for("Worker 'worker-stop-test' started!")
    assert "fork server ready" in worker.output()
    [folder] = list(worker.tmp.glob("nightshift-fork-*"))  # the fork server's socket folder
    helpers = _children(worker.process.pid)
    assert len(helpers) == 2  # the fork server and the Prefect worker, under this one process

    record = tmp_path / "record.json"
    run_id = _run(deployment_id, record)
    deadline = time.monotonic() + 120
    while run_state(run_id) not in (StateType.COMPLETED, StateType.FAILED, StateType.CRASHED):
        assert time.monotonic() < deadline, worker.output()[-3000:]
        time.sleep(0.5)
    assert run_state(run_id) == StateType.COMPLETED, worker.output()[-3000:]
    server_pid = int(re.search(r"fork server ready \(pid (\d+)\)", worker.output()).group(1))
    assert json.loads(record.read_text())["ppid"] == server_pid  # forked by the fork server
    # The run's last lines reach the worker's output after the server has its state (seconds on a busy machine).
    worker.wait_for("Finished in state Completed", timeout=30)
    log = worker.output()
    assert "fork-probe" in log
    for noise in NOISE:
        assert noise not in log, log

    started = time.monotonic()
    worker.process.send_signal(signal.SIGTERM)
    worker.process.wait(timeout=15)
    seconds = time.monotonic() - started
    assert seconds < 8, f"one SIGTERM took {seconds:.1f} s"
    assert worker.process.returncode == 0, worker.output()[-3000:]
    assert not folder.exists() and not list(worker.tmp.glob("nightshift-*"))
    assert not [pid for pid in helpers if _alive(pid)], "the fork server or the Prefect worker outlived it"
    output = worker.output()
    assert "Worker 'worker-stop-test' stopped!" in output and "still running" not in output  # stopped, not killed
    assert "fork server: stopped" in output and "stopped on SIGTERM" in output


@pytest.mark.timeout(120)
def test_without_a_fork_server_one_sigint_stops_the_worker(worker_factory) -> None:  # type: ignore[no-untyped-def]
    run_coro_as_sync(_create_pool("worker-plain-test"))
    worker = worker_factory("worker-plain-test", "--no-fork-server")
    worker.wait_for("Worker 'worker-plain-test' started!")
    [prefect_worker] = _children(worker.process.pid)
    started = time.monotonic()
    worker.process.send_signal(signal.SIGINT)
    worker.process.wait(timeout=15)
    assert time.monotonic() - started < 8
    assert worker.process.returncode == 0 and not _alive(prefect_worker)
    assert "Worker 'worker-plain-test' stopped!" in worker.output() and "still running" not in worker.output()
    assert "fork server" not in worker.output() and not list(worker.tmp.glob("nightshift-*"))


@pytest.mark.timeout(120)
def test_killed_hard_the_worker_takes_its_prefect_worker_and_fork_server_along(worker_factory) -> None:  # type: ignore[no-untyped-def]
    run_coro_as_sync(_create_pool("worker-kill-test"))
    worker = worker_factory("worker-kill-test")
    worker.wait_for("Worker 'worker-kill-test' started!")
    [folder] = list(worker.tmp.glob("nightshift-fork-*"))
    helpers = _children(worker.process.pid)
    assert len(helpers) == 2
    worker.process.kill()  # no chance to clean up: its children learn of it from the kernel
    worker.process.wait(timeout=10)
    deadline = time.monotonic() + 15
    while [pid for pid in helpers if _alive(pid)] or folder.exists():
        assert time.monotonic() < deadline, f"still alive: {[pid for pid in helpers if _alive(pid)]}, {folder}"
        time.sleep(0.2)


async def _create_pool(name: str) -> None:
    async with get_client() as client:
        await client.create_work_pool(WorkPoolCreate(name=name, type="process", base_job_template=base_job_template("cpu")))


def test_events_of_a_command_are_sent_before_exit_not_during_it(prefect_api) -> None:  # type: ignore[no-untyped-def]
    """Blocks loaded by a command emit events; left queued at exit, Prefect prints "Still processing items"."""
    script = (
        "import sys\n"
        "from prefect.blocks.system import Secret\n"
        "Secret(value='x').save('events-at-exit', overwrite=True)\n"
        "for _ in range(5): Secret.load('events-at-exit')\n"
        "if sys.argv[1] == 'deliver':\n"
        "    from deployments.worker.forkserver import deliver_events\n"
        "    deliver_events()\n"
    )
    env = os.environ | {"PREFECT_API_URL": PREFECT_API_URL.value(), "PYTHONPATH": str(ROOT)}

    def run(mode: str) -> str:
        done = subprocess.run([sys.executable, "-c", script, mode], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout + done.stderr

    assert "Still processing items" in run("exit")  # what every command printed before
    assert "Still processing items" not in run("deliver")
