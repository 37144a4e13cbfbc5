"""The embedded default as `make demo` starts it (deployments/demo/local.sh), in a folder and on ports of its own.

Used by the operations tests and bench/operations_soak.py. Logs of every process it starts are part
of a test's result: `tracebacks()` reads them.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRACEBACK = "Traceback (most recent call last)"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LocalStack:
    """`local.sh` with NIGHTSHIFT_HOME=home and free ports; `stop()` stops what it started."""

    home: Path
    prefect_yaml: Path | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    api_port: int = field(default_factory=free_port)

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "NIGHTSHIFT_"))}
        env |= {"NIGHTSHIFT_HOME": str(self.home), "NIGHTSHIFT_PREFECT_PORT": str(self.port),
                "NIGHTSHIFT_JOBS_API_PORT": str(self.api_port)}
        if self.prefect_yaml:
            env["NIGHTSHIFT_PREFECT_YAML"] = str(self.prefect_yaml)
        return env | self.extra_env

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    @property
    def jobs_api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def run_folder(self) -> Path:
        return self.home / "run"

    def local(self, command: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """Run `bash deployments/demo/local.sh COMMAND`; raise with its output when it fails."""
        done = subprocess.run(["bash", "deployments/demo/local.sh", command], cwd=ROOT, env=self.env, text=True,
                              capture_output=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"local.sh {command} failed ({done.returncode}):\n{done.stdout[-4000:]}\n"
                               f"{done.stderr[-4000:]}")
        return done

    def run(self, *command: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """A command of the venv (prefect, nightshift, python) pointed at this stack's server."""
        env = self.env | {"PREFECT_API_URL": self.api_url, "PREFECT_HOME": str(self.home / "prefect"),
                          "PATH": f"{ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
        done = subprocess.run(list(command), cwd=ROOT, env=env, text=True, capture_output=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"{command} failed ({done.returncode}):\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
        return done

    def stop(self) -> str:
        return self.local("stop", timeout=120).stdout

    def logs(self) -> dict[str, str]:
        """Name → text of every log local.sh wrote (server, worker-cpu, jobs-api, deploy)."""
        return {p.stem: p.read_text(errors="replace") for p in sorted(self.run_folder.glob("*.log"))}

    def tracebacks(self) -> dict[str, list[str]]:
        """Name of each log → the tracebacks in it (first lines and the error), empty when clean."""
        found = {}
        for name, text in self.logs().items():
            blocks = []
            for match in re.finditer(re.escape(TRACEBACK), text):
                tail = text[match.start():match.start() + 6000]
                error = next((line for line in tail.splitlines()[1:]
                              if line and not line.startswith((" ", "\t"))), "")
                blocks.append(error[:300])
            found[name] = blocks
        return found

    def count(self, needle: str) -> dict[str, int]:
        return {name: text.count(needle) for name, text in self.logs().items()}
