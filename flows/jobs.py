"""Job batches: small jobs of the Jobs API handed over together, run in one flow run (tasks/jobs.py)."""

from prefect import flow
from prefect.task_runners import ThreadPoolTaskRunner

from tasks.jobs import publish_batch_report, run_jobs

JOB_THREADS = 4  # jobs of one batch running at once


def _batch_run_name() -> str:
    from prefect.runtime import flow_run

    job_ids = flow_run.parameters.get("job_ids") or []
    return f"run-job-batch-{len(job_ids)}-jobs-from-{job_ids[0] if job_ids else 'none'}"


# (The ignore: Prefect types flow()'s task_runner too narrowly for its own runners, PrefectHQ/prefect#16938.)
@flow(name="run-job-batch", flow_run_name=_batch_run_name,
      task_runner=ThreadPoolTaskRunner(JOB_THREADS))  # type: ignore[arg-type]
def run_job_batch(job_ids: list[str]) -> dict[str, int]:
    """Run each job of the batch, its outcome kept in the Jobs API's ledger; a failing job fails alone."""
    outcomes = run_jobs(job_ids)
    return publish_batch_report(outcomes)
