"""The steps of nightshift's flows: small, retryable, idempotent Prefect tasks and their pure helpers."""
