"""The Jobs API: an HTTP service over Prefect (app.py, routes.py) and its dispatcher (dispatcher.py).

    python -m deployments.api --host 127.0.0.1 --port 8000
"""
