"""A page's request sent ahead (`AssetsClient.begin_page`, `Prefetcher`, `paginate(prefetch=)`):
the same pages, the same retries and counts, and nothing taken for a page it was not sent for.

The engine over the emulator (ties, mutations while paging, faults) runs through this path in
the e2e tests; these pin down each piece.
"""

from __future__ import annotations

import socket

import httpx
import orjson
import pytest

from assets_sync.auth import BasicAuth, SecretStr
from assets_sync.client import AssetsClient, Params
from assets_sync.config import ApiSettings
from assets_sync.emulator import Emulator, EmulatorConfig
from assets_sync.pagination import paginate
from assets_sync.prefetch import Prefetcher
from assets_sync.ratelimit import NoLimit, RateLimiter
from assets_sync.retry import RetryPolicy
from assets_sync.windows import Window, parse_iso_ms
from tests.assets_sync.fakeapi import FakeApi, make_asset
from tests.assets_sync.test_transport import read_request
from tests.loopback import serve

PAGE = orjson.dumps({"assets": [{"id": "asset_1", "updatedAt": "2024-01-01T00:00:00.000Z"}]})


def http(status: int, body: bytes, extra: str = "") -> bytes:
    head = f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n{extra}"
    return head.encode() + b"Content-Length: %d\r\n\r\n" % len(body) + body


def client_at(base_url: str, sleeps: list[float] | None = None) -> AssetsClient:
    settings = ApiSettings(base_url=base_url, credentials=BasicAuth(SecretStr("k"), SecretStr("s")))
    sleep = sleeps.append if sleeps is not None else (lambda _: None)
    return AssetsClient(settings, retry=RetryPolicy(jitter=0.0), limiter=NoLimit(), sleep=sleep)


def test_a_throttled_page_sent_ahead_is_retried_as_any_attempt() -> None:
    """The answer to the request sent ahead is the first attempt: its 429 waits the hint and
    is retried by `list_page`, and the counts are those of two attempts."""
    answers = [http(429, b"{}", "Retry-After: 0.25\r\n"), http(200, PAGE)]

    def handle(conn: socket.socket) -> None:
        while read_request(conn) and answers:
            conn.sendall(answers.pop(0))

    sleeps: list[float] = []
    with serve(handle) as port, client_at(f"http://127.0.0.1:{port}/v1", sleeps) as client:
        query: Params = (("pageSize", "1"),)
        sent = client.begin_page(query)
        assert sent is not None
        page = client.list_page(query, sent=sent)
        assert [a["id"] for a in page.assets] == ["asset_1"]
        assert sleeps == [0.25]
        stats = client.stats
        assert (stats.requests, stats.pages, stats.throttled, stats.retries) == (2, 1, 1, 1)


def test_a_request_sent_for_other_parameters_is_refused() -> None:
    def handle(conn: socket.socket) -> None:
        while read_request(conn):
            conn.sendall(http(200, PAGE))

    with serve(handle) as port, client_at(f"http://127.0.0.1:{port}/v1") as client:
        sent = client.begin_page((("pageSize", "1"),))
        assert sent is not None
        with pytest.raises(ValueError, match="other parameters"):
            client.list_page((("pageSize", "2"),), sent=sent)
        sent.abandon()


def test_without_a_transport_that_splits_requests_nothing_is_sent_ahead() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=PAGE))
    settings = ApiSettings(base_url="https://api.example/v1")
    with AssetsClient(settings, transport=transport, limiter=NoLimit()) as client:
        assert client.begin_page((("pageSize", "1"),)) is None
        fetch = Prefetcher(client)
        fetch.hint((("pageSize", "1"),))
        assert len(fetch((("pageSize", "1"),)).assets) == 1
        assert (fetch.used, fetch.abandoned, client.stats.requests) == (0, 0, 1)


def test_the_prefetcher_uses_a_request_only_for_the_page_it_was_sent_for() -> None:
    config = EmulatorConfig(assets=50, seed=3, api_key="k", api_secret="s")
    base: Params = (("sortBy", "updatedAt"), ("sortDirection", "asc"))
    first, second, third = ((*base, ("pageSize", str(n))) for n in (5, 7, 9))
    with Emulator(config) as emu, client_at(emu.base_url) as client:
        fetch = Prefetcher(client)
        fetch.hint(first)
        assert len(fetch(first).assets) == 5  # the request sent ahead
        fetch.hint(second)
        assert len(fetch(third).assets) == 9  # another page: the early request is abandoned
        fetch.hint(first)
        fetch.cancel()
        assert (fetch.used, fetch.abandoned) == (1, 2)
        stats = client.stats
        assert (stats.requests, stats.pages, stats.errors) == (4, 2, 0)
        assert len(client.list_page(first).assets) == 5  # the pool still works


def _hinted_listing_split_after_two_steps(
    token_mode: str,
) -> tuple[int, list[Params], list[Params], list[int]]:
    """One asset per ms (1..30), page size 5, listed with `prefetch`; after two steps the bound
    drops from 40 to 14 (a split). Returns how many hints the two steps gave, every hint,
    every query asked, and the instants listed."""
    api = FakeApi([make_asset(i, 1 + i) for i in range(30)], token_mode=token_mode)
    hints: list[Params] = []
    asked: list[Params] = []
    bound = {"hi": 40}
    settings = ApiSettings(base_url="http://fake/v1")
    with AssetsClient(settings, transport=api.transport(), limiter=NoLimit()) as client:

        def fetch(params: Params) -> object:
            asked.append(tuple(params))
            return client.list_page(params)

        steps = paginate(
            fetch,  # type: ignore[arg-type]
            Window(0, 40),
            page_size=5,
            bound=lambda: bound["hi"],
            prefetch=hints.append,
        )
        first, second = next(steps), next(steps)
        before_split = len(hints)
        bound["hi"] = 14  # a split after step 2's hint
        rest = list(steps)
    got = [parse_iso_ms(a["updatedAt"]) for s in [first, second, *rest] for a in s.records]
    return before_split, hints, asked, got


def test_paginate_hints_each_next_seek_and_a_moved_bound_overrides_the_hint() -> None:
    """Each hint is the next seek's exact parameters; when the bound moves in between, the
    seek asks for the new bound and the listing is the same as without hints."""
    before_split, hints, asked, got = _hinted_listing_split_after_two_steps("offset")
    assert hints[0] == asked[1]  # the hint given with step 1 is the seek of step 2
    assert before_split == 2
    assert hints[1] != asked[2] and dict(asked[2])["updatedBefore"].endswith("00.014Z")
    assert all(h == a for h, a in zip(hints[2:], asked[3:], strict=False))
    assert got == list(range(1, 14))  # every instant below the new bound, once


def test_paginate_hints_each_next_keyset_page_and_seeks_once_the_bound_moved() -> None:
    """Under keyset tokens each hint is the next page's query with its token; once the bound
    moves, the listing seeks instead of taking the hint, and no later hint is a token's."""
    before_split, hints, asked, got = _hinted_listing_split_after_two_steps("keyset")
    assert hints[0] == asked[1] and "paginationToken" in dict(hints[0])
    assert before_split == 2 and "paginationToken" in dict(hints[1])  # step 3's, sent ahead
    assert hints[1] != asked[2] and "paginationToken" not in dict(asked[2])  # a seek instead
    assert dict(asked[2])["updatedBefore"].endswith("00.014Z")
    assert all("paginationToken" not in dict(h) for h in hints[2:])
    assert got == list(range(1, 14))


def test_nothing_is_sent_ahead_while_unwanted() -> None:
    """The engine stops sending ahead once the server throttles (`wanted`)."""
    config = EmulatorConfig(assets=20, seed=3, api_key="k", api_secret="s")
    query: Params = (("sortBy", "updatedAt"), ("pageSize", "5"))
    wanted = {"now": False}
    with Emulator(config) as emu, client_at(emu.base_url) as client:
        fetch = Prefetcher(client, wanted=lambda: wanted["now"])
        fetch.hint(query)
        assert client.stats.requests == 0
        assert len(fetch(query).assets) == 5 and fetch.used == 0
        wanted["now"] = True
        fetch.hint(query)
        assert len(fetch(query).assets) == 5 and fetch.used == 1
        assert client.stats.requests == 2


def test_by_default_nothing_is_sent_ahead_while_the_rate_limiter_paces() -> None:
    """Slow start (or a learned limit) paces requests: sending ahead would only move when
    tokens are spent; an unlimited pace sends ahead."""
    config = EmulatorConfig(assets=20, seed=3, api_key="k", api_secret="s")
    query: Params = (("sortBy", "updatedAt"), ("pageSize", "5"))
    with Emulator(config) as emu:
        credentials = BasicAuth(SecretStr("k"), SecretStr("s"))
        settings = ApiSettings(base_url=emu.base_url, credentials=credentials)
        with AssetsClient(settings, limiter=RateLimiter()) as paced:  # slow start: 20 req/s
            fetch = Prefetcher(paced)
            fetch.hint(query)
            assert paced.stats.requests == 0 and len(fetch(query).assets) == 5
        with client_at(emu.base_url) as free:  # NoLimit: never paces
            fetch = Prefetcher(free)
            fetch.hint(query)
            assert free.stats.requests == 1 and len(fetch(query).assets) == 5
            assert fetch.used == 1
