"""`GetTemplate` and the client's page requests sent from it (`StdlibTransport.begin_get`).

The template replaces httpx's per-request URL building on the hot path, so what goes on the
wire must be what httpx would have sent: the same request line for any query, the same
headers. Checked against httpx itself (Hypothesis for the query encoding) and on the wire
against a raw socket server, with the client on httpx's own transport as the reference.
"""

from __future__ import annotations

import socket

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from assets_sync.auth import BasicAuth, SecretStr
from assets_sync.client import AssetsClient
from assets_sync.config import ApiSettings
from assets_sync.transport import GetTemplate, StdlibTransport
from tests.loopback import Handler, serve

PAGE = b'{"assets": [], "nextPaginationToken": null}'
ANSWER = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    b"Content-Length: " + str(len(PAGE)).encode() + b"\r\n\r\n" + PAGE
)

# Any text a query could carry: tokens (base64 with + / =), timestamps, ids, and unicode.
_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=30,
)
_queries = st.lists(st.tuples(_text, _text), max_size=6)


@given(
    query=_queries,
    base=st.sampled_from(
        ["http://127.0.0.1:8080/v1", "https://api.cloud.scenario.com/v1", "http://h/a%20b/v1"]
    ),
)
def test_the_target_is_the_path_and_query_httpx_would_send(
    query: list[tuple[str, str]], base: str
) -> None:
    with httpx.Client(base_url=base) as c:
        template = GetTemplate.of(c.build_request("GET", "/assets"))
        expected = c.build_request("GET", "/assets", params=query).url.raw_path.decode("ascii")
    assert template.target(query) == expected


def test_the_template_keeps_every_header_and_timeout_and_hides_them_from_its_repr() -> None:
    timeout = httpx.Timeout(3.0, read=7.0)
    with httpx.Client(base_url="https://example.test:8443/v1", timeout=timeout) as c:
        request = c.build_request("GET", "/assets", headers={"Authorization": "Basic c2VjcmV0"})
    template = GetTemplate.of(request)
    assert template.key == ("https", "example.test", 8443)
    assert template.path == "/v1/assets"
    assert template.headers == tuple(request.headers.raw)
    assert (b"Host", b"example.test:8443") in template.headers
    assert template.timeouts == {"connect": 3.0, "read": 7.0, "write": 3.0, "pool": 3.0}
    assert "c2VjcmV0" not in repr(template)


@pytest.mark.parametrize(
    ("method", "url"),
    [("POST", "http://h/v1/assets"), ("GET", "http://h/v1/assets?x=1")],
)
def test_only_a_get_without_a_query_is_a_template(method: str, url: str) -> None:
    with pytest.raises(ValueError, match="not a template"):
        GetTemplate.of(httpx.Request(method, url))


def _recording(requests: list[bytes]) -> Handler:
    def handle(conn: socket.socket) -> None:
        data = b""
        while True:
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                data += chunk
            head, _, data = data.partition(b"\r\n\r\n")
            requests.append(head)
            conn.sendall(ANSWER)

    return handle


def _sent(
    port: int, requests: list[bytes], transport: httpx.BaseTransport | None, base_path: str
) -> list[bytes]:
    """The request heads an AssetsClient sends for two pages, one of them sent ahead."""
    before = len(requests)
    settings = ApiSettings(
        base_url=f"http://127.0.0.1:{port}{base_path}",
        credentials=BasicAuth(SecretStr("key"), SecretStr("secret")),
    )
    with AssetsClient(settings, transport=transport) as client:
        query = (("pageSize", "100"), ("updatedAfter", "2024-05-01T00:00:00.000Z"))
        token = (("paginationToken", "a+b/c=="), ("sortBy", "updatedAt"))
        page = client.list_page(query)
        assert page.next_token is None and list(page.assets) == []
        client.list_page(token, sent=client.begin_page(token))
    return requests[before:]


def _ours_and_httpx(base_path: str = "/v1") -> tuple[list[bytes], list[bytes]]:
    requests: list[bytes] = []
    with serve(_recording(requests)) as port:
        return (
            _sent(port, requests, StdlibTransport(), base_path),
            _sent(port, requests, httpx.HTTPTransport(), base_path),
        )


def test_the_client_sends_what_it_sent_through_httpx() -> None:
    fast, reference = _ours_and_httpx()
    assert len(fast) == len(reference) == 2
    for ours, theirs in zip(fast, reference, strict=True):
        our_lines, their_lines = ours.split(b"\r\n"), theirs.split(b"\r\n")
        assert our_lines[0] == their_lines[0]  # the request line: method, path, query
        assert sorted(our_lines[1:]) == sorted(their_lines[1:])  # every header, once
    assert fast[0].startswith(
        b"GET /v1/assets?pageSize=100&updatedAfter=2024-05-01T00%3A00%3A00.000Z HTTP/1.1"
    )
    assert fast[1].startswith(b"GET /v1/assets?paginationToken=a%2Bb%2Fc%3D%3D&sortBy=")


def test_a_base_url_with_a_query_of_its_own_is_sent_as_httpx_builds_it() -> None:
    # No template for it: httpx's request building, whatever it makes of such a URL.
    fast, reference = _ours_and_httpx(base_path="/v1?tenant=t1")
    assert len(fast) == len(reference) == 2
    assert [r.split(b"\r\n")[0] for r in fast] == [r.split(b"\r\n")[0] for r in reference]
