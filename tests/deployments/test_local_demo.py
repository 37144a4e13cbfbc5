"""The README's demo path, for real: server, bootstrap, deploy from prefect.yaml, worker, run, stop."""

from __future__ import annotations

import os
import re
import socket
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _todos(output: str) -> list[str]:
    return re.findall(r"^\s+#\d+\s+due .*$", output, flags=re.MULTILINE)


@pytest.mark.timeout(600)
def test_demo_runs_end_to_end_and_is_safe_to_repeat(tmp_path: Path) -> None:
    port = _free_port()
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "NIGHTSHIFT_"))}
    env |= {"NIGHTSHIFT_HOME": str(home), "NIGHTSHIFT_PREFECT_PORT": str(port),
            "NIGHTSHIFT_JOBS_API_PORT": str(_free_port())}

    def local(command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", "deployments/demo/local.sh", command], cwd=ROOT, env=env, text=True,
                              capture_output=True, timeout=300)

    def mails() -> list[str]:
        return sorted(path.name for path in (home / "outbox").glob("*.eml"))

    try:
        first = local("demo")
        assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
        assert "flow run 'extract-todos-execution-1': Completed" in first.stdout
        todos = _todos(first.stdout)
        assert len(todos) >= 3, first.stdout
        assert f"http://127.0.0.1:{port}/runs/flow-run/" in first.stdout
        sent = mails()
        assert len(sent) == 2, sent  # the daily todo e-mail and "… is ready to search"
        assert "flow run 'ingest-pdf-source-1': Completed" in first.stdout

        second = local("demo")
        assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
        assert "server: already answering" in second.stdout
        assert _todos(second.stdout) == todos  # the same todos, none added
        assert mails() == sent  # no e-mail of any kind the second time
        assert re.search(r"source 1: ingested, [1-9]\d* chunks", second.stdout)  # the PDF's result, shown
        assert "already ingested" in second.stdout
    finally:
        stopped = local("stop")
    assert "server: stopped" in stopped.stdout
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0, "the server still listens after stop"
    worker_log = (home / "run" / "worker-cpu.log").read_text()
    # One SIGTERM stopped the worker, its fork server and removed the fork server's socket folder.
    assert "stopped on SIGTERM" in worker_log and "still running" not in stopped.stderr + worker_log
    sockets = re.findall(r"fork server: ready on (\S+)/sock", worker_log)
    assert sockets and not [folder for folder in sockets if Path(folder).exists()]
    # Nothing printed on every run: runpy's warning in each forked run, Prefect's events left at exit.
    for output in (first.stdout + first.stderr, second.stdout + second.stderr, worker_log):
        assert "found in sys.modules" not in output and "Still processing items" not in output
