"""Demo step: ingest one local web page through the ingest-website deployment and show its chunks.

The page is served from 127.0.0.1 by this process. The crawler refuses loopback addresses unless a
worker allows them, so this run, and only this run, gets NIGHTSHIFT_FETCH_ALLOWED_NETWORKS=127.0.0.1/32
through the deployment's job variables: the worker's own setting (empty in production) is untouched,
and a caller of the Jobs API, which passes flow parameters only, cannot widen it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

SHARED_PAGE = Path(__file__).resolve().parents[3] / "shared" / "data" / "html" / "ideas-page.html"
FALLBACK_PAGE = (
    b"<html><head><title>How to Get New Ideas</title></head><body><article><h1>How to Get New Ideas</h1>"
    b"<p>The way to get new ideas is to notice anomalies: what seems strange, or missing, or broken? "
    b"The best place to look for them is at the frontiers of knowledge.</p></article></body></html>"
)
PAGE_PATH = "/ideas-page.html"
# A fixed port keeps the page's URL, so running the demo again updates the same document.
DEFAULT_PORT = 8401


def _page() -> bytes:
    return SHARED_PAGE.read_bytes() if SHARED_PAGE.is_file() else FALLBACK_PAGE


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body, status = (_page(), 200) if self.path == PAGE_PATH else (b"not found", 404)
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8" if status == 200 else "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve_page() -> Iterator[str]:
    """Serve the demo page on 127.0.0.1 (the fixed port, else a free one); yield its URL."""
    port = int(os.environ.get("NIGHTSHIFT_DEMO_WEB_PORT", DEFAULT_PORT))
    try:
        server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
    except OSError:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{PAGE_PATH}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def run_demo(profile_name: str | None, user_email: str, timeout: float = 300) -> list[str]:
    """Run ingest-website for one local page through the Prefect API; return lines to print."""
    from prefect.deployments import run_deployment

    from blocks.prefect_calls import sync_result
    from blocks.profile import load_profile
    from store.documents import documents_at
    from store.users import user_id_by_email

    database = load_profile(profile_name).database
    with database.session() as session:
        owner = user_id_by_email(session, user_email)
    if owner is None:
        return [f"  no user with e-mail {user_email!r}: load the demo data first"]
    env = {"NIGHTSHIFT_FETCH_ALLOWED_NETWORKS": "127.0.0.1/32"}
    if profile_name:
        env["NIGHTSHIFT_PROFILE"] = profile_name
    with serve_page() as url:
        run = sync_result(run_deployment(
            "ingest-website/ingest-website",
            parameters={"url": url, "owner_user_id": owner, "max_pages": 1},
            job_variables={"env": env},
            timeout=timeout,
        ), "run_deployment")
    state = run.state.name if run.state else "unknown"
    lines = [f"  {url} served locally; deployment ingest-website/ingest-website, flow run {run.name!r}: {state}"]
    with database.session() as session:
        rows = documents_at(session, owner, url)
    for document_id, name, status, error, chunks in rows:
        lines.append(f"  document {document_id} {name!r}: {status}, {chunks} chunks" + (f" ({error})" if error else ""))
    if not rows:
        lines.append("  no document was written: see the flow run's logs in the Prefect UI")
    if not (run.state and run.state.is_completed()):
        raise RuntimeError("\n".join(lines))
    return lines
