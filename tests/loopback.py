"""A loopback TCP server for tests: every accepted connection is handed to a handler on a
thread of its own, and stays open until the server stops (so a handler that returns at once
makes a black hole: a port that accepts and never answers)."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Handler = Callable[[socket.socket], None]


@contextmanager
def serve(handler: Handler, context: ssl.SSLContext | None = None) -> Iterator[int]:
    """A loopback server running `handler` on every connection; yields its port."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    server.settimeout(0.05)
    stop = threading.Event()
    conns: list[socket.socket] = []

    def run(conn: socket.socket) -> None:
        try:
            if context is not None:
                conn = context.wrap_socket(conn, server_side=True)
            handler(conn)
        except (OSError, ssl.SSLError):
            pass

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            conns.append(conn)
            threading.Thread(target=run, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(server.getsockname()[1])
    finally:
        stop.set()
        thread.join(timeout=2)
        for conn in conns:
            conn.close()
        server.close()
