"""A production-shaped nightshift on this machine, for the benchmarks and the production-shaped test.

PostgreSQL (127.0.0.1:5432, two databases of its own: Prefect's and the application's), Redis
(127.0.0.1:6379) for Prefect's messaging, a Prefect server using both, process workers on pool "cpu",
and the Jobs API. Every process is started in a session of its own and stopped by its id.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN_URL = os.environ.get("NIGHTSHIFT_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("NIGHTSHIFT_BENCH_REDIS", "redis://127.0.0.1:6379")
PYTHON = sys.executable

# What every flow-run process needs (the pools' base job templates set the same).
RESULT_ENV = {
    "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "true",
    "PREFECT_TASKS_DEFAULT_PERSIST_RESULT": "false",
    "PREFECT_RESULTS_DEFAULT_SERIALIZER": "json",
    "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "30",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pg_url(database: str, driver: str = "psycopg2") -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0].replace("+psycopg2", f"+{driver}") + f"/{database}"


@dataclass
class Stack:
    """Start with `with Stack(workdir) as stack:`; `stack.api` is the Jobs API's base URL."""

    workdir: Path
    workers: int = 2
    worker_env: dict[str, str] = field(default_factory=dict)
    server_env: dict[str, str] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)  # for every process (bootstrap, workers, API)
    deployments: tuple[str, ...] = ("extract-todos", "sweep-todo-extraction", "notify-failed-run")
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    profile: str = "soak"
    redis_db: int = field(default_factory=lambda: 2 * secrets.randbelow(7) + 2)  # and redis_db + 1 for Docket

    def __post_init__(self) -> None:
        suffix = uuid.uuid4().hex[:8]
        self.prefect_db, self.app_db = f"nightshift_prefect_{suffix}", f"nightshift_app_{suffix}"
        self.app_url = _pg_url(self.app_db)
        self.port, self.api_port = free_port(), free_port()
        self.api_url = f"http://127.0.0.1:{self.port}/api"
        self.api = f"http://127.0.0.1:{self.api_port}"
        self.procs: dict[str, subprocess.Popen] = {}
        self.results = self.workdir / "results"

    # -- environment -------------------------------------------------------------------------
    def env(self, **extra: str) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "NIGHTSHIFT_"))}
        return base | {
            "PREFECT_API_URL": self.api_url, "PREFECT_HOME": str(self.workdir / "prefect-home"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1", "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1", "UNSTRUCTURED_DISABLE_NOTICE": "1",
            "NIGHTSHIFT_PROFILE": self.profile, "NIGHTSHIFT_HOME": str(self.workdir / "home"),
            "NIGHTSHIFT_JOBS_API_TOKEN": self.token, **self.extra_env, **extra,
        }

    def server_environment(self) -> dict[str, str]:
        redis_host, redis_port = REDIS_URL.removeprefix("redis://").split(":")
        return self.env(
            PREFECT_API_DATABASE_CONNECTION_URL=_pg_url(self.prefect_db, "asyncpg"),
            PREFECT_MESSAGING_BROKER="prefect_redis.messaging", PREFECT_MESSAGING_CACHE="prefect_redis.messaging",
            PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE="prefect_redis.lease_storage",
            PREFECT_REDIS_MESSAGING_HOST=redis_host, PREFECT_REDIS_MESSAGING_PORT=redis_port,
            PREFECT_REDIS_MESSAGING_DB=str(self.redis_db),
            PREFECT_SERVER_DOCKET_URL=f"{REDIS_URL}/{self.redis_db + 1}",
            PREFECT_SERVER_CONCURRENCY_INITIAL_DEPLOYMENT_LEASE_DURATION="60",
            **self.server_env,
        )

    def worker_environment(self) -> dict[str, str]:
        polling = {"PREFECT_WORKER_QUERY_SECONDS": "2"}  # as local.sh and infra/ (the default is 10 s)
        return self.env(**RESULT_ENV, PREFECT_LOCAL_STORAGE_PATH=str(self.results), **polling | self.worker_env)

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> Stack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._databases("CREATE")
        self._flush_redis()
        self.spawn("server", [PYTHON, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                              "--port", str(self.port)], self.server_environment())
        self.wait_http(f"{self.api_url}/health", "server", timeout=120)
        self.run([PYTHON, "-m", "deployments.operations.cli", "bootstrap", "--profile", self.profile,
                  "--database-url", self.app_url])
        deploy = [PYTHON, "-m", "prefect", "--no-prompt", "deploy"]
        for name in self.deployments:
            deploy += ["-n", name]
        self.run(deploy)
        self.run([PYTHON, "-m", "deployments.operations.cli", "bootstrap", "--profile", self.profile])  # notify automation
        for i in range(self.workers):
            self.start_worker(i)
        self.spawn("api", [PYTHON, "-m", "deployments.api", "--host", "127.0.0.1", "--port", str(self.api_port)],
                   self.env())
        self.wait_http(f"{self.api}/health", "api", timeout=60)

    def start_worker(self, i: int, pool: str = "cpu", limit: int = 3, fork_server: bool = True) -> None:
        options = [] if fork_server else ["--no-fork-server"]
        self.spawn(f"worker-{i}", [PYTHON, "-m", "deployments.operations.cli", "worker", "--pool", pool, *options,
                                   "--name", f"stack-{pool}-{i}", "--limit", str(limit)],
                   self.worker_environment())

    def spawn(self, name: str, command: list[str], env: dict[str, str]) -> None:
        with open(self.workdir / f"{name}.log", "ab") as log:  # the child keeps its own copy of the descriptor
            self.procs[name] = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                                start_new_session=True)

    def run(self, command: list[str]) -> None:
        done = subprocess.run(command, cwd=ROOT, env=self.env(), capture_output=True, text=True, timeout=300, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command[2:5])} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")

    def kill(self, name: str) -> None:
        """SIGKILL a process and everything it started (a machine dying under its worker)."""
        proc = self.procs.pop(name)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=30)

    def wait_http(self, url: str, name: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.procs[name].poll() is not None:
                raise RuntimeError(f"{name} exited; see {self.workdir / (name + '.log')}")
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"{name} not healthy after {timeout} s; see {self.workdir / (name + '.log')}")

    def stop(self) -> None:
        for name in list(self.procs)[::-1]:  # API and workers first, the server last
            proc = self.procs.pop(name)
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)  # a process worker may ignore SIGTERM
                    proc.wait(timeout=15)
        from store.db import dispose_engines

        dispose_engines()
        self._databases("DROP")
        self._flush_redis()

    def _databases(self, verb: str) -> None:
        admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for name in (self.prefect_db, self.app_db):
                if verb == "CREATE":
                    conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
                else:
                    conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    def _flush_redis(self) -> None:
        import redis

        for db in (self.redis_db, self.redis_db + 1):
            redis.Redis.from_url(f"{REDIS_URL}/{db}").flushdb()

    # -- Jobs API ----------------------------------------------------------------------------
    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.api, headers={"Authorization": f"Bearer {self.token}"}, timeout=30)
