"""`StdlibTransport`: an httpx transport over the standard library's `http.client`.

Why: every page is one GET whose body is read whole, and the fetch threads hold the GIL while
they do it, so the transport's Python work is paid once per page for the whole process.
httpx's own transport (httpcore + h11) took 0.85 ms of CPU per 131 KB emulator page over
loopback, `http.client` 0.21 ms (the 2-core dev box; `benchmarks/RESULTS.md`): with this
transport a 100k-asset sync used ~9 % less CPU.

What stays httpx's: the `httpx.Client` above (URL and query encoding, headers, the
`Accept-Encoding` it sends and the decoding of the answer, timeouts handed down in
`request.extensions`), the `httpx.Response` the client reads, and the exceptions
(`ConnectError`, `ConnectTimeout`, `ReadTimeout`, `WriteTimeout`, `PoolTimeout`,
`RemoteProtocolError`, `ReadError`, `WriteError`, `UnsupportedProtocol`), which
`AssetsClient` maps to its own errors as before. TLS uses `httpx.create_ssl_context()`:
certifi's roots (or `SSL_CERT_FILE` / `SSL_CERT_DIR`), certificates and host names verified.

What it does not do, so `AssetsClient` keeps httpx's transport for it: proxies (a
`*_proxy` variable in the environment), HTTP/2. Responses are read whole before they are
returned (no streaming), which is what the client does with every page anyway.

Connections: kept alive and reused, at most `max_connections` at once (a request waits up
to the pool timeout for one). As httpcore does, an idle connection is checked before reuse
(`select`): one the server closed while it was idle is dropped, never sent a request. A
connection that fails during a request is closed and the error raised; retrying is the
client's policy (`AssetsClient`), not the transport's.
"""

from __future__ import annotations

import http.client
import select
import ssl
import threading
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from assets_sync._lean_httpx import httpx

_DEFAULT_PORTS = {"http": 80, "https": 443}
_Key = tuple[str, str, int]
_Connection = http.client.HTTPConnection


class StdlibTransport(httpx.BaseTransport):
    """HTTP/1.1 with keep-alive over `http.client`, for `httpx.Client(transport=...)`."""

    def __init__(
        self, *, max_connections: int = 16, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        if max_connections < 1:
            raise ValueError("max_connections must be >= 1")
        self._ssl_context = ssl_context if ssl_context is not None else httpx.create_ssl_context()
        self._slots = threading.BoundedSemaphore(max_connections)
        self._lock = threading.Lock()
        self._idle: dict[_Key, list[_Connection]] = {}
        self._closed = False
        #: connections opened so far (a reused connection is not counted again)
        self.connections_opened = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self.begin(request).finish()

    def begin(self, request: httpx.Request) -> Exchange:
        """Send `request` now and return at once; `Exchange.finish()` reads the answer.

        The connection (and its pool slot) belongs to the exchange until it is finished or
        abandoned: the caller may do other work while the server prepares the answer (the
        engine normalizes a page while the next one is on its way). Errors of sending are
        raised here, errors of the answer by `finish()`, as httpx's own exceptions.
        """
        url = request.url
        if url.scheme not in _DEFAULT_PORTS:
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme {url.scheme!r}")
        key = (url.scheme, url.host, url.port or _DEFAULT_PORTS[url.scheme])
        target = url.raw_path.decode("ascii")
        timeouts = request.extensions.get("timeout", {})
        outgoing = _Outgoing(request.method, target, request.headers.raw, request.read())
        return self._begin(key, outgoing, timeouts)

    def begin_get(self, template: GetTemplate, query: Sequence[tuple[str, str]]) -> Exchange:
        """`begin` for a GET of `template`'s URL with this query, without an `httpx.Request`.

        The client's hot path: building an `httpx.Request` parses and re-encodes the whole URL
        (~70 us a page), and `httpx.Client.send` adds its own layers (~150 us a page more,
        measured against the emulator); the template is built once by httpx and only the query
        string is encoded per request, as httpx encodes it.
        """
        outgoing = _Outgoing("GET", template.target(query), template.headers, b"")
        return self._begin(template.key, outgoing, template.timeouts)

    def _begin(
        self, key: _Key, outgoing: _Outgoing, timeouts: Mapping[str, float | None]
    ) -> Exchange:
        if not self._slots.acquire(timeout=timeouts.get("pool")):
            raise httpx.PoolTimeout("no connection free within the pool timeout")
        try:
            conn = self._take_idle(key) or self._open(key, timeouts.get("connect"))
            try:
                _send(conn, outgoing, timeouts)
            except BaseException:
                conn.close()
                raise
        except BaseException:
            self._slots.release()
            raise
        return Exchange(self, key, conn, timeouts)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in conns:
                conn.close()

    def _take_idle(self, key: _Key) -> _Connection | None:
        """A kept-alive connection to `key`, skipping those the server closed while idle."""
        while True:
            with self._lock:
                conns = self._idle.get(key)
                conn = conns.pop() if conns else None
            if conn is None or not _readable(conn):
                return conn
            conn.close()  # EOF (or stray bytes) on an idle connection: the server let it go

    def _give_back(self, key: _Key, conn: _Connection) -> None:
        if conn.sock is None:  # the answer said Connection: close, or had no length
            return
        with self._lock:
            if not self._closed:
                self._idle.setdefault(key, []).append(conn)
                return
        conn.close()

    def _open(self, key: _Key, timeout: float | None) -> _Connection:
        scheme, host, port = key
        conn: _Connection
        if scheme == "https":
            context = self._ssl_context
            conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
        else:
            conn = http.client.HTTPConnection(host, port, timeout=timeout)
        try:
            conn.connect()
        except TimeoutError as exc:
            conn.close()
            raise httpx.ConnectTimeout(f"connect to {host}:{port} timed out") from exc
        except OSError as exc:  # refused, unreachable, DNS, TLS (certificate, host name)
            conn.close()
            raise httpx.ConnectError(f"cannot connect to {host}:{port}: {exc}") from exc
        with self._lock:
            self.connections_opened += 1
        return conn


def _readable(conn: _Connection) -> bool:
    """Whether an idle connection has something to read: the server's EOF (or TLS close)."""
    sock = conn.sock
    if sock is None:
        return True
    try:
        ready, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(ready)


@dataclass(frozen=True)
class GetTemplate:
    """The fixed parts of a GET to one URL, from a request httpx built: only the query varies.

    `target(query)` is the path and query httpx itself would send for `params=query` (its
    query string is `urllib.parse.urlencode` of the pairs, a repeated key's values grouped
    at its first place; tested against httpx).
    """

    key: _Key
    path: str  # the URL's raw path, without a query
    #: every header httpx would send, `Host` and `Authorization` included (never in the repr)
    headers: tuple[tuple[bytes, bytes], ...] = field(repr=False)
    timeouts: Mapping[str, float | None] = field(default_factory=dict)

    @classmethod
    def of(cls, request: httpx.Request) -> GetTemplate:
        """The template of `request` (a GET without a query, a body or a streaming body)."""
        url = request.url
        if request.method != "GET" or url.query or url.scheme not in _DEFAULT_PORTS:
            # Not the URL in the message: its user info may hold credentials.
            raise ValueError(
                f"not a template: a {request.method} with a query or a scheme {url.scheme!r}"
            )
        return cls(
            key=(url.scheme, url.host, url.port or _DEFAULT_PORTS[url.scheme]),
            path=url.raw_path.decode("ascii"),
            headers=tuple(request.headers.raw),
            timeouts=dict(request.extensions.get("timeout", {})),
        )

    def target(self, query: Sequence[tuple[str, str]]) -> str:
        if not query:
            return self.path
        # As `httpx.QueryParams`: a key's values together, keys in order of first appearance.
        grouped: dict[str, list[str]] = {}
        for key, value in query:
            grouped.setdefault(key, []).append(value)
        pairs = [(key, value) for key, values in grouped.items() for value in values]
        return f"{self.path}?{urllib.parse.urlencode(pairs)}"


class Exchange:
    """A request sent by `StdlibTransport.begin`, its answer not read yet."""

    def __init__(
        self,
        transport: StdlibTransport,
        key: _Key,
        conn: _Connection,
        timeouts: Mapping[str, float | None],
    ) -> None:
        self._transport = transport
        self._key = key
        self._conn: _Connection | None = conn
        self._timeouts = timeouts

    def finish(self) -> httpx.Response:
        """The whole answer; the connection goes back to the pool (or is closed on error)."""
        conn, self._conn = self._conn, None
        if conn is None:
            raise RuntimeError("this exchange was already finished or abandoned")
        try:
            try:
                status, headers, content = _receive(conn, self._timeouts)
            except BaseException:
                conn.close()
                raise
            self._transport._give_back(self._key, conn)
        finally:
            self._transport._slots.release()
        return httpx.Response(
            status,
            headers=headers,
            stream=httpx.ByteStream(content),
            extensions={"http_version": b"HTTP/1.1"},
        )

    def abandon(self) -> None:
        """Nobody wants the answer: the connection is closed (the server may still answer)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
            self._transport._slots.release()


class _Outgoing(NamedTuple):
    """What `_send` writes: the request line's method and target, the headers (`Host`
    included), the body."""

    method: str
    target: str
    headers: Sequence[tuple[bytes, bytes]]
    body: bytes


def _send(conn: _Connection, out: _Outgoing, timeouts: Mapping[str, float | None]) -> None:
    """Send the request (the answer is read by `_receive`)."""
    sock = conn.sock
    assert sock is not None  # opened or taken idle: connected
    sock.settimeout(timeouts.get("write"))
    try:
        conn.putrequest(out.method, out.target, skip_host=True, skip_accept_encoding=True)
        for name, value in out.headers:
            conn.putheader(name, value)
        conn.endheaders(out.body or None)
    except TimeoutError as exc:
        raise httpx.WriteTimeout("timed out sending the request") from exc
    except OSError as exc:
        raise httpx.WriteError(f"sending the request failed: {exc!r}") from exc


def _receive(
    conn: _Connection, timeouts: Mapping[str, float | None]
) -> tuple[int, list[tuple[str, str]], bytes]:
    """Read the whole answer to the request `_send` sent: (status, headers, body)."""
    sock = conn.sock
    if sock is None:
        raise httpx.RemoteProtocolError("the connection was closed before the answer")
    sock.settimeout(timeouts.get("read"))
    try:
        response = conn.getresponse()
    except TimeoutError as exc:
        raise httpx.ReadTimeout("timed out waiting for the answer") from exc
    except http.client.RemoteDisconnected as exc:
        raise httpx.RemoteProtocolError("server disconnected without sending a response") from exc
    except (http.client.HTTPException, OSError) as exc:
        raise httpx.RemoteProtocolError(f"bad answer: {exc!r}") from exc
    try:
        content = response.read()
    except TimeoutError as exc:
        raise httpx.ReadTimeout("timed out reading the answer's body") from exc
    except http.client.IncompleteRead as exc:
        raise httpx.RemoteProtocolError(
            f"connection closed in the body after {len(exc.partial)} bytes"
        ) from exc
    except (http.client.HTTPException, OSError) as exc:
        raise httpx.ReadError(f"reading the answer's body failed: {exc!r}") from exc
    if response.will_close:
        conn.close()
    return response.status, response.getheaders(), content
