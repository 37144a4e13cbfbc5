"""Job types: one per deployment on the Prefect server, with the JSON schema of its parameters."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any
from uuid import UUID

from jsonschema import Draft202012Validator
from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.filters import FlowFilter, FlowFilterId
from prefect.client.schemas.objects import WorkerStatus

from deployments.api.schemas import JobType

REGISTRY_TTL_SECONDS = 10.0  # a newly deployed deployment becomes a job type within this delay
FORCED_READ_SECONDS = 1.0  # a POST of an unknown type reads the deployments again, at most this often
GPU_POOL, GPU_SUFFIX = "gpu", "-gpu"  # "build-recommender-gpu" on pool gpu is the gpu route of "build_recommender"
INTERNAL_TAG = "operations"  # deployments with this tag (the failure notifier) are not job types

logger = logging.getLogger("nightshift.jobs_api")


class Registry:
    """Job types read from the server's deployments, refreshed every REGISTRY_TTL_SECONDS."""

    def __init__(self) -> None:
        self.types: dict[str, JobType] = {}
        self.deployment_ids: dict[str, UUID] = {}
        self.gpu_ids: dict[str, UUID] = {}
        self.gpu_online = False
        self.validators: dict[str, Draft202012Validator] = {}
        self._loaded_at = 0.0
        self._background: set[asyncio.Task[None]] = set()
        self._lock = asyncio.Lock()

    async def refresh(self, client: PrefectClient, force: bool = False) -> None:
        asked_at = time.monotonic()
        async with self._lock:
            if not force and time.monotonic() - self._loaded_at < REGISTRY_TTL_SECONDS:
                return
            # Read since this caller asked (a burst of POSTs reads once or twice), or a moment ago (a stream
            # of POSTs of an unknown type costs the Prefect server one read a second, not one each).
            if force and (self._loaded_at >= asked_at or asked_at - self._loaded_at < FORCED_READ_SECONDS):
                return
            reading_from = time.monotonic()
            deployments = [d for d in await client.read_deployments() if INTERNAL_TAG not in (d.tags or [])]
            flow_ids = list({d.flow_id for d in deployments})
            flows = await client.read_flows(flow_filter=FlowFilter(id=FlowFilterId(any_=flow_ids))) if flow_ids else []
            flow_names = {f.id: f.name for f in flows}
            types, ids, gpu = {}, {}, {}
            for d in deployments:
                job_type = d.name.replace("-", "_")
                if d.name.endswith(GPU_SUFFIX) and d.work_pool_name == GPU_POOL:
                    gpu[job_type.removesuffix(GPU_SUFFIX.replace("-", "_"))] = d.id
                    continue
                types[job_type] = JobType(type=job_type, deployment=f"{flow_names.get(d.flow_id, '?')}/{d.name}",
                                          description=d.description,
                                          parameter_schema=d.parameter_openapi_schema or {})
                ids[job_type] = d.id
            self.types, self.deployment_ids = types, ids
            self.validators = {t: Draft202012Validator(jt.parameter_schema) for t, jt in types.items()}
            self.gpu_ids = {t: i for t, i in gpu.items() if t in types}
            pool_workers = await client.read_workers_for_work_pool(GPU_POOL) if self.gpu_ids else []
            self.gpu_online = any(w.status == WorkerStatus.ONLINE for w in pool_workers)
            self._loaded_at = reading_from  # what was deployed before this instant is known

    def route(self, job_type: str) -> UUID:
        """The deployment for a new job: its "-gpu" variant while a gpu worker is online."""
        if self.gpu_online and job_type in self.gpu_ids:
            return self.gpu_ids[job_type]
        return self.deployment_ids[job_type]

    async def _refresh_in_background(self, client: PrefectClient) -> None:
        try:
            await self.refresh(client)
        except Exception:
            logger.warning("job types not refreshed", exc_info=True)

    async def get(self, client: PrefectClient, job_type: str) -> JobType | None:
        """The job type; a stale registry answers at once and is refreshed in the background."""
        if not self._loaded_at:
            await self.refresh(client)
        elif time.monotonic() - self._loaded_at >= REGISTRY_TTL_SECONDS and not self._lock.locked():
            task = asyncio.create_task(self._refresh_in_background(client))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        if job_type not in self.types:  # deployed a moment ago? look once more before refusing
            await self.refresh(client, force=True)
        return self.types.get(job_type)


def parameter_errors(schema: dict[str, Any], params: dict[str, Any],
                     validator: Draft202012Validator | None = None) -> list[dict[str, Any]]:
    """Field errors of `params` against a deployment's parameter schema (empty when valid)."""
    errors = [
        {"loc": ["params", *error.absolute_path], "msg": error.message, "type": error.validator}
        for error in (validator or Draft202012Validator(schema)).iter_errors(params)
    ]
    known = set(schema.get("properties") or {})
    errors += [{"loc": ["params", name], "msg": f"unknown parameter {name!r}; expected one of {sorted(known)}",
                "type": "extra_forbidden"} for name in sorted(set(params) - known)]
    return sorted(errors, key=lambda e: [str(p) for p in e["loc"]])

