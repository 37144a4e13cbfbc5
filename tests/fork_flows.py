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


def run_state(run_id: str):  # type: ignore[no-untyped-def]
    """The state type of flow run `run_id`, read through the Prefect API."""
    from prefect import get_client
    from prefect.utilities.asyncutils import run_coro_as_sync

    async def read():  # type: ignore[no-untyped-def]
        async with get_client() as client:
            return (await client.read_flow_run(run_id)).state_type

    return run_coro_as_sync(read())
