"""A loopback HTTP server for crawl tests: pages, redirects, slow and huge responses, a request log."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Page:
    body: bytes = b""
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before the status line
    stream_bytes: int = 0  # when set: this many bytes, in 64 KiB writes, without Content-Length


def html(title: str, body: str) -> Page:
    return Page(f"<!DOCTYPE html><html lang='en'><head><title>{title}</title></head><body>{body}</body></html>".encode())


def redirect(location: str, status: int = 302) -> Page:
    return Page(status=status, headers={"Location": location}, content_type="text/plain")


class SiteServer(ThreadingHTTPServer):
    """Serves `pages` by path (404 otherwise) on 127.0.0.1 and records every request."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, pages: dict[str, Page] | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.pages: dict[str, Page] = dict(pages or {})
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.stopping = threading.Event()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]


class _Handler(BaseHTTPRequestHandler):
    server: SiteServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.server.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
        page = self.server.pages.get(self.path) or Page(b"<html><body>not found</body></html>", status=404)
        if page.delay and self.server.stopping.wait(page.delay):
            return
        if _not_modified(page, self.headers):
            self.send_response(304)
            for name in ("ETag", "Last-Modified"):
                if name in page.headers:
                    self.send_header(name, page.headers[name])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        try:
            self.send_response(page.status)
            self.send_header("Content-Type", page.content_type)
            for name, value in page.headers.items():
                self.send_header(name, value)
            if page.stream_bytes:
                self.send_header("Connection", "close")
                self.end_headers()
                chunk = b"<p>" + b"x" * (65536 - 7) + b"</p>\n"
                for _ in range(page.stream_bytes // len(chunk)):
                    self.wfile.write(chunk)
                return
            self.send_header("Content-Length", str(len(page.body)))
            self.end_headers()
            self.wfile.write(page.body)
        except OSError:
            pass  # the client stopped reading (size cap, timeout)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve(pages: dict[str, Page] | None = None) -> Iterator[SiteServer]:
    server = SiteServer(pages)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _not_modified(page: Page, request: Any) -> bool:
    """A conditional GET whose validators match the page's ETag (else its Last-Modified)."""
    etag, since = request.get("If-None-Match"), request.get("If-Modified-Since")
    if etag is not None and "ETag" in page.headers:
        return etag == page.headers["ETag"]
    return since is not None and since == page.headers.get("Last-Modified")
