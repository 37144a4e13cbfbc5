"""What a task knows about the run it belongs to."""

from __future__ import annotations

import logging

from prefect import get_run_logger
from prefect.exceptions import MissingContextError
from prefect.runtime import flow_run

from store.models import utcnow  # the one clock: every timestamp nightshift writes is UTC

__all__ = ["current_run_id", "run_logger", "utcnow"]


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
