"""Todo extraction (spec 1): one execution on demand, and the sweep that finds the quiet ones."""

from __future__ import annotations

from prefect import flow
from prefect.futures import wait

from tasks.todos import (
    ExtractionOutcome,
    extract_todos_for_executions,
    publish_extraction_report,
    select_executions_to_extract,
)


class ExtractionFailed(RuntimeError):
    """Some executions could not be extracted; the others were saved and the sweep will retry these."""


def _fail_on_errors(outcomes: list[ExtractionOutcome]) -> None:
    failed = [o for o in outcomes if o.status == "failed"]
    if failed:
        details = "; ".join(f"execution {o.task_execution_id}: {o.error}" for o in failed[:10])
        raise ExtractionFailed(f"{len(failed)} of {len(outcomes)} executions failed: {details}")


@flow(name="extract-todos", flow_run_name="extract-todos-execution-{task_execution_id}")
def extract_todos(task_execution_id: int, force: bool = False) -> ExtractionOutcome:
    """Extract the user's next steps from one finished task execution and save them as todos."""
    [outcome] = extract_todos_for_executions([task_execution_id], force=force)
    publish_extraction_report([outcome], key=f"todos-execution-{task_execution_id}")
    _fail_on_errors([outcome])
    return outcome


@flow(name="sweep-todo-extraction", flow_run_name="sweep-todo-extraction")
def sweep_todo_extraction(quiet_minutes: int = 10, chunk_size: int = 20, limit: int = 2000) -> list[ExtractionOutcome]:
    """Find executions quiet for `quiet_minutes` and not yet extracted, and extract them in chunks."""
    ids = select_executions_to_extract(quiet_minutes, limit)
    chunks = [ids[i : i + chunk_size] for i in range(0, len(ids), chunk_size)]
    futures = [extract_todos_for_executions.submit(chunk) for chunk in chunks]
    wait(futures)
    outcomes = [outcome for future in futures for outcome in future.result()]
    publish_extraction_report(outcomes, key="todos-sweep")
    _fail_on_errors(outcomes)
    return outcomes
