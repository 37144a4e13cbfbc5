"""What the Jobs API takes and answers (its OpenAPI schema), and a job as built from its record and flow run."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal, TypedDict, cast
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
    flow_run_id: UUID | None = Field(None, description="The Prefect flow run, once the job has been handed over "
                                     "(for a small job run in a batch: the batch's run, shared with other jobs).")
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


def run_fields(run: FlowRun) -> dict[str, Any]:
    """What a job shows of its flow run (kept in the ledger by the dispatcher: store.jobs.RUN_FIELDS)."""
    status_ = job_status(run)
    message = run.state.message if run.state else None
    return {"status": status_, "state_name": run.state_name, "run_name": run.name,
            "scheduled_at": run.expected_start_time, "started_at": run.start_time,
            "finished_at": run.end_time if status_ in FINAL else None,
            "error": message if status_ in {"failed", "crashed", "cancelled"} else None}


GONE: dict[str, Any] = {"status": "crashed", "error": "its flow run no longer exists in Prefect"}


class _JobBase(TypedDict):
    """What every job shows of its record."""

    id: UUID
    type: str
    params: dict[str, Any]
    created_at: dt.datetime


def ledger_status(record: JobRecord) -> Status:
    """The status the ledger last recorded (a string column holding a `Status`; `Job` validates it)."""
    return cast(Status, record.final_status or record.status or "scheduled")


def to_job(record: JobRecord, run: FlowRun | None = None, run_missing: bool = False) -> Job:
    """The job as callers see it: from its flow run when given, else as the ledger last recorded it."""
    base: _JobBase = {"id": UUID(record.id), "type": record.type, "params": record.params, "created_at": record.created_at}
    fields: dict[str, Any]
    if run is not None:
        fields = run_fields(run)
    elif record.flow_run_id is not None and run_missing and not record.final_status:
        fields = GONE
    elif record.flow_run_id is not None:
        fields = {name: getattr(record, name) for name in
                  ("state_name", "run_name", "scheduled_at", "started_at", "finished_at", "error")}
        fields["status"] = ledger_status(record)
    elif record.batch_run_id is not None and record.final_status != "cancelled":  # in a batch (tasks/jobs.py)
        return Job(**base, status=ledger_status(record),
                   flow_run_id=UUID(record.batch_run_id), scheduled_at=record.created_at,
                   started_at=record.started_at, finished_at=record.finished_at,
                   error=record.error or record.dispatch_error)
    elif record.dispatch_error:
        return Job(**base, status="failed", error=record.dispatch_error)
    elif record.cancel_requested:
        return Job(**base, status="cancelled", error="cancelled through the Jobs API before it started")
    else:
        return Job(**base, status="scheduled", scheduled_at=record.created_at)
    fields = dict(fields)
    name = fields.pop("run_name", None)
    return Job(**base, **fields, name=name, flow_run_id=UUID(record.flow_run_id) if run is None else run.id)
