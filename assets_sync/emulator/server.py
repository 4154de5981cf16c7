"""HTTP/1.1 plumbing and the `Emulator` context manager.

A `ThreadingHTTPServer` gives one thread per connection, so injected latency on one client
never serializes the others, and keep-alive connections are reused. Requests are parsed by a
small keep-alive loop (`_Handler`) rather than `BaseHTTPRequestHandler`, whose header parsing
costs as much CPU as serving a cached page. Each response is written with a single `sendmsg`
(headers and body together, TCP_NODELAY) to avoid the Nagle/delayed-ACK stall.
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
from collections.abc import Sequence
from http.server import ThreadingHTTPServer
from types import TracebackType
from typing import Any

from .config import EmulatorConfig, Faults, MutateWhilePaging
from .service import App, Response, error


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: App) -> None:
        self.app = app
        self.connections: set[socket.socket] = set()
        self.conn_lock = threading.Lock()
        super().__init__(address, _Handler)

    def close_connections(self) -> None:
        with self.conn_lock:
            for conn in list(self.connections):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)


_METHODS = frozenset({"GET", "POST", "PUT", "DELETE", "PATCH"})
_MAX_LINE = 65536
_MAX_HEADERS = 100


class _Handler(socketserver.StreamRequestHandler):
    """A minimal HTTP/1.1 keep-alive loop (one thread per connection).

    `BaseHTTPRequestHandler` parses headers with the `email` package and costs a few hundred
    µs of CPU per request, as much as serving a cached page; this loop reads the request line
    and the three headers the emulator uses, and writes each response with one `sendmsg`
    (headers and body as two buffers, TCP_NODELAY). No per-request logging.
    """

    server: _Server
    rbufsize = 1 << 16

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.conn_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.conn_lock:
            self.server.connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def handle(self) -> None:
        with contextlib.suppress(OSError, ValueError):  # peer gone, or socket closed under us
            while self._one():
                pass

    def _one(self) -> bool:
        """Serve one request; False when the connection must be closed."""
        rfile = self.rfile
        line = rfile.readline(_MAX_LINE + 1)
        while line in (b"\r\n", b"\n"):  # tolerate empty lines between requests
            line = rfile.readline(_MAX_LINE + 1)
        if not line:
            return False
        parts = line.split()
        if len(parts) != 3 or len(line) > _MAX_LINE or not parts[2].startswith(b"HTTP/"):
            self._send(error(400, "bad request line"), close=True)
            return False
        method, target, version = (p.decode("latin-1") for p in parts)
        authorization = length_text = connection = None
        for _ in range(_MAX_HEADERS + 1):
            header = rfile.readline(_MAX_LINE + 1)
            if header in (b"\r\n", b"\n", b""):
                break
            name, _, value = header.decode("latin-1").partition(":")
            name = name.strip().lower()
            if name == "authorization":
                authorization = value.strip()
            elif name == "content-length":
                length_text = value.strip()
            elif name == "connection":
                connection = value.strip().lower()
        else:
            self._send(error(431, "too many headers"), close=True)
            return False
        close = connection == "close" if version == "HTTP/1.1" else connection != "keep-alive"
        try:
            length = int(length_text or 0)
            if length < 0:
                raise ValueError(length)
        except ValueError:
            self._send(error(400, "invalid Content-Length"), close=True)
            return False
        body = rfile.read(length) if length else b""
        if method not in _METHODS:
            resp = error(501, f"Unsupported method ({method!r})")
        else:
            try:
                resp = self.server.app.handle(method, target, authorization, body)
            except Exception as exc:  # noqa: BLE001 - a bug must still answer, as a 500
                resp = error(500, f"emulator bug: {type(exc).__name__}: {exc}")
        if resp.drop:
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return False
        self._send(resp, close)
        return not close

    def _send(self, resp: Response, close: bool) -> None:
        head = f"HTTP/1.1 {resp.status} {resp.reason}\r\nContent-Type: {resp.content_type}\r\n" \
               f"Content-Length: {len(resp.body)}\r\n"  # fmt: skip
        for k, v in resp.headers:
            head += f"{k}: {v}\r\n"
        if close:
            head += "Connection: close\r\n"
        data = [(head + "\r\n").encode("latin-1"), resp.body]
        sock = self.connection
        total = len(data[0]) + len(data[1])
        sent = sock.sendmsg(data)
        if sent < total:  # a partial writev: finish with sendall
            sock.sendall(b"".join(data)[sent:])


class Emulator:
    """An offline `GET /v1/assets` on 127.0.0.1, on a free port, served by a background thread.

    Data is generated when the object is built; `start()` (or `with`) binds and serves.
    Every mutation and policy change is immediately visible to the next request.
    """

    def __init__(
        self, config: EmulatorConfig | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.config = config or EmulatorConfig()
        self.app = App(self.config)
        self.host, self.port = host, port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------
    def bind(self) -> _Server:
        if self._server is None:
            self._server = _Server((self.host, self.port), self.app)
            self.port = self._server.server_address[1]
        return self._server

    def start(self) -> Emulator:
        server = self.bind()
        if self._thread is None:
            self._thread = threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.05},
                name=f"emulator:{self.port}", daemon=True,
            )  # fmt: skip
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until `stop()` or KeyboardInterrupt."""
        self.bind().serve_forever(poll_interval=0.2)

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        if self._thread is not None:
            server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        server.close_connections()
        server.server_close()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # fmt: skip
        self.stop()

    # -- addresses -----------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """Stands in for `https://api.cloud.scenario.com/v1`."""
        return self.url + "/v1"

    @property
    def admin_url(self) -> str:
        return self.url + "/_emulator"

    # -- data ----------------------------------------------------------------------------
    @property
    def project_ids(self) -> list[str]:
        return list(self.app.store.project_ids)

    def truth(self, project_id: str | None = None) -> list[dict[str, Any]]:
        """Every live asset exactly as served now, ordered by (createdAt, id)."""
        return self.app.store.truth(project_id)

    def update(self, ids: Sequence[str] | None = None, n: int = 10) -> list[str]:
        """Bump `updatedAt` to now (monotonic ms) and change name/description/tags/URL."""
        return self.app.store.update(ids, n)

    def add(self, n: int = 5, parent_id: str | None = None) -> list[str]:
        """New assets stamped now; with `parent_id`, derived children in its lineage tree."""
        return self.app.store.add(n, parent_id)

    def delete(self, ids: Sequence[str] | None = None, n: int = 5) -> list[str]:
        """Hard-delete: the assets vanish from every listing (invisible to incremental pulls)."""
        return self.app.store.delete(ids, n)

    def set_faults(self, faults: Faults) -> None:
        self.app.faults.set(faults)

    def set_mutate_while_paging(self, mwp: MutateWhilePaging | None) -> None:
        self.app.set_mutate_while_paging(mwp)

    def stats(self) -> dict[str, Any]:
        return self.app.stats()

    def reset_stats(self) -> None:
        self.app.reset_stats()
