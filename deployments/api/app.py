"""The Jobs API: a small HTTP service over the Prefect API for callers that do not speak Prefect.

Job types come from the server's deployments (deployment "extract-todos" is type "extract_todos"),
so a deployment added to prefect.yaml is a job type as soon as it is deployed. Start it with

    python -m deployments.api --host 127.0.0.1 --port 8000
    (or: uvicorn deployments.api.app:app --host 127.0.0.1 --port 8000)

with PREFECT_API_URL pointing at the Prefect server. The bearer token is NIGHTSHIFT_JOBS_API_TOKEN,
else the Prefect Secret block "nightshift-jobs-api-token" (created by `nightshift bootstrap`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
from fastapi import FastAPI
from prefect.client.orchestration import get_client

from deployments.api.auth import DOCS_ASSETS, RequestGuard, auth
from deployments.api.dispatcher import EXTERNAL_ENV, Doorbell
from deployments.api.registry import Registry
from deployments.api.routes import router
from deployments.api.runs import JobAcceptor, JobReader

logger = logging.getLogger("nightshift.jobs_api")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    from blocks.profile import load_profile

    await anyio.to_thread.run_sync(load_profile)  # the ledger's database, from the profile's blocks
    doorbell = Doorbell()
    supervisor = None
    if os.environ.get(EXTERNAL_ENV) != "external":
        doorbell.start()
        supervisor = asyncio.create_task(doorbell.supervise(), name="jobs-dispatcher-supervisor")
    async with get_client() as client:
        app.state.client = client
        app.state.registry = Registry()
        app.state.doorbell = doorbell
        app.state.reader = JobReader()
        app.state.acceptor = JobAcceptor()
        try:  # job types read now, not by the first POST of a burst
            await app.state.registry.refresh(client)
        except Exception:
            logger.warning("job types not read at start", exc_info=True)
        try:  # and the token: a burst on a fresh API would wait for it
            await auth.token()
        except Exception:
            logger.warning("API token not read at start", exc_info=True)
        # What start-up made (Prefect, FastAPI, SQLAlchemy: about a million objects) is left out of the
        # garbage collector's full passes, each of which stopped every request for ~0.3 s under a burst.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            if supervisor is not None:
                supervisor.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await supervisor
            await anyio.to_thread.run_sync(doorbell.stop)


_App: Callable[..., FastAPI]
try:  # Swagger UI and ReDoc served by the API itself: FastAPI's own pages load them from a CDN
    from fastapi_offline import FastAPIOffline as _App

    _docs: dict[str, Any] = {"static_url": DOCS_ASSETS}
except ImportError:  # pragma: no cover — the docs pages then need a CDN; every route still works
    logger.warning("fastapi-offline is not installed: /docs and /redoc load their assets from a CDN")
    _App, _docs = FastAPI, {}
app = _App(title="nightshift Jobs API", version="1", lifespan=lifespan, **_docs,
           description="Trigger nightshift's background jobs and read their status and results.")
app.add_middleware(RequestGuard)
app.include_router(router)


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m deployments.api", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("NIGHTSHIFT_JOBS_API_PORT", "8000")))
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    args = parser.parse_args(argv)
    uvicorn.run("deployments.api.app:app", host=args.host, port=args.port, workers=args.workers,
                log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
