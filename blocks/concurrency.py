"""Prefect global concurrency limits that nightshift creates for itself (one slot unless told otherwise)."""

from __future__ import annotations

import contextlib


def ensure_global_limit(name: str, limit: int = 1) -> str:
    """Create the global concurrency limit `name` on the Prefect API when missing; return its name.

    Created once: an operator may then change or deactivate it in the UI, and it is left as they set it.
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            with contextlib.suppress(ObjectAlreadyExists):
                client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=limit))
    return name
