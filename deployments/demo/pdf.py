"""Demo step: ingest one real PDF through the ingest-pdf deployment and show its chunk count."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from blocks.profile import NightshiftProfile

SHARED_PDF = Path(__file__).resolve().parents[3] / "shared" / "data" / "pdf" / "layout-parser-paper-fast.pdf"
COLLECTION = "Demo papers"


def run_demo(profile_name: str | None, user_email: str, timeout: float = 300) -> list[str]:
    """Upload the PDF (once), create its collection and source (once), run ingest-pdf; return lines to print.

    A source already ingested from the same bytes is not ingested again (that would e-mail its owner
    again): its state, chunks and the run that ingested it are shown instead.
    """
    from prefect.deployments import run_deployment

    from blocks.prefect_calls import sync_result
    from blocks.profile import load_profile
    from blocks.vectorstore import collection_name
    from store.sources import ensure_collection, ensure_source, source_object_key, source_state
    from store.users import user_id_by_email

    if not SHARED_PDF.is_file():
        return [f"  {SHARED_PDF} is missing: no PDF to ingest"]
    profile = load_profile(profile_name)
    with profile.database.session() as session:
        owner = user_id_by_email(session, user_email)
        if owner is None:
            return [f"  no user with e-mail {user_email!r}: load the demo data first"]
        collection_id = ensure_collection(session, owner, COLLECTION)
        key = source_object_key(owner, collection_id, SHARED_PDF.name)
        source_id = ensure_source(session, collection_id, SHARED_PDF.name, key)
    data = SHARED_PDF.read_bytes()
    if profile.storage.exists(key) and profile.storage.get_bytes(key) == data:
        done = _already_ingested(profile, owner, source_id)
        if done:  # running it again would mail the owner "ready to search" a second time
            return done
    else:
        profile.storage.put_bytes(key, data)
    job_variables = {"env": {"NIGHTSHIFT_PROFILE": profile_name}} if profile_name else None
    run = sync_result(run_deployment(
        "ingest-pdf/ingest-pdf", parameters={"collection_id": collection_id, "source_id": source_id},
        job_variables=job_variables, timeout=timeout,
    ), "run_deployment")
    state = run.state.name if run.state else "unknown"
    with profile.database.session() as session:
        status, error, _, _ = source_state(session, source_id)
    chunks = profile.vector_store.count(collection_name(owner), where={"source_id": source_id})
    lines = [
        f"  {SHARED_PDF.name} (source {source_id} in collection {collection_id}); deployment "
        f"ingest-pdf/ingest-pdf, flow run {run.name!r}: {state}",
        f"  source {source_id}: {status}, {chunks} chunks in vector collection {collection_name(owner)!r}"
        + (f" ({error})" if error else ""),
    ]
    if not (run.state and run.state.is_completed()):
        raise RuntimeError("\n".join(lines))
    return lines


def _already_ingested(profile: NightshiftProfile, owner: int, source_id: int) -> list[str] | None:
    """Lines describing an ingested source with its chunks in the vector store; None if it is not."""
    from blocks.vectorstore import collection_name
    from store.sources import source_state

    with profile.database.session() as session:
        status, _, ingested_at, collection_id = source_state(session, source_id)
    chunks = profile.vector_store.count(collection_name(owner), where={"source_id": source_id})
    if status != "ingested" or not chunks:
        return None
    name = f"ingest-pdf-source-{source_id}"
    run_id = _last_completed_run(name)
    lines = [
        f"  {SHARED_PDF.name} (source {source_id} in collection {collection_id}): already ingested"
        + (f" at {ingested_at:%Y-%m-%d %H:%M} UTC" if ingested_at else "")
        + (f" by flow run {name!r}" if run_id else "") + "; not ingested again (its owner was e-mailed then)",
        f"  source {source_id}: {status}, {chunks} chunks in vector collection {collection_name(owner)!r}",
    ]
    if run_id:
        from prefect.settings import PREFECT_API_URL

        lines.append(f"  Prefect UI: {PREFECT_API_URL.value().removesuffix('/api')}/runs/flow-run/{run_id}")
    return lines


def _last_completed_run(name: str) -> str | None:
    """The id of the newest completed flow run called `name`, if the Prefect API has one."""
    from prefect import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterName,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[name]),
                                          state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.COMPLETED]))),
            sort=FlowRunSort.END_TIME_DESC, limit=1,
        )
    return str(runs[0].id) if runs else None
