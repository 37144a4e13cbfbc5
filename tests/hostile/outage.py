"""A TCP proxy in front of PostgreSQL that takes the database away when a given statement goes by."""

from __future__ import annotations

import contextlib
import socket
import threading


class DatabaseOutage:
    """Forwards loopback connections to PostgreSQL until a client sends `trigger`.

    Then every connection is cut and new ones are closed at once (the database is "down") until
    `restore()`: what a worker sees when the database fails over at the worst moment.
    """

    def __init__(self, trigger: bytes, upstream: tuple[str, int] = ("127.0.0.1", 5432)) -> None:
        self.trigger, self.upstream = trigger, upstream
        self.down = threading.Event()
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def restore(self) -> None:
        """The database is back, for good: the trigger no longer takes it away."""
        self.trigger = b""
        self.down.clear()

    def close(self) -> None:
        self._listener.close()
        self._cut()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.down.is_set():
                client.close()
                continue
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets |= {client, server}
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, from_client: bool) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                if from_client and self.trigger and self.trigger in data:
                    self.down.set()
                if self.down.is_set():
                    break
                target.sendall(data)
        if self.down.is_set():
            self._cut()
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _cut(self) -> None:
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
