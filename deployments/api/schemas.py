"""What the Jobs API takes and answers (its OpenAPI schema), and a job as built from its record and flow run."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal
from uuid import UUID

from prefect.client.schemas.objects import FlowRun
from pydantic import BaseModel, Field

from store.models import JobRecord

Status = Literal["scheduled", "pending", "running", "completed", "failed", "cancelling", "cancelled",
                 "crashed", "paused"]
FINAL = {"completed", "failed", "cancelled", "crashed"}


class JobRequest(BaseModel):
    """What a caller asks for: a job type, its parameters, and an optional idempotency key."""

    type: str = Field(examples=["extract_todos"])
    params: dict[str, Any] = Field(default_factory=dict, examples=[{"task_execution_id": 1}])
    idempotency_key: str | None = Field(
        None, max_length=200, description="The same key for the same type returns the job created first."
    )


class Job(BaseModel):
    """One job: accepted here, then run as a flow run of the job type's deployment."""

    id: UUID
    type: str
    status: Status
    flow_run_id: UUID | None = Field(None, description="The Prefect flow run, once the job has been handed over.")
    state_name: str | None = None
    name: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    created_at: dt.datetime | None = None
    scheduled_at: dt.datetime | None = None
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    error: str | None = None


class JobPage(BaseModel):
    items: list[Job]
    limit: int
    offset: int
    next_offset: int | None = Field(None, description="Pass as offset for the next page; null on the last.")


class JobType(BaseModel):
    type: str
    deployment: str
    description: str | None = None
    parameter_schema: dict[str, Any]



def job_status(run: FlowRun) -> Status:
    return run.state_type.value.lower() if run.state_type else "scheduled"  # type: ignore[return-value]


def to_job(record: JobRecord, run: FlowRun | None) -> Job:
    """The job as callers see it: its record here, and its flow run once there is one."""
    base = {"id": UUID(record.id), "type": record.type, "params": record.params, "created_at": record.created_at}
    if run is None:
        if record.flow_run_id is not None:  # the run was deleted from Prefect
            return Job(**base, status=record.final_status or "crashed", flow_run_id=UUID(record.flow_run_id),
                       error=None if record.final_status else "its flow run no longer exists in Prefect")
        if record.dispatch_error:
            return Job(**base, status="failed", error=record.dispatch_error)
        if record.cancel_requested:
            return Job(**base, status="cancelled", error="cancelled through the Jobs API before it started")
        return Job(**base, status="scheduled", scheduled_at=record.created_at)
    status_ = job_status(run)
    message = run.state.message if run.state else None
    return Job(
        **base, status=status_, flow_run_id=run.id, state_name=run.state_name, name=run.name,
        scheduled_at=run.expected_start_time, started_at=run.start_time,
        finished_at=run.end_time if status_ in FINAL else None,
        error=message if status_ in {"failed", "crashed", "cancelled"} else None,
    )

