"""`StdlibTransport` under `httpx.Client`: keep-alive, the server's ways of ending a
connection, timeouts, encodings and TLS, each mapped to the httpx error `AssetsClient` expects.

Servers are raw sockets on 127.0.0.1 (free ports) so that every misbehaviour is exact; the
engine over the emulator, faults included, runs on this transport in the e2e tests.
"""

from __future__ import annotations

import datetime
import gzip
import ipaddress
import socket
import ssl
import threading
import time
from pathlib import Path

import httpx
import pytest

from assets_sync.emulator import Emulator, EmulatorConfig
from assets_sync.transport import StdlibTransport
from tests.loopback import Handler, serve

OK = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 9\r\n\r\n{"ok": 1}'


def read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return b""
        data += chunk
    return data


def answer_each(response: bytes, close_after: bool = False) -> Handler:
    def handle(conn: socket.socket) -> None:
        while read_request(conn):
            conn.sendall(response)
            if close_after:
                conn.close()  # without saying so: the client's pooled connection is now dead
                return

    return handle


def client(
    port: int,
    scheme: str = "http",
    *,
    read: float = 5.0,
    pool: float = 5.0,
    max_connections: int = 16,
    ssl_context: ssl.SSLContext | None = None,
) -> httpx.Client:
    transport = StdlibTransport(max_connections=max_connections, ssl_context=ssl_context)
    timeout = httpx.Timeout(5.0, read=read, pool=pool)
    return httpx.Client(
        base_url=f"{scheme}://127.0.0.1:{port}", transport=transport, timeout=timeout
    )


def opened(c: httpx.Client) -> int:
    transport = c._transport
    assert isinstance(transport, StdlibTransport)
    return transport.connections_opened


def test_pages_from_the_emulator_match_httpx_own_transport_over_one_kept_alive_connection() -> (
    None
):
    config = EmulatorConfig(assets=300, seed=1, api_key="k", api_secret="s")
    with Emulator(config) as emu, httpx.Client(base_url=emu.base_url, auth=("k", "s")) as plain:
        fast = httpx.Client(base_url=emu.base_url, auth=("k", "s"), transport=StdlibTransport())
        with fast:
            for size in ("1", "50", "100"):
                params = {"pageSize": size, "sortBy": "updatedAt", "sortDirection": "asc"}
                a, b = plain.get("/assets", params=params), fast.get("/assets", params=params)
                assert a.status_code == b.status_code == 200
                assert a.json() == b.json()
                assert b.headers["content-type"] == a.headers["content-type"]
            assert fast.get("/assets", params={"pageSize": "0"}).status_code == 400
            assert opened(fast) == 1


def test_a_connection_the_server_closed_while_idle_is_replaced_transparently() -> None:
    with serve(answer_each(OK, close_after=True)) as port, client(port) as c:
        for _ in range(3):
            assert c.get("/x").json() == {"ok": 1}
            time.sleep(0.05)  # the server's close arrives
        assert opened(c) == 3


def test_connection_close_is_honoured() -> None:
    response = OK.replace(b"Content-Length", b"Connection: close\r\nContent-Length")
    with serve(answer_each(response)) as port, client(port) as c:
        assert c.get("/x").json() == {"ok": 1}
        assert c.get("/x").json() == {"ok": 1}
        assert opened(c) == 2


def test_a_new_connection_closed_without_an_answer_is_a_protocol_error() -> None:
    def hang_up(conn: socket.socket) -> None:
        read_request(conn)
        conn.close()

    with serve(hang_up) as port, client(port) as c:
        with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
            c.get("/x")
        assert opened(c) == 1  # not retried: a new connection was not stale


def test_a_truncated_body_is_a_protocol_error() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"

    def truncate(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(head + b'{"assets": [')
        conn.close()

    with (
        serve(truncate) as port,
        client(port) as c,
        pytest.raises(httpx.RemoteProtocolError, match="closed in the body after 12 bytes"),
    ):
        c.get("/x")


def test_timeouts_and_refusals_are_httpx_errors() -> None:
    def silent(conn: socket.socket) -> None:
        read_request(conn)
        time.sleep(3)

    with serve(silent) as port, client(port, read=0.2) as c:
        t0 = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            c.get("/x")
        assert time.monotonic() - t0 < 2
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = int(probe.getsockname()[1])
    with client(free) as c, pytest.raises(httpx.ConnectError, match=f"127.0.0.1:{free}"):
        c.get("/x")
    with client(free) as c, pytest.raises(httpx.UnsupportedProtocol):
        c.get("ftp://127.0.0.1/x")


def test_a_request_waits_for_a_free_connection_up_to_the_pool_timeout() -> None:
    def slow(conn: socket.socket) -> None:
        while read_request(conn):
            time.sleep(0.6)
            conn.sendall(OK)

    with serve(slow) as port, client(port, max_connections=1, pool=0.1) as c:
        first = threading.Thread(target=c.get, args=("/x",))
        first.start()
        time.sleep(0.2)
        with pytest.raises(httpx.PoolTimeout):
            c.get("/x")
        first.join()
        assert c.get("/x").json() == {"ok": 1}  # free again


def test_gzip_and_chunked_answers_are_decoded_by_httpx() -> None:
    body = gzip.compress(b'{"assets": [], "n": "' + b"x" * 5000 + b'"}')
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in (body[:100], body[100:]))
    response = (
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
        + chunks
        + b"0\r\n\r\n"
    )
    seen: list[bytes] = []

    def handle(conn: socket.socket) -> None:
        while request := read_request(conn):
            seen.append(request)
            conn.sendall(response)

    with serve(handle) as port, client(port) as c:
        for _ in range(2):
            assert c.get("/x").json()["n"] == "x" * 5000
        assert opened(c) == 1
    assert b"accept-encoding: gzip" in seen[0].lower()
    assert seen[0].startswith(b"GET /x HTTP/1.1\r\n") and b"\r\nhost: 127.0.0.1" in seen[0].lower()


def _self_signed(tmp_path: Path, names: list[str]) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = datetime.datetime.now(datetime.UTC)
    alt: list[x509.GeneralName] = []
    for name in names:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt.append(x509.DNSName(name))
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_tls_certificates_and_host_names_are_verified(tmp_path: Path) -> None:
    """By default (certifi's roots) a self-signed server is refused; trusted, it is served;
    trusted but for another host name, it is refused again."""
    cert, key = _self_signed(tmp_path, ["127.0.0.1"])
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key)
    trusting = ssl.create_default_context(cafile=str(cert))
    with serve(answer_each(OK), context=server) as port:
        with client(port, "https") as c, pytest.raises(httpx.ConnectError, match="CERTIFICATE"):
            c.get("/x")
        with client(port, "https", ssl_context=trusting) as c:
            assert c.get("/x").json() == {"ok": 1}
            assert c.get("/x").json() == {"ok": 1}
            assert opened(c) == 1
    (tmp_path / "other").mkdir()
    other, other_key = _self_signed(tmp_path / "other", ["api.example.com"])
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(other, other_key)
    trusting = ssl.create_default_context(cafile=str(other))
    with (
        serve(answer_each(OK), context=server) as port,
        client(port, "https", ssl_context=trusting) as c,
        pytest.raises(httpx.ConnectError, match=r"(?i)hostname|IP address mismatch"),
    ):
        c.get("/x")


def test_closing_the_transport_closes_its_idle_connections() -> None:
    with serve(answer_each(OK)) as port:
        c = client(port)
        c.get("/x")
        transport = c._transport
        assert isinstance(transport, StdlibTransport)
        (conns,) = transport._idle.values()
        (conn,) = conns
        c.close()
        assert conn.sock is None and not transport._idle


def test_a_kept_alive_connection_dropped_during_a_request_is_an_error_not_a_resend() -> None:
    """Retrying is the client's policy (with its backoff and counters), not the transport's."""
    requests: list[bytes] = []

    def answer_once(conn: socket.socket) -> None:
        while request := read_request(conn):
            requests.append(request)
            if len(requests) == 2:
                conn.close()
                return
            conn.sendall(OK)

    with serve(answer_once) as port, client(port) as c:
        assert c.get("/x").json() == {"ok": 1}
        with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
            c.get("/x")
        assert len(requests) == 2 and opened(c) == 1
        assert c.get("/x").json() == {"ok": 1}  # a new connection
        assert opened(c) == 2


def test_a_request_begun_now_is_answered_when_finished_and_frees_its_connection() -> None:
    """`begin` sends and returns at once; the answer waits in the socket until `finish`, which
    gives the connection back for the next request (pool of one, kept alive)."""
    served: list[float] = []

    def handle(conn: socket.socket) -> None:
        while read_request(conn):
            served.append(time.monotonic())
            conn.sendall(OK)

    with serve(handle) as port, client(port, max_connections=1) as c:
        transport = c._transport
        assert isinstance(transport, StdlibTransport)
        exchange = transport.begin(c.build_request("GET", "/x"))
        deadline = time.monotonic() + 5
        while not served and time.monotonic() < deadline:
            time.sleep(0.01)  # the server answered while nobody was reading
        assert len(served) == 1
        response = exchange.finish()
        assert response.status_code == 200 and response.read() == b'{"ok": 1}'
        assert c.get("/y").status_code == 200  # the one slot and the connection are free
        assert opened(c) == 1
        with pytest.raises(RuntimeError, match="already finished"):
            exchange.finish()


def test_an_abandoned_request_closes_its_connection_and_frees_its_slot() -> None:
    with serve(answer_each(OK)) as port, client(port, max_connections=1, pool=0.5) as c:
        transport = c._transport
        assert isinstance(transport, StdlibTransport)
        exchange = transport.begin(c.build_request("GET", "/x"))
        exchange.abandon()
        exchange.abandon()  # twice is harmless
        assert c.get("/y").status_code == 200  # no pool timeout: the slot came back
        assert opened(c) == 2  # the abandoned connection was not reused: its answer is unread
