"""Seek pagination: every asset present and unchanged throughout the listing arrives, and a
committed cursor never claims an instant whose unchanged assets have not been yielded.

The model is `FakeApi` with OFFSET tokens, heavy ties (timestamps from a tiny range), random
page sizes, and random updates/deletes between any two page requests.
"""

from __future__ import annotations

import base64
import itertools
import json
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from assets_sync.client import AssetsClient, Page, Params
from assets_sync.config import ApiSettings
from assets_sync.errors import PaginationLoopError, UnstableListingError
from assets_sync.pagination import BY_CREATED, BY_UPDATED, PaginationStats, Step, paginate
from assets_sync.ratelimit import NoLimit
from assets_sync.retry import FAST_RETRY
from assets_sync.windows import Window, parse_iso_ms
from tests.assets_sync.fakeapi import FakeApi, make_asset

WINDOW = Window(0, 40)
FUTURE = 1_000  # updates move assets here: outside the window, like "now" during a run


def no_sleep(seconds: float) -> None:
    pass


def client_for(api: FakeApi) -> AssetsClient:
    return AssetsClient(
        ApiSettings(base_url="http://fake/v1"),
        transport=api.transport(),
        retry=FAST_RETRY,
        limiter=NoLimit(),
    )


mutation = st.one_of(
    st.none(),
    st.tuples(st.just("delete"), st.integers(0, 59)),
    st.tuples(st.just("update"), st.integers(0, 59), st.integers(1, 45)),
)


def offset_mutator(mutations: list[Any], touched: set[str]) -> Any:
    """`on_request` that applies mutation n before request n (updates move forward only)."""

    def mutate(api: FakeApi, n: int) -> None:
        if n - 1 >= len(mutations) or mutations[n - 1] is None:
            return
        op = mutations[n - 1]
        ids = sorted(api.assets)
        if not ids:
            return
        victim = ids[op[1] % len(ids)]
        touched.add(victim)
        if op[0] == "delete":
            api.delete(victim)
        else:  # updates only move forward in time; op[2] > 39 leaves the window
            old = parse_iso_ms(api.assets[victim]["updatedAt"])
            api.touch(victim, max(old + 1, op[2] if op[2] < 40 else FUTURE))

    return mutate


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    # one instant drawn often: tie groups of several pages, which a split may fall inside
    stamps=st.lists(st.integers(1, 39) | st.just(12), min_size=0, max_size=60),
    page_size=st.integers(1, 7),
    mutations=st.lists(mutation, max_size=40),
    token_mode=st.sampled_from(["offset", "keyset", "keyset-skewed"]),
    shrink=st.none() | st.tuples(st.integers(0, 12), st.integers(2, 40)),
)
# a split two followed pages into a group: the re-read's second page ends at a seen id
@example(stamps=[12] * 3, page_size=1, mutations=[], token_mode="keyset", shrink=(2, 20))
def test_every_unchanged_asset_arrives_and_cursors_are_safe(
    stamps: list[int],
    page_size: int,
    mutations: list[Any],
    token_mode: str,
    shrink: tuple[int, int] | None,
) -> None:
    """Under offset tokens (seek and tie passes), keyset tokens (followed) and keyset-shaped
    tokens that name another record (not trusted: sought past like offset ones); `shrink`:
    after that many steps the bound is lowered (a split), maybe inside a tie group."""
    assets = [make_asset(i, ts) for i, ts in enumerate(stamps)]
    touched: set[str] = set()
    api = FakeApi(assets, on_request=offset_mutator(mutations, touched), token_mode=token_mode)
    bound = {"hi": WINDOW.hi_ms}
    with client_for(api) as client:
        seen: dict[str, int] = {}
        last_cursor = WINDOW.lo_ms
        steps: list[tuple[Step, int]] = []  # with the cursor the engine commits (clamped)
        for step in paginate(
            client.list_page, WINDOW, page_size=page_size, max_tie_passes=50, sleep=no_sleep,
            bound=lambda: bound["hi"],
        ):  # fmt: skip
            steps.append((step, min(step.cursor_ms, bound["hi"] - 1)))
            if shrink is not None and len(steps) == shrink[0]:
                bound["hi"] = max(min(bound["hi"], shrink[1]), steps[-1][1] + 1)
        for step, cursor in steps:
            for r in step.records:
                seen.setdefault(r["id"], parse_iso_ms(r["updatedAt"]))
            assert cursor >= last_cursor
            last_cursor = cursor
            # commit safety: every never-touched asset at or below the cursor is already seen
            for a in assets:
                ts = parse_iso_ms(a["updatedAt"])
                if a["id"] not in touched and ts <= cursor:
                    assert a["id"] in seen, (a["id"], ts, cursor)
        assert steps[-1][0].done and steps[-1][0].cursor_ms == bound["hi"] - 1
    for a in assets:
        if a["id"] not in touched and parse_iso_ms(a["updatedAt"]) < bound["hi"]:
            assert seen.get(a["id"]) == parse_iso_ms(a["updatedAt"])


def test_tie_group_larger_than_a_page_with_offset_shift_is_complete() -> None:
    # 25 assets share one millisecond; page size 4; deleting an already-read asset between two
    # page requests shifts offsets: a plain token follower would skip one.
    assets = [make_asset(i, 10) for i in range(25)] + [make_asset(100 + i, 20) for i in range(3)]
    deleted: list[str] = []

    def mutate(api: FakeApi, n: int) -> None:
        if n in (3, 9):  # inside tie passes
            victim = sorted(a for a in api.assets if a.startswith("asset_000000"))[0]
            api.delete(victim)
            deleted.append(victim)

    api = FakeApi(assets, on_request=mutate)
    with client_for(api) as client:
        got = {r["id"] for s in paginate(client.list_page, WINDOW, page_size=4) for r in s.records}
    assert {a["id"] for a in assets} - set(deleted) <= got


def test_naive_token_following_would_skip_in_the_same_story() -> None:
    """The reason for the tie-group passes: the same mutation makes plain tokens skip."""
    assets = [make_asset(i, 10) for i in range(12)]
    api = FakeApi(assets)
    with client_for(api) as client:
        params: Params = (("sortBy", "updatedAt"), ("sortDirection", "asc"), ("pageSize", "4"))
        page = client.list_page(params)
        got = [r["id"] for r in page.assets]
        api.delete(got[0])  # an already-read asset leaves
        while page.next_token:
            page = client.list_page((*params, ("paginationToken", page.next_token)))
            got += [r["id"] for r in page.assets]
    present_throughout = {a["id"] for a in assets} - {got[0]}
    assert present_throughout - set(got)  # one of them was skipped: asset_00000004


def test_unstable_tie_group_fails_before_advancing() -> None:
    assets = [make_asset(i, 10) for i in range(50)]

    def churn(api: FakeApi, n: int) -> None:
        if n >= 2:  # every request in the tie passes removes one asset of the group
            ids = sorted(a for a in api.assets if api.assets[a]["updatedAt"].endswith(".010Z"))
            if ids:
                api.touch(ids[0], FUTURE)

    api = FakeApi(assets, on_request=churn)
    cursors: list[int] = []
    with client_for(api) as client, pytest.raises(UnstableListingError):
        for step in paginate(
            client.list_page, WINDOW, page_size=5, max_tie_passes=3, sleep=no_sleep
        ):
            cursors.append(step.cursor_ms)
    assert max(cursors) < 10  # never committed past the unsettled tie group


def test_repeated_token_is_a_loop() -> None:
    def fetch(params: Params) -> Page:
        assets = [make_asset(i, 10) for i in range(3)]
        return Page(assets, "same-token", params)

    with pytest.raises(PaginationLoopError):
        list(paginate(fetch, WINDOW, page_size=3))


def test_created_at_listing_uses_created_bounds() -> None:
    assets = [make_asset(i, 30, created_ms=5 + i) for i in range(10)]
    api = FakeApi(assets)
    with client_for(api) as client:
        got = [
            r["id"]
            for s in paginate(client.list_page, Window(4, 10), key=BY_CREATED, page_size=2)
            for r in s.records
        ]
    assert got == [f"asset_{i:08d}" for i in range(5)]
    assert all(r["sortBy"] == "createdAt" and "createdAfter" in r for r in api.requests)
    assert BY_UPDATED.after == "updatedAfter"


def test_seek_requests_use_last_timestamp_minus_one() -> None:
    assets = [make_asset(i, 1 + i // 2) for i in range(10)]  # pairs of ties
    api = FakeApi(assets)
    with client_for(api) as client:
        list(paginate(client.list_page, WINDOW, page_size=3))
    afters = [parse_iso_ms(r["updatedAfter"]) for r in api.requests]
    assert afters[0] == 0
    assert all(b > a for a, b in itertools.pairwise(afters))
    assert not any("paginationToken" in r for r in api.requests)


def test_mock_transport_sanity() -> None:
    assert isinstance(FakeApi([]).transport(), httpx.MockTransport)


def test_passes_must_agree_not_just_add_nothing_new() -> None:
    """Pass 1 and pass 2 both skip asset 6 (offset shifts) and pass 2 brings no new id: a
    "stop when nothing new" rule would lose it; "pass 2 holds every id of pass 1" does not
    hold (assets 1 and 2 left), so a third pass runs."""
    assets = [make_asset(i, 10) for i in range(10)]

    def mutate(api: FakeApi, n: int) -> None:
        if n == 5:  # pass 1, before reading offsets 6-7
            api.delete("asset_00000000")
        if n == 9:  # pass 2, before reading offsets 4-5
            api.delete("asset_00000001")
            api.delete("asset_00000002")

    api = FakeApi(assets, on_request=mutate)
    with client_for(api) as client:
        got = {r["id"] for s in paginate(client.list_page, WINDOW, page_size=2) for r in s.records}
    assert "asset_00000006" in got


def test_a_page_without_any_parseable_timestamp_cannot_be_sought_past() -> None:
    from assets_sync.errors import UnseekablePageError

    def fetch(params: Params) -> Page:
        return Page([{"id": f"a{i}", "updatedAt": "garbage"} for i in range(3)], "t", params)

    with pytest.raises(UnseekablePageError):
        list(paginate(fetch, WINDOW, page_size=3))


# -- the cursor rule: a seek starts exactly at the committed cursor; a settled tie group at L
#    moves it to L, so the next seek asks strictly after L and the group is never re-read.

WIDE = Window(0, 50)  # assets stay below 41, so a tie request's `before` (L + 1) is never hi


def split_requests(api: FakeApi, window: Window) -> list[tuple[int, str, int, int]]:
    """(request number, "seek" or "tie", after, before) of every request, in order."""
    out = []
    for n, r in enumerate(api.requests, start=1):
        after, before = parse_iso_ms(r["updatedAfter"]), parse_iso_ms(r["updatedBefore"])
        kind = "seek" if before == window.hi_ms and "paginationToken" not in r else "tie"
        if kind == "tie":
            assert before - after == 2, r  # a tie request lists exactly one millisecond
        out.append((n, kind, after, before))
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    stamps=st.lists(st.integers(1, 39), min_size=0, max_size=60),
    page_size=st.integers(1, 7),
    mutations=st.lists(mutation, max_size=40),
)
def test_seeks_start_at_the_committed_cursor_and_never_reenter_a_settled_group(
    stamps: list[int], page_size: int, mutations: list[Any]
) -> None:
    assets = [make_asset(i, ts) for i, ts in enumerate(stamps)]
    touched: set[str] = set()
    api = FakeApi(assets, on_request=offset_mutator(mutations, touched))
    yielded: list[tuple[int, int]] = []  # (requests made when the step came, its cursor)
    seen: set[str] = set()
    with client_for(api) as client:
        for step in paginate(
            client.list_page, WIDE, page_size=page_size, max_tie_passes=50, sleep=no_sleep
        ):
            yielded.append((len(api.requests), step.cursor_ms))
            seen.update(r["id"] for r in step.records)
            for a in assets:  # commit safety, as above, on the wider window
                if a["id"] not in touched and parse_iso_ms(a["updatedAt"]) <= step.cursor_ms:
                    assert a["id"] in seen
    settled: list[int] = []  # stamps of tie groups whose passes are over
    for n, kind, after, _ in split_requests(api, WIDE):
        if kind == "tie":
            settled.append(after + 1)
            continue
        committed = max((c for k, c in yielded if k < n), default=WIDE.lo_ms)
        assert after == committed, (n, after, committed)  # the cursor IS the next request
        assert all(after >= stamp for stamp in settled), (after, settled)  # strictly after L
    for a in assets:
        if a["id"] not in touched:
            assert a["id"] in seen


@settings(max_examples=150, deadline=None)
@given(stamps=st.lists(st.integers(1, 39), min_size=0, max_size=80), page_size=st.integers(1, 7))
def test_without_mutations_each_asset_arrives_once_and_a_tie_group_costs_two_passes(
    stamps: list[int], page_size: int
) -> None:
    """The request cost of the scheme, exactly: a group of N at L gets 2 passes of
    ceil(N / page) requests, or 1 pass when it fits one request (N == page); nothing arrives
    twice (seek overlap and the tie group's re-reads are dropped by id)."""
    assets = [make_asset(i, ts) for i, ts in enumerate(stamps)]
    api = FakeApi(assets)
    with client_for(api) as client:
        got = [
            r["id"]
            for s in paginate(client.list_page, WIDE, page_size=page_size, sleep=no_sleep)
            for r in s.records
        ]
    assert sorted(got) == sorted(a["id"] for a in assets)
    tie_requests: dict[int, int] = {}
    for _, kind, after, _ in split_requests(api, WIDE):
        if kind == "tie":
            tie_requests[after + 1] = tie_requests.get(after + 1, 0) + 1
    for stamp, n in tie_requests.items():
        size = stamps.count(stamp)
        assert size >= page_size  # only a full page of one stamp starts a group
        per_pass = -(-size // page_size)
        assert n == (1 if per_pass == 1 else 2 * per_pass), (stamp, size, n)


def test_bulk_edit_request_count_and_shapes() -> None:
    """Spread assets, then a bulk edit of 10 at one ms (page 4), then 2 later ones:
    9 requests, and the seek after the group asks strictly after it."""
    assets = [make_asset(i, 1 + i) for i in range(3)]  # 1, 2, 3
    assets += [make_asset(10 + i, 5) for i in range(10)]  # the bulk edit at 5
    assets += [make_asset(30 + i, 7) for i in range(2)]
    api = FakeApi(assets)
    with client_for(api) as client:
        steps = list(paginate(client.list_page, WIDE, page_size=4))
    shapes = [(kind, after) for _, kind, after, _ in split_requests(api, WIDE)]
    assert shapes == [
        ("seek", 0),  # 1, 2, 3, 5: cursor 4
        ("seek", 4),  # a full page at 5: the tie group
        *[("tie", 4)] * 6,  # two passes of 3 requests (4 + 4 + 2)
        ("seek", 5),  # strictly after the settled group: it is not read again
    ]
    assert sorted(r["id"] for s in steps for r in s.records) == sorted(a["id"] for a in assets)
    cursors = [s.cursor_ms for s in steps]
    assert cursors[cursors.index(5) - 1] == 4  # held before the group until its passes settled
    assert steps[-1].done and cursors[-1] == WIDE.hi_ms - 1


def test_a_tie_pass_of_one_request_settles_alone() -> None:
    """A group of exactly one page: its one exact request followed no token, so it cannot have
    skipped; no second pass."""
    assets = [make_asset(i, 5) for i in range(4)] + [make_asset(9, 7)]
    api = FakeApi(assets)
    with client_for(api) as client:
        got = {r["id"] for s in paginate(client.list_page, WIDE, page_size=4) for r in s.records}
    assert got == {a["id"] for a in assets}
    shapes = [(kind, after) for _, kind, after, _ in split_requests(api, WIDE)]
    assert shapes == [("seek", 0), ("tie", 4), ("seek", 5)]


def test_a_one_request_pass_after_the_group_shrank_is_still_complete() -> None:
    """Pass 1 (2 requests) loses asset 0 to an update and skips asset 4; pass 2 is one request
    (the group shrank to a page): it settles and holds asset 4."""
    assets = [make_asset(i, 5) for i in range(5)] + [make_asset(9, 7)]

    def mutate(api: FakeApi, n: int) -> None:
        if n == 3:  # before the second request of pass 1
            api.touch("asset_00000000", FUTURE)

    api = FakeApi(assets, on_request=mutate)
    with client_for(api) as client:
        got = {r["id"] for s in paginate(client.list_page, WIDE, page_size=4) for r in s.records}
    assert {f"asset_{i:08d}" for i in range(1, 5)} | {"asset_00000009"} <= got
    kinds = [kind for _, kind, _, _ in split_requests(api, WIDE)]
    assert kinds == ["seek", "tie", "tie", "tie", "seek"]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    group=st.integers(2, 20),
    others=st.lists(st.integers(1, 39), max_size=15),
    page_size=st.integers(1, 5),
    removals=st.lists(st.one_of(st.none(), st.booleans()), max_size=30),
)
def test_removals_inside_a_tie_group_never_lose_an_asset(
    group: int, others: list[int], page_size: int, removals: list[bool | None]
) -> None:
    """Mutations aimed where offset tokens skip: request n removes (deletes, or updates out of
    the window) the first remaining asset of the group at 10, which a pass already read."""
    assets = [make_asset(i, 10) for i in range(group)]
    assets += [make_asset(100 + i, ts) for i, ts in enumerate(others)]
    touched: set[str] = set()

    def remove(api: FakeApi, n: int) -> None:
        if n - 1 >= len(removals) or removals[n - 1] is None:
            return
        at_10 = sorted(i for i, a in api.assets.items() if a["updatedAt"].endswith(".010Z"))
        if at_10:
            touched.add(at_10[0])
            if removals[n - 1]:
                api.delete(at_10[0])
            else:
                api.touch(at_10[0], FUTURE)

    api = FakeApi(assets, on_request=remove)
    seen: set[str] = set()
    with client_for(api) as client:
        for step in paginate(
            client.list_page, WIDE, page_size=page_size, max_tie_passes=50, sleep=no_sleep
        ):
            seen.update(r["id"] for r in step.records)
            for a in assets:
                if a["id"] not in touched and parse_iso_ms(a["updatedAt"]) <= step.cursor_ms:
                    assert a["id"] in seen, (a["id"], step.cursor_ms)
    assert {a["id"] for a in assets} - touched <= seen


def test_a_shrinking_bound_is_read_before_every_seek() -> None:
    """The engine splits running slices by lowering `bound`: the next seek asks for the new
    upper bound, and the window ends at it (records of a page asked before are still yielded)."""
    api = FakeApi([make_asset(i, 1 + i) for i in range(30)])  # one asset per ms, 1..30
    bound = {"hi": 40}
    with client_for(api) as client:
        steps = paginate(client.list_page, WINDOW, page_size=5, bound=lambda: bound["hi"])
        first = next(steps)
        assert [a["updatedAt"] for a in first.records][-1].endswith("00.005Z")
        bound["hi"] = 12  # split: this slice now ends at (.., 12)
        rest = list(steps)
    assert api.requests[-1]["updatedBefore"].endswith("00.012Z")
    assert all(r["updatedBefore"].endswith("00.012Z") for r in api.requests[1:])
    assert rest[-1].done and rest[-1].cursor_ms == 11
    got = [parse_iso_ms(a["updatedAt"]) for s in [first, *rest] for a in s.records]
    assert got == list(range(1, 12))  # every instant below the new bound, once


def test_a_tie_group_is_announced_and_a_bound_lowered_there_ends_the_window_after_it() -> None:
    """`on_tie_group(L)` comes when a seek meets a full page at one instant, before the
    group's passes. The engine then lowers the bound to `L + 1` (the rest goes to another
    thread): the paginator lists the whole group and ends without another seek."""
    assets = [make_asset(i, 1 + i) for i in range(5)]  # 1..5
    assets += [make_asset(100 + i, 7) for i in range(12)]  # a group of 12 at ms 7
    assets += [make_asset(200 + i, 10 + i) for i in range(20)]  # 10..29, the rest
    api = FakeApi(assets)
    bound = {"hi": 40}
    announced: list[int] = []

    def on_tie_group(stamp: int) -> None:
        announced.append(stamp)
        bound["hi"] = stamp + 1

    with client_for(api) as client:
        steps = list(
            paginate(
                client.list_page,
                WINDOW,
                page_size=5,
                bound=lambda: bound["hi"],
                on_tie_group=on_tie_group,
            )
        )
    assert announced == [7]
    got = sorted(parse_iso_ms(a["updatedAt"]) for s in steps for a in s.records)
    assert got == [1, 2, 3, 4, 5] + [7] * 12  # the group whole, once; nothing past it
    assert steps[-1].done and steps[-1].cursor_ms == 7
    # seeks: 1..5, then 5 and four 7s, then a page of 7s only (the group); two passes of
    # three pages each; no seek after the group
    assert len(api.requests) == 3 + 2 * 3
    assert [parse_iso_ms(r["updatedBefore"]) for r in api.requests[3:]] == [8] * 6


def test_without_a_listener_a_tie_group_changes_nothing() -> None:
    assets = [make_asset(100 + i, 7) for i in range(12)] + [make_asset(200, 20)]
    api = FakeApi(assets)
    with client_for(api) as client:
        steps = list(paginate(client.list_page, WINDOW, page_size=5))
    got = sorted(parse_iso_ms(a["updatedAt"]) for s in steps for a in s.records)
    assert got == [7] * 12 + [20]
    assert steps[-1].done and steps[-1].cursor_ms == WINDOW.hi_ms - 1


# -- keyset tokens ---------------------------------------------------------------------------


def test_keyset_tokens_are_followed_one_request_per_page_and_each_asset_once() -> None:
    """No overlap and no second pass over a tie group: a 23-asset group at one ms plus spread
    assets, page size 5, costs ceil(n / 5) requests; every request after the first is the
    first's query with a token."""
    assets = [make_asset(i, 1 + i % 9) for i in range(18)]
    assets += [make_asset(100 + i, 12) for i in range(23)]
    assets += [make_asset(200 + i, 20 + i) for i in range(9)]
    api = FakeApi(assets, token_mode="keyset")
    stats = PaginationStats()
    with client_for(api) as client:
        steps = list(paginate(client.list_page, WINDOW, page_size=5, stats=stats))
    got = [r["id"] for s in steps for r in s.records]
    assert sorted(got) == sorted(a["id"] for a in assets)  # each once
    assert len(api.requests) == stats.requests == 10 == len(assets) // 5
    assert stats.tie_groups == 0 and stats.overlap_dropped == 0 and stats.keyset_follows == 9
    first = api.requests[0]
    for r in api.requests[1:]:
        assert {k: v for k, v in r.items() if k != "paginationToken"} == first
    cursors = [s.cursor_ms for s in steps]
    assert cursors == sorted(cursors) and steps[-1].done


def test_keyset_cursor_is_safe_to_resume_from_mid_tie_group() -> None:
    """While a followed listing is inside a group at L, the committed cursor stays at L - 1:
    a resumed seek re-reads the group rather than skipping its unseen part."""
    assets = [make_asset(i, 3) for i in range(4)] + [make_asset(10 + i, 8) for i in range(12)]
    api = FakeApi(assets, token_mode="keyset")
    with client_for(api) as client:
        steps = paginate(client.list_page, WINDOW, page_size=5)
        first, second = next(steps), next(steps)
    assert [parse_iso_ms(r["updatedAt"]) for r in second.records] == [8] * 5
    assert first.cursor_ms == second.cursor_ms == 7  # ms 8 is not whole yet
    api2 = FakeApi(assets, token_mode="keyset")
    with client_for(api2) as client:
        rest = list(paginate(client.list_page, WINDOW, second.cursor_ms, page_size=5))
    assert {r["id"] for s in rest for r in s.records} == {a["id"] for a in assets[4:]}


def test_skewed_keyset_tokens_are_not_trusted() -> None:
    """A keyset-shaped token naming some record other than the page's last is sought past."""
    assets = [make_asset(i, 1 + i) for i in range(20)]
    api = FakeApi(assets, token_mode="keyset-skewed")
    stats = PaginationStats()
    with client_for(api) as client:
        got = [
            r["id"]
            for s in paginate(client.list_page, WINDOW, page_size=5, stats=stats)
            for r in s.records
        ]
    assert sorted(got) == sorted(a["id"] for a in assets)
    assert stats.keyset_follows == 0
    assert not any("paginationToken" in r for r in api.requests)


def test_a_bound_moved_under_a_keyset_listing_turns_it_back_into_a_seek() -> None:
    api = FakeApi([make_asset(i, 1 + i) for i in range(30)], token_mode="keyset")
    bound = {"hi": 40}
    with client_for(api) as client:
        steps = paginate(client.list_page, WINDOW, page_size=5, bound=lambda: bound["hi"])
        first, second = next(steps), next(steps)
        bound["hi"] = 17
        rest = list(steps)
    assert "paginationToken" in api.requests[1]
    assert "paginationToken" not in api.requests[2]
    assert parse_iso_ms(api.requests[2]["updatedAfter"]) == second.cursor_ms == 9
    assert all(r["updatedBefore"].endswith("00.017Z") for r in api.requests[2:])
    got = [parse_iso_ms(a["updatedAt"]) for s in [first, second, *rest] for a in s.records]
    assert got == list(range(1, 17))  # the seek re-read ms 10 and dropped it as seen
    assert rest[-1].done and rest[-1].cursor_ms == 16


def test_a_bound_moved_inside_a_tie_group_re_reads_it_by_tokens_without_a_false_loop() -> None:
    """Following a 23-asset group at ms 12 (page size 5), the bound moves after three pages:
    the new seek re-reads the group from its start, and its second followed page ends at an id
    listed before the seek. That is the re-read catching up, not a loop (it was taken for one
    when the engine split a slice inside the e2e story's 200-asset group). Every asset once."""
    assets = [make_asset(i, 2 + i) for i in range(3)]
    assets += [make_asset(100 + i, 12) for i in range(23)]
    assets += [make_asset(200 + i, 20 + i) for i in range(6)]
    api = FakeApi(assets, token_mode="keyset")
    bound = {"hi": 40}
    stats = PaginationStats()
    with client_for(api) as client:
        steps = paginate(
            client.list_page, WINDOW, page_size=5, bound=lambda: bound["hi"], stats=stats
        )
        head = [next(steps) for _ in range(3)]  # 3 spread + 12 of the group
        bound["hi"] = 30
        rest = list(steps)
    assert "paginationToken" not in api.requests[3]  # the re-seek
    assert parse_iso_ms(api.requests[3]["updatedAfter"]) == 11
    assert "paginationToken" in api.requests[4]  # its pages followed again, through the group
    got = [r["id"] for s in [*head, *rest] for r in s.records]
    assert sorted(got) == sorted(a["id"] for a in assets)  # each once
    assert stats.overlap_dropped == 12  # the group's part listed before the seek, re-read
    assert rest[-1].done and rest[-1].cursor_ms == 29


def test_a_keyset_token_that_does_not_advance_is_a_loop() -> None:
    page_assets = [make_asset(i, 3 + i) for i in range(3)]
    token = base64.b64encode(
        json.dumps(
            {"lastKey": {"id": page_assets[-1]["id"], "updatedAt": page_assets[-1]["updatedAt"]}}
        ).encode()
    ).decode()

    def fetch(params: Params) -> Page:
        return Page(page_assets, token, params)

    with pytest.raises(PaginationLoopError, match="keyset"):
        list(paginate(fetch, WINDOW, page_size=3))


def test_keyset_tokens_cycling_inside_one_instant_are_a_loop() -> None:
    """Two positions at one ms, served alternately: caught on the first repeat."""
    pages = [[make_asset(i, 5) for i in range(3)], [make_asset(i, 5) for i in range(3, 6)]]

    def token(page: list[dict[str, Any]]) -> str:
        key = {"id": page[-1]["id"], "updatedAt": page[-1]["updatedAt"]}
        return base64.b64encode(json.dumps({"lastKey": key}).encode()).decode()

    served = {"n": 0}

    def fetch(params: Params) -> Page:
        page = pages[served["n"] % 2]
        served["n"] += 1
        return Page(page, token(page), params)

    with pytest.raises(PaginationLoopError, match="keyset"):
        list(paginate(fetch, WINDOW, page_size=3))
    assert served["n"] == 3
