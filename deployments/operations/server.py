"""The embedded default's Prefect server: `prefect server start` with SQLite writes taken one at a time.

Prefect 3.8 on SQLite opens up to 15 connections and begins write transactions DEFERRED. Under the
embedded default's own load (scheduler, late-runs marker, automations' buckets, events, the worker
and the Jobs API polling) two writers collide: one waits out the 60 s busy timeout while the other
holds the lock, the API stops answering for that minute, and the server logs "database is locked"
tracebacks (state changes and automation buckets lost). SQLite writes one transaction at a time
anyway, so this launcher makes the server do the same in its own process: every transaction begins
IMMEDIATE (it waits for the write lock up front instead of failing to upgrade a read lock) and the
engine keeps NIGHTSHIFT_SQLITE_POOL_SIZE connections (default 1). A PostgreSQL server is started
unchanged. bench/operations_soak.py measures the difference (NIGHTSHIFT_SQLITE_TUNING=off for Prefect's defaults).

    python -m deployments.operations.server --host 127.0.0.1 --port 4200     (what deployments/demo/local.sh runs)
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any

TUNING_ENV = "NIGHTSHIFT_SQLITE_TUNING"
POOL_ENV = "NIGHTSHIFT_SQLITE_POOL_SIZE"


def tune_sqlite(pool_size: int) -> None:
    """Make Prefect's SQLite engine serialise its transactions (see the module's docstring)."""
    import sqlalchemy as sa
    from prefect.server.database import configurations

    create_engine = configurations.create_async_engine

    def create_serial_engine(url: Any, **kwargs: Any) -> Any:
        if str(url).startswith("sqlite") and ":memory:" not in str(url):
            kwargs |= {"poolclass": sa.pool.AsyncAdaptedQueuePool, "pool_size": pool_size,
                       "max_overflow": 0, "pool_timeout": 120}
        return create_engine(url, **kwargs)

    @asynccontextmanager
    async def begin_immediate(self: Any, session: Any, with_for_update: bool = False) -> AsyncGenerator[Any, None]:
        token = configurations.SQLITE_BEGIN_MODE.set("IMMEDIATE")
        try:
            async with session.begin() as transaction:
                yield transaction
        finally:
            configurations.SQLITE_BEGIN_MODE.reset(token)

    configurations.create_async_engine = create_serial_engine
    configurations.AioSqliteConfiguration.begin_transaction = begin_immediate  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> int:
    if os.environ.get(TUNING_ENV, "on") != "off":
        tune_sqlite(int(os.environ.get(POOL_ENV) or 1))
    from prefect.cli import app

    sys.argv = [sys.argv[0], "server", "start", *(sys.argv[1:] if argv is None else argv)]
    app()
    return 0


if __name__ == "__main__":
    sys.exit(main())
