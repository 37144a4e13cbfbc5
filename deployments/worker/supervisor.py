"""`nightshift worker`: a Prefect process worker with a fork server beside it, both supervised here."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path


def run_worker(args: argparse.Namespace, extra: list[str]) -> int:
    """A Prefect process worker with a fork server beside it (see deployments/worker/forkserver.py).

    This process stays their parent. On the first SIGTERM or SIGINT it asks the worker to stop (SIGTERM,
    which Prefect's worker turns into a SIGINT to itself), kills it if it is still there after
    --stop-timeout seconds, stops the fork server and removes its socket folder. Flow runs already
    started go on: they are not the worker's to stop. The worker starts with SIGINT at its default:
    a background job of a non-interactive shell (`local.sh`, `nohup … &`) inherits SIGINT ignored, and
    a Prefect worker that ignores SIGINT acknowledges SIGTERM but never stops.
    """
    received: list[int] = []

    def on_signal(signum: int, _frame: object) -> None:
        received.append(signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_signal)
    kind = [] if "--type" in extra or "-t" in extra else ["--type", "process"]  # the Helm chart passes its own
    command = [sys.executable, "-m", "prefect", "worker", "start", "--pool", args.pool, *kind, *extra]
    # The pools' command is `python -m deployments.worker.launch`: "python" must be this interpreter.
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    folder: Path | None = None
    server: subprocess.Popen | None = None
    worker: subprocess.Popen | None = None
    try:
        if not args.no_fork_server:
            folder = Path(tempfile.mkdtemp(prefix="nightshift-fork-"))  # a short path: sockets allow ~100 bytes
            socket_path = folder / "sock"
            server = subprocess.Popen([sys.executable, "-m", "deployments.worker.forkserver", "--socket", str(socket_path)],
                                      preexec_fn=_child_setup(signal.SIGTERM))
            deadline = time.monotonic() + args.fork_server_timeout
            while (not socket_path.exists() and server.poll() is None and not received
                   and time.monotonic() < deadline):
                time.sleep(0.05)
            if socket_path.exists():
                os.environ["NIGHTSHIFT_FORKSERVER"] = str(socket_path)
                print(f"fork server ready (pid {server.pid}): flow runs start without a new interpreter", flush=True)
            elif not received:
                _end(server, 0)
                print("fork server did not start (see above): flow runs start in new interpreters", flush=True)
        if not received:
            worker = subprocess.Popen(command, preexec_fn=_child_setup(signal.SIGKILL))
            while not received and worker.poll() is None:
                time.sleep(0.1)
        if worker is not None and worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            if not _end(worker, args.stop_timeout):
                print(f"nightshift worker: the Prefect worker was still running {args.stop_timeout:g} s after "
                      "SIGTERM; ended it", flush=True)
    finally:
        if server is not None:
            _end(server, 10, signal.SIGTERM)
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
    if received:
        print(f"nightshift worker: stopped on {signal.Signals(received[0]).name}", flush=True)
        return 0
    return worker.returncode if worker is not None else 1


def _end(process: subprocess.Popen, timeout: float, signum: int | None = None) -> bool:
    """Signal `process` (if given), wait up to `timeout` s, then kill it. True if it ended on its own."""
    if signum is not None and process.poll() is None:
        process.send_signal(signum)
    try:
        process.wait(timeout)
        return True
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return False


def _child_setup(death_signal: int) -> Callable[[], None]:
    """A preexec_fn: SIGINT and SIGTERM at their defaults; `death_signal` when this process dies (Linux)."""
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        prctl = None

    def setup() -> None:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        if prctl is not None:
            prctl(1, death_signal)  # PR_SET_PDEATHSIG: killed hard, this process still takes them along

    return setup
