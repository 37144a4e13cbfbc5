"""The command process work pools start for each flow run: `python -m deployments.worker.launch`.

With NIGHTSHIFT_FORKSERVER naming the socket of a running fork server (deployments/worker/forkserver.py,
started by `nightshift worker`), the run is forked from a process that has already imported Prefect
and nightshift's flows: it starts in milliseconds instead of the seconds a fresh interpreter takes.
This launcher stays in between, so the worker sees one process as usual: it passes its environment,
working directory and standard streams to the fork server, forwards the signals it receives
(cancellation), and exits the way the run did. Without a fork server, or when it cannot be reached,
it becomes `python -m prefect.engine` itself.

Only the standard library is imported here: this module's own start-up is the cost it saves.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import sys

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing would cost this launcher's start-up
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any, NoReturn

SOCKET_ENV = "NIGHTSHIFT_FORKSERVER"
ENGINE = [sys.executable, "-m", "prefect.engine"]
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)


def send_message(sock: socket.socket, message: dict, fds: list[int] | None = None) -> None:
    data = json.dumps(message).encode()
    payload = struct.pack("!I", len(data)) + data
    if fds:
        socket.send_fds(sock, [payload], fds)
    else:
        sock.sendall(payload)


def read_messages(sock: socket.socket) -> Iterator[dict[str, Any]]:
    """Length-prefixed JSON messages until the peer closes."""
    buffer = b""
    while True:
        while len(buffer) >= 4:
            (size,) = struct.unpack("!I", buffer[:4])
            if len(buffer) < 4 + size:
                break
            yield json.loads(buffer[4 : 4 + size])
            buffer = buffer[4 + size :]
        try:
            chunk = sock.recv(65536)
        except InterruptedError:
            continue
        if not chunk:
            return
        buffer += chunk


def _fall_back(reason: str) -> NoReturn:
    print(f"nightshift launch: {reason}; starting the flow run in a new interpreter", file=sys.stderr, flush=True)
    os.execv(ENGINE[0], ENGINE + sys.argv[1:])  # noqa: S606 - our interpreter, an argument list


def _exit_like(status: int) -> None:
    """Exit with the run's code, or die of the signal that ended it (the worker tells them apart)."""
    if status < 0:
        signal.signal(-status, signal.SIG_DFL)
        os.kill(os.getpid(), -status)
    sys.exit(status)


def main() -> None:
    path = os.environ.get(SOCKET_ENV)
    if not path:
        _fall_back(f"{SOCKET_ENV} is not set")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
        send_message(sock, {"argv": sys.argv[1:], "env": dict(os.environ), "cwd": os.getcwd()},
                     [sys.stdin.fileno(), sys.stdout.fileno(), sys.stderr.fileno()])
    except OSError as error:
        sock.close()
        _fall_back(f"fork server at {path} unreachable ({error})")
    child: int | None = None
    pending: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        if child is None:
            pending.append(signum)
        else:
            try:
                os.kill(child, signum)
            except ProcessLookupError:
                pass

    for signum in FORWARDED:
        signal.signal(signum, forward)
    for message in read_messages(sock):
        if "error" in message:
            sock.close()
            _fall_back(f"fork server refused the run ({message['error']})")
        if "pid" in message:
            child = int(message["pid"])
            for queued in pending:
                forward(queued, None)
        if "status" in message:
            _exit_like(int(message["status"]))
    # The fork server went away before reporting the end of the run: the run itself goes on (the
    # kernel reparents it). Stay until it ends, so the worker keeps watching it, then report that its
    # exit code is unknown; the run's own final state is on the server.
    print("nightshift launch: lost the fork server; waiting for the flow run to end", file=sys.stderr, flush=True)
    if child is not None:
        _wait_gone(child)
    sys.exit(70)


def _wait_gone(pid: int) -> None:
    import select
    import time

    try:
        handle = os.pidfd_open(pid)
    except OSError:
        handle = None
    if handle is not None:
        while not select.select([handle], [], [], 60)[0]:
            pass
        os.close(handle)
        return
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.5)


if __name__ == "__main__":
    main()
