"""Demo step: ingest one real PDF through the ingest-pdf deployment and show its chunk count."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

SHARED_PDF = Path(__file__).resolve().parents[2] / "shared" / "data" / "pdf" / "layout-parser-paper-fast.pdf"
COLLECTION = "Demo papers"


def run_demo(profile_name: str | None, user_email: str, timeout: float = 300) -> list[str]:
    """Upload the PDF (once), create its collection and source (once), run ingest-pdf; return lines to print."""
    from prefect.deployments import run_deployment

    from blocks.profile import load_profile
    from blocks.vectorstore import collection_name
    from store.models import Source, User
    from store.pdf_sources import ensure_collection, ensure_source, source_object_key

    if not SHARED_PDF.is_file():
        return [f"  {SHARED_PDF} is missing: no PDF to ingest"]
    profile = load_profile(profile_name)
    with profile.database.session() as session:
        owner = session.scalar(select(User.id).where(User.email == user_email))
        if owner is None:
            return [f"  no user with e-mail {user_email!r}: load the demo data first"]
        collection_id = ensure_collection(session, owner, COLLECTION)
        key = source_object_key(owner, collection_id, SHARED_PDF.name)
        source_id = ensure_source(session, collection_id, SHARED_PDF.name, key)
    if not profile.storage.exists(key):
        profile.storage.put_bytes(key, SHARED_PDF.read_bytes())
    job_variables = {"env": {"NIGHTSHIFT_PROFILE": profile_name}} if profile_name else None
    run = run_deployment(
        "ingest-pdf/ingest-pdf", parameters={"collection_id": collection_id, "source_id": source_id},
        job_variables=job_variables, timeout=timeout,
    )
    state = run.state.name if run.state else "unknown"
    with profile.database.session() as session:
        source = session.get(Source, source_id)
        status, error = source.status, source.error
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
