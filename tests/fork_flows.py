"""A flow for the fork server's tests: it records the process it ran in, then sleeps."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from prefect import flow


@flow(name="fork-probe")
def fork_probe(record: str, seconds: float = 0.0) -> int:
    Path(record).write_text(json.dumps({"pid": os.getpid(), "ppid": os.getppid(), "pgid": os.getpgid(0)}))
    time.sleep(seconds)
    return os.getpid()
