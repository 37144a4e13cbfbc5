"""Bootstrap: register nightshift's block types, create a profile's block documents, create work pools.

Safe to repeat: existing block documents are kept (operators may have edited them) unless
`overwrite=True`, and existing work pools are left as they are. It also creates what operations
need: the pools' queues, the automations (automations.py) and the Jobs API token block.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prefect.blocks.core import Block
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate, WorkPoolUpdate
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
from prefect_aws import AwsCredentials, MinIOCredentials, S3Bucket

from blocks.database import Database
from blocks.embedder import SentenceTransformerEmbedder
from blocks.prefect_calls import sync_result
from blocks.profile import BLOCK_TYPES, NightshiftProfile, clear_profile_cache, embedded_profile
from blocks.settings import get_settings
from deployments.api.auth import ensure_api_token
from deployments.operations.automations import ensure_automations

logger = logging.getLogger("nightshift.bootstrap")

WORK_POOLS = {
    "cpu": "Process workers on CPU machines: most flows.",
    "gpu": "Workers on GPU machines: embedding-heavy flows.",
}

# Commands of pools made by earlier nightshifts, before the launcher moved to deployments/worker/.
OLD_LAUNCH_COMMANDS = {"python -m deployments.launch"}

# Queues of every pool: (priority, concurrency limit, description). Workers serve "default" first;
# "bulk" (sweeps and batch work) never takes more than its limit of a pool's slots.
WORK_QUEUES: dict[str, tuple[int, int | None, str]] = {
    "default": (1, None, "On-demand jobs (Jobs API, UI): served first."),
    "bulk": (2, 4, "Sweeps and batch work: at most 4 runs at a time per pool."),
}


def register_block_types() -> None:
    block_types: tuple[type[Block], ...] = (*BLOCK_TYPES, AwsCredentials, MinIOCredentials, S3Bucket)
    for block_type in block_types:
        block_type.register_type_and_schema()


def _existing_parts(name: str) -> dict[str, Block] | None:
    """The parts an existing profile document names, each loaded as its own type (None: no such profile)."""
    try:
        with get_client(sync_client=True) as client:
            document = client.read_block_document_by_name(name, NightshiftProfile.get_block_type_slug())
    except ObjectNotFound:
        return None
    return {
        role: sync_result(Block.load_from_ref(reference["block_document"]["id"]), "Block.load_from_ref")
        for role, reference in (document.block_document_references or {}).items()
        if role in NightshiftProfile.model_fields
    }


def save_profile(profile: NightshiftProfile, name: str, overwrite: bool = False) -> NightshiftProfile:
    """Save each part under `name` (editable on its own in the UI), then the profile naming them.

    Without `overwrite`, an existing profile keeps its parts as operators left them; a role it does
    not have yet (a profile made by an older nightshift) gets the part from `profile`.
    """
    existing = {} if overwrite else (_existing_parts(name) or {})
    # one part per role, each of its role's own type (NightshiftProfile validates them)
    parts: dict[str, Any] = {role: existing.get(role) or getattr(profile, role) for role in NightshiftProfile.model_fields}
    if existing.keys() != parts.keys():
        for role, part in parts.items():
            if role not in existing:
                part.save(name, overwrite=True)
        NightshiftProfile(**parts).save(name, overwrite=True)
    clear_profile_cache()
    return sync_result(NightshiftProfile.load(name), "NightshiftProfile.load")


def base_job_template(pool: str) -> dict:
    """The pool's base job template from infra/work-pools (JSON results, heartbeats); {} if not shipped."""
    path = Path(__file__).resolve().parents[2] / "infra" / "work-pools" / f"{pool}.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _old_launcher(template: dict) -> bool:
    """Whether a pool's template starts runs through a launcher module that has moved since."""
    command = template.get("variables", {}).get("properties", {}).get("command", {}).get("default")
    return command in OLD_LAUNCH_COMMANDS


async def ensure_work_pools(overwrite: bool = False) -> list[str]:
    """Create the "cpu" and "gpu" process work pools when missing; return the names created.

    An existing pool keeps its base job template (an operator may have edited it) unless `overwrite`
    resets it to the shipped one, or it still starts runs through the launcher's old module path.
    """
    created = []
    async with get_client() as client:
        for name, description in WORK_POOLS.items():
            try:
                pool = await client.read_work_pool(name)
                shipped = base_job_template(name)
                reset = overwrite or _old_launcher(pool.base_job_template)
                if reset and shipped and pool.base_job_template != shipped:
                    await client.update_work_pool(name, WorkPoolUpdate(base_job_template=shipped))
            except ObjectNotFound:
                try:
                    await client.create_work_pool(
                        WorkPoolCreate(name=name, type="process", description=description,
                                       base_job_template=base_job_template(name))
                    )
                    created.append(name)
                except ObjectAlreadyExists:
                    pass
    return created


async def ensure_work_queues() -> list[str]:
    """Create each pool's queues (WORK_QUEUES) when missing; return "pool/queue" of those created."""
    created = []
    async with get_client() as client:
        for pool in WORK_POOLS:
            existing = {q.name for q in await client.read_work_queues(work_pool_name=pool)}
            for queue, (priority, limit, description) in WORK_QUEUES.items():
                if queue not in existing:
                    try:
                        await client.create_work_queue(queue, description=description, work_pool_name=pool,
                                                       priority=priority, concurrency_limit=limit)
                        created.append(f"{pool}/{queue}")
                    except ObjectAlreadyExists:
                        pass
    return created


def bootstrap(
    profile: str | None = None,
    home: Path | None = None,
    database_url: str | None = None,
    overwrite: bool = False,
) -> NightshiftProfile:
    """Register block types, make sure the profile exists, migrate its database, create pools and the rest."""
    from prefect.utilities.asyncutils import run_coro_as_sync

    settings = get_settings()
    name = profile or settings.profile
    register_block_types()
    saved = save_profile(embedded_profile(home or settings.home, database_url), name, overwrite)
    _create_sqlite_folder(saved.database)
    saved.database.migrate()
    created = run_coro_as_sync(ensure_work_pools(overwrite))
    logger.info("profile %r ready; work pools created: %s", name, created or "none (already there)")
    queues = run_coro_as_sync(ensure_work_queues())
    automations = run_coro_as_sync(ensure_automations())
    token = ensure_api_token()
    logger.info("work queues created: %s; automations created: %s; Jobs API token block %s",
                queues or "none", automations or "none", "created" if token else "kept")
    return saved


def _create_sqlite_folder(database: Database) -> None:
    """The folder of an SQLite database file (the embedded default's home) exists before migrating."""
    from sqlalchemy.engine import make_url

    url = make_url(database.url.get_secret_value())
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def prepare_embedder(profile: NightshiftProfile, announce: Callable[[str], None] = logger.info) -> str:
    """Export the profile's embedding model to ONNX now if its backend needs that; return what was done.

    Done here, once per machine and model, so that no flow run spends half a minute exporting.
    `announce` hears about an export before it starts.
    """
    embedder = profile.embedder
    if not isinstance(embedder, SentenceTransformerEmbedder) or embedder.backend == "torch":
        return f"embedding model: {embedder.model_name} (no export needed)"
    target = embedder.export_path()
    if embedder._exported(target):
        return f"embedding model: {embedder.model_name}, exported already ({target})"
    announce(f"embedding model: exporting {embedder.model_name} to {target} (once; 15–30 s)…")
    seconds = embedder.prepare() or 0.0
    return f"embedding model: exported {embedder.model_name} in {seconds:.1f} s"
