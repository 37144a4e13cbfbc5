"""The profile block: one document per world (local, production) naming the block of each role.

Flows and tasks call `load_profile()` and use its parts; they never branch on which profile it is.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from prefect.blocks.core import Block
from prefect.client.schemas.objects import BlockDocument
from pydantic import Field, SecretStr

from blocks.database import Database
from blocks.embedder import SentenceTransformerEmbedder
from blocks.llm import OpenAICompatibleLLM
from blocks.mailer import OutboxMailer, SendGridMailer, SmtpMailer
from blocks.offline import OfflineLLM
from blocks.prefect_calls import sync_result
from blocks.settings import Settings
from blocks.storage import LocalFolderStorage, S3ObjectStorage
from blocks.vectorstore import ChromaVectorStore


class NightshiftProfile(Block):
    """The blocks one nightshift deployment uses: database, object storage, mailer, LLM and embedder."""

    _block_type_name = "nightshift Profile"
    _block_type_slug = "nightshift-profile"
    _description = "Picks the block of each role; workers load the profile named by NIGHTSHIFT_PROFILE."

    database: Database
    storage: LocalFolderStorage | S3ObjectStorage
    mailer: OutboxMailer | SmtpMailer | SendGridMailer
    llm: OfflineLLM | OpenAICompatibleLLM = Field(description="Extractor and writer.")
    embedder: SentenceTransformerEmbedder
    vector_store: ChromaVectorStore = Field(description="Chroma: one cosine collection per owner.")

    @classmethod
    def _from_block_document(cls, block_document: BlockDocument) -> NightshiftProfile:
        """Tell each Union field which block type its referenced document is.

        Prefect hydrates nested documents as plain dicts, and pydantic would take the first Union
        member that accepts the fields (an OpenAI LLM document validates as an OfflineLLM). The
        block_type_slug makes Block's own validator pick the right class.
        """
        data = dict(block_document.data)
        for field, reference in (block_document.block_document_references or {}).items():
            if isinstance(data.get(field), dict):
                slug = reference["block_document"]["block_type"]["slug"]
                data[field] = {**data[field], "block_type_slug": slug}
        return super()._from_block_document(block_document.model_copy(update={"data": data}))



def embedded_profile(home: Path, database_url: str | None = None) -> NightshiftProfile:
    """The embedded default: SQLite, local folders, outbox mail, offline extractor, shipped model."""
    home = home.resolve()
    return NightshiftProfile(
        database=Database(url=SecretStr(database_url or f"sqlite:///{home / 'nightshift.db'}")),
        storage=LocalFolderStorage(root=str(home / "objects")),
        mailer=OutboxMailer(folder=str(home / "outbox")),
        llm=OfflineLLM(),
        embedder=SentenceTransformerEmbedder(),
        vector_store=ChromaVectorStore(path=str(home / "chroma")),
    )

BLOCK_TYPES: tuple[type[Block], ...] = (
    Database,
    LocalFolderStorage,
    S3ObjectStorage,
    OutboxMailer,
    SmtpMailer,
    SendGridMailer,
    OfflineLLM,
    OpenAICompatibleLLM,
    SentenceTransformerEmbedder,
    ChromaVectorStore,
    NightshiftProfile,
)

_cache: dict[str, NightshiftProfile] = {}
_cache_lock = threading.Lock()


def load_profile(name: str | None = None) -> NightshiftProfile:
    """The profile block document `name` (default: NIGHTSHIFT_PROFILE, else "local"), once per process."""
    # The variable read directly: building the settings costs about a millisecond, on every call.
    name = name or os.environ.get("NIGHTSHIFT_PROFILE") or Settings.model_fields["profile"].default
    with _cache_lock:
        if name not in _cache:
            try:
                # _sync=True: Prefect's own switch for the synchronous load, so a notebook (whose thread runs
                # an event loop) gets the profile too; Prefect's typing does not list the switch.
                loaded = NightshiftProfile.load(name, _sync=True)  # type: ignore[call-arg]
                _cache[name] = sync_result(loaded, "load_profile()")
            except ValueError as exc:
                raise LookupError(
                    f"no nightshift-profile block named {name!r} on the Prefect server: "
                    f"run `nightshift bootstrap` (or create it in the UI) first"
                ) from exc
        return _cache[name]


def clear_profile_cache() -> None:
    with _cache_lock:
        _cache.clear()
