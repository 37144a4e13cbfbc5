"""What a task knows about the run it belongs to."""

from __future__ import annotations

import datetime as dt
import logging

from prefect import get_run_logger
from prefect.exceptions import MissingContextError
from prefect.runtime import flow_run


def current_run_id() -> str | None:
    """The Prefect flow run id, recorded as source_run_id; None when called outside a run."""
    run_id = flow_run.get_id()
    return str(run_id) if run_id else None


def run_logger() -> logging.Logger | logging.LoggerAdapter:
    """The run's logger inside a flow or task, the module logger outside (plain function calls)."""
    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger("nightshift")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)
