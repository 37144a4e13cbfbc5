"""Former home of todo extraction's queries, now store.extraction; kept until its last callers move."""

from store.extraction import (  # noqa: F401
    claim_extraction,
    execution_chain,
    executions_due_for_extraction,
    insert_todos,
    latest_version_id,
    latest_versions,
)
