"""A fork server for flow runs: Prefect and nightshift's flows imported once, each run forked from it.

A process worker starts every flow run in a new interpreter, which spends seconds importing Prefect,
SQLAlchemy and the flows before the run can even report Running. `nightshift worker` starts this
server beside the worker; the pools' command (deployments/worker/launch.py) then asks it to fork the run.

    python -m deployments.worker.forkserver --socket PATH [--prefect-yaml prefect.yaml]

What it preloads: Prefect's engine and collections, the module of every entrypoint in prefect.yaml,
and the libraries of NIGHTSHIFT_FORKSERVER_PRELOAD (default: spaCy, which the todo extractor's sentence
splitter imports on its first sentence: 3-6 s per run otherwise, the better part of a small job).
Other heavy libraries the flows import inside their tasks (onnxruntime, chromadb, unstructured) stay
out: they are loaded by the runs that need them. The server forks only while it
runs a single thread (a fork copies no other thread, and a lock held by one would stay held), and
refuses to start otherwise. Each child is its own session (process group); the launcher forwards
the worker's signals to it, and a child whose launcher disappears is killed with its group.

The server stops when its parent (the worker) exits or on SIGTERM/SIGINT; runs already forked go on.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import importlib
import json
import os
import selectors
import signal
import socket
import struct
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from deployments.worker.launch import send_message

ROOT = Path(__file__).resolve().parents[2]
# Imported by every run before it reports Running; the rest comes from prefect.yaml's entrypoints.
ENGINE_MODULES = ("prefect.engine", "prefect.flow_engine", "prefect.task_engine", "prefect._internal.metrics",
                  "prefect.runner.storage", "prefect.deployments.steps.core", "prefect.results")
PRELOAD_ENV, DEFAULT_PRELOAD = "NIGHTSHIFT_FORKSERVER_PRELOAD", "spacy"  # libraries: comma-separated


def entrypoint_modules(prefect_yaml: Path) -> list[str]:
    """Module names of the deployments' entrypoints ("flows/todos.py:extract_todos" → "flows.todos")."""
    import yaml

    config = yaml.safe_load(prefect_yaml.read_text()) or {}
    modules = []
    for deployment in config.get("deployments") or []:
        path = str(deployment.get("entrypoint") or "").partition(":")[0]
        if path.endswith(".py"):
            name = path.removesuffix(".py").replace("/", ".")
            if name not in modules:
                modules.append(name)
    return modules


def preload(modules: list[str]) -> None:
    """Import what every run needs, then check that nothing started a thread."""
    from prefect.plugins import load_prefect_collections

    for name in [*ENGINE_MODULES, *modules]:
        importlib.import_module(name)
    for name in filter(None, os.environ.get(PRELOAD_ENV, DEFAULT_PRELOAD).split(",")):
        try:
            importlib.import_module(name.strip())
        except ImportError as error:  # an optional library: the runs that need it import it themselves
            print(f"fork server: not preloading {name.strip()} ({error})", flush=True)
    load_prefect_collections()  # block types of installed collections (prefect-aws…), as a run would
    others = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
    if others:
        raise RuntimeError(f"threads running after the preload ({', '.join(others)}): refusing to fork from here")


class ForkServer:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.selector = selectors.DefaultSelector()
        self.children: dict[int, socket.socket | None] = {}  # None: its launcher is gone
        self.stopping = False
        self.parent = os.getppid()

    def serve(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(0o177)  # the socket is the owner's only: it runs code as this user
        try:
            listener.bind(str(self.path))
        finally:
            os.umask(old_umask)
        listener.listen(64)
        self.selector.register(listener, selectors.EVENT_READ, "accept")
        wake_read, wake_write = os.pipe()
        os.set_blocking(wake_read, False)
        os.set_blocking(wake_write, False)
        self.selector.register(wake_read, selectors.EVENT_READ, "signal")
        signal.set_wakeup_fd(wake_write)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        print(f"fork server: ready on {self.path} (pid {os.getpid()})", flush=True)
        try:
            while not self.stopping and os.getppid() == self.parent:
                for key, _ in self.selector.select(timeout=1.0):
                    if key.data == "accept":
                        self._accept(listener)
                    elif key.data == "signal":
                        with contextlib.suppress(BlockingIOError):
                            os.read(wake_read, 512)
                    else:
                        self._launcher_closed(key.fileobj, key.data)  # type: ignore[arg-type]
                self._reap()
        finally:
            signal.set_wakeup_fd(-1)
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            if self.path.parent.name.startswith("nightshift-fork-"):  # made for it by `nightshift worker`
                with contextlib.suppress(OSError):
                    self.path.parent.rmdir()  # only if empty; also when that process was killed hard
            listener.close()
            print(f"fork server: stopped; {len(self.children)} runs still going", flush=True)

    def _stop(self, *_: Any) -> None:
        self.stopping = True

    def _accept(self, listener: socket.socket) -> None:
        conn, _ = listener.accept()
        conn.settimeout(10)
        fds: list[int] = []
        try:
            request, fds = _receive_request(conn)
            pid = os.fork()
        except Exception as error:  # noqa: BLE001 - a bad request or a failed fork: this launcher falls back
            for fd in fds:
                os.close(fd)
            with contextlib.suppress(OSError):
                send_message(conn, {"error": f"{type(error).__name__}: {error}"})
            conn.close()
            return
        if pid == 0:
            self._child(request, fds, conn)  # never returns
        for fd in fds:
            os.close(fd)
        self.children[pid] = conn
        try:
            send_message(conn, {"pid": pid})
        except OSError:
            pass  # the launcher is gone already: found when its socket is read
        conn.setblocking(False)
        self.selector.register(conn, selectors.EVENT_READ, pid)

    def _launcher_closed(self, conn: socket.socket, pid: int) -> None:
        """The launcher never sends after its request: readable means it went away."""
        try:
            if conn.recv(1):
                return
        except BlockingIOError:
            return
        except OSError:
            pass
        self.selector.unregister(conn)
        conn.close()
        if self.children.get(pid) is conn:
            self.children[pid] = None  # reaped later, like any other child
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)  # killed hard by its worker: so is the run

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            conn = self.children.pop(pid, None)
            if conn is None:
                continue
            with contextlib.suppress(OSError):
                conn.setblocking(True)
                send_message(conn, {"status": os.waitstatus_to_exitcode(status)})
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(conn)
            conn.close()

    def _child(self, request: dict[str, Any], fds: list[int], conn: socket.socket) -> None:
        code = 1
        try:
            signal.set_wakeup_fd(-1)
            for signum in (signal.SIGCHLD, signal.SIGTERM):
                signal.signal(signum, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            for key in list(self.selector.get_map().values()):
                with contextlib.suppress(OSError):
                    os.close(key.fd)
            conn.close()
            os.setsid()
            for target, fd in zip((0, 1, 2), fds, strict=True):
                os.dup2(fd, target)
                os.close(fd)
            os.chdir(request["cwd"])
            os.environ.clear()
            os.environ.update(request["env"])
            code = run_engine(list(request["argv"]))
        except SystemExit as done:
            code = _exit_code(done)
        except BaseException:  # noqa: BLE001 - the child's last word goes to the run's stderr
            traceback.print_exc()
        finally:
            _finish_child(code)


def run_engine(argv: list[str]) -> int:
    """What `python -m prefect.engine ARGV…` does, in this already-loaded interpreter.

    The engine module's code runs again as `__main__` (what it imports is loaded already). Not through
    runpy: runpy.run_module warns that 'prefect.engine' is in sys.modules already on every run, which
    is true here by design (the preload), and would print that warning into every run's log.
    """
    import builtins
    import importlib.util
    import types

    import prefect.context

    prefect.context.refresh_global_settings_context()  # this run's environment, not the server's
    spec = importlib.util.find_spec("prefect.engine")
    if spec is None or spec.loader is None or spec.origin is None:
        raise RuntimeError("prefect.engine cannot be found in this interpreter")
    code = spec.loader.get_code(spec.name)  # type: ignore[attr-defined]
    main = types.ModuleType("__main__")
    main.__dict__.update(__file__=spec.origin, __cached__=spec.cached, __loader__=spec.loader,
                         __package__=spec.parent, __spec__=spec, __builtins__=builtins)
    sys.modules["__main__"] = main  # as `python -m` leaves it: this child runs nothing else
    sys.argv = [spec.origin, *argv]
    try:
        exec(code, main.__dict__)  # noqa: S102 - Prefect's own engine module, as `python -m` runs it
    except SystemExit as done:
        return _exit_code(done)
    finally:
        deliver_events()
    return 0


def deliver_events(timeout: float = 5.0) -> None:
    """Wait (at most `timeout` s) until the events and logs this process emitted have been sent.

    Prefect sends them from background queues that it drains at interpreter exit; a queue still
    holding items then logs "EventsWorker: Still processing items" as the process ends. Sending them
    before exit delivers the same items without that message.
    """
    from prefect._internal.concurrency.services import QueueService

    # every running service (events, logs…); mypy refuses reading its `dict[int, Self]` through the class
    services = list(QueueService._instances.values())  # type: ignore[misc]
    deadline = time.monotonic() + timeout
    for service in services:
        if getattr(service, "_stopped", True) or not getattr(service, "_started", False):
            continue
        waiter = threading.Thread(target=service.wait_until_empty, daemon=True)
        waiter.start()
        waiter.join(max(0.0, deadline - time.monotonic()))


def _exit_code(done: SystemExit) -> int:
    if done.code is None:
        return 0
    if isinstance(done.code, int):
        return done.code
    print(done.code, file=sys.stderr)
    return 1


def _finish_child(code: int) -> None:
    """The interpreter's own exit steps (threads, atexit, streams), then leave without unwinding."""
    try:
        threading._shutdown()  # type: ignore[attr-defined]  # join non-daemon threads, as at exit
        atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
    finally:
        os._exit(code)


def _receive_request(conn: socket.socket) -> tuple[dict[str, Any], list[int]]:
    data, fds, _flags, _address = socket.recv_fds(conn, 65536, 3)
    if len(fds) != 3:
        for fd in fds:
            os.close(fd)
        raise ValueError(f"expected stdin, stdout and stderr, got {len(fds)} descriptors")
    if len(data) < 4:
        data += conn.recv(4 - len(data), socket.MSG_WAITALL)
    (size,) = struct.unpack("!I", data[:4])
    body = data[4:]
    while len(body) < size:
        chunk = conn.recv(size - len(body))
        if not chunk:
            raise ConnectionError("launcher closed the connection mid-request")
        body += chunk
    return json.loads(body), fds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--socket", type=Path, required=True, help="where to listen (a Unix socket path)")
    parser.add_argument("--prefect-yaml", type=Path, default=ROOT / "prefect.yaml",
                        help="preload the modules of its deployments' entrypoints")
    args = parser.parse_args(argv)
    preload(entrypoint_modules(args.prefect_yaml))
    ForkServer(args.socket).serve()


if __name__ == "__main__":
    main()
