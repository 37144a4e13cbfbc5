"""The Jobs API: an HTTP service over Prefect (app.py, routes.py, schemas.py, auth.py, registry.py), the
ledger's reads and sync (runs.py), and its dispatcher (dispatcher.py), which hands small jobs over in
batches (batches.py).

    python -m deployments.api --host 127.0.0.1 --port 8000
"""
