"""Tokens, tie groups, and the reason the engine does not trust offset tokens."""

from __future__ import annotations

import base64
import json
from collections import Counter

import httpx
import pytest

from assets_sync.emulator import Emulator, MutateWhilePaging

from .conftest import client, fetch_all, ids


def decode(token: str) -> dict:
    return json.loads(base64.b64decode(token))


def test_offset_token_shape_and_last_page_has_no_token(api: httpx.Client) -> None:
    body = api.get("/assets", params={"pageSize": 7}).json()
    assert decode(body["nextPaginationToken"]) == {"offset": 7, "limit": 7}
    last = api.get(
        "/assets", params={"pageSize": 100, "paginationToken": _offset(2950, 100)}
    ).json()
    assert len(last["assets"]) == 50 and "nextPaginationToken" not in last
    exact = api.get("/assets", params={"pageSize": 50, "paginationToken": _offset(2950, 50)})
    assert "nextPaginationToken" not in exact.json()  # a full last page ends too
    beyond = api.get("/assets", params={"paginationToken": _offset(5000, 50)}).json()
    assert beyond == {"assets": []}


def _offset(offset: int, limit: int) -> str:
    return base64.b64encode(json.dumps({"offset": offset, "limit": limit}).encode()).decode()


def test_offset_token_limit_is_the_page_size_when_not_given(api: httpx.Client) -> None:
    body = api.get("/assets", params={"paginationToken": _offset(0, 13)}).json()
    assert len(body["assets"]) == 13


def test_pagination_through_a_tie_group_bigger_than_a_page(
    emu: Emulator, api: httpx.Client
) -> None:
    truth = emu.truth()
    stamp, size = Counter(a["createdAt"] for a in truth).most_common(1)[0]
    assert size > 100
    before = min(a["createdAt"] for a in truth if a["createdAt"] > stamp)
    after = max(a["createdAt"] for a in truth if a["createdAt"] < stamp)
    params = {
        "pageSize": 100,
        "sortBy": "createdAt",
        "sortDirection": "asc",
        "createdBefore": before,
        "createdAfter": after,
    }
    pages = []
    token = None
    while True:
        p = dict(params, **({"paginationToken": token} if token else {}))
        body = api.get("/assets", params=p).json()
        pages.append(body["assets"])
        token = body.get("nextPaginationToken")
        if not token:
            break
    got = [a for page in pages for a in page]
    assert len(pages) >= 2 and all(a["createdAt"] == stamp for a in pages[0])
    assert len(got) == size == len({a["id"] for a in got})
    assert ids(got) == sorted(ids(got))  # ties ordered by id


@pytest.mark.parametrize("mode", ["offset", "keyset"])
def test_both_token_modes_list_everything_once(make_emu, mode: str) -> None:
    e = make_emu(token_mode=mode)
    with client(e) as c:
        for direction in ("asc", "desc"):
            got = fetch_all(c, {"pageSize": 37, "sortBy": "updatedAt", "sortDirection": direction})
            assert sorted(ids(got)) == sorted(ids(e.truth()))
            assert len(got) == len(set(ids(got)))


def test_keyset_token_shape_and_sort_binding(make_emu) -> None:
    e = make_emu(token_mode="keyset")
    with client(e) as c:
        body = c.get("/assets", params={"pageSize": 5, "sortBy": "updatedAt"}).json()
        key = decode(body["nextPaginationToken"])["lastKey"]
        assert key == {"id": body["assets"][-1]["id"], "updatedAt": body["assets"][-1]["updatedAt"]}
        wrong = c.get(
            "/assets",
            params={"sortBy": "createdAt", "paginationToken": body["nextPaginationToken"]},
        )
        assert wrong.status_code == 400


def _naive_follow(c: httpx.Client, params: dict) -> list[str]:
    return ids(fetch_all(c, params))


def test_offset_tokens_shift_under_mutation_and_a_naive_follower_skips(make_emu) -> None:
    """The point of mutate-while-paging: offsets evaluated at request time skip assets."""
    e = make_emu(assets=600)
    end = e.config.end_ms
    before = e.truth()
    e.set_mutate_while_paging(
        MutateWhilePaging(every_n_requests=1, updates=1, deletes=1, max_mutations=20, seed=5)
    )
    with client(e) as c:
        params = {
            "pageSize": 50,
            "sortBy": "updatedAt",
            "sortDirection": "asc",
            "updatedBefore": _iso(end + 1),
        }  # a window closed at run start
        got = set(_naive_follow(c, params))
    after = e.truth()
    stats = e.stats()
    assert stats["mutations_while_paging"] == 20
    deleted = {a["id"] for a in before} - {a["id"] for a in after}
    updated = {a["id"] for a in after if a["updatedAt"] > _iso(end)}
    assert len(deleted) == 10 and len(updated) == 10
    untouched = {a["id"] for a in before} - deleted - updated
    skipped = untouched - got
    assert skipped, "a naive token follower must miss unchanged assets"


def test_keyset_tokens_do_not_skip_under_the_same_mutations(make_emu) -> None:
    e = make_emu(assets=600, token_mode="keyset")
    end = e.config.end_ms
    before = {a["id"] for a in e.truth()}
    e.set_mutate_while_paging(MutateWhilePaging(updates=1, deletes=1, max_mutations=20, seed=5))
    with client(e) as c:
        got = set(
            _naive_follow(
                c,
                {
                    "pageSize": 50,
                    "sortBy": "updatedAt",
                    "sortDirection": "asc",
                    "updatedBefore": _iso(end + 1),
                },
            )
        )
    after = e.truth()
    touched = (before - {a["id"] for a in after}) | {
        a["id"] for a in after if a["updatedAt"] > _iso(end)
    }
    assert e.stats()["mutations_while_paging"] == 20
    assert before - touched <= got  # nothing untouched is missed


def test_mutations_only_hit_assets_already_passed(make_emu) -> None:
    e = make_emu(assets=400)
    e.set_mutate_while_paging(MutateWhilePaging(updates=2, max_mutations=None, seed=1))
    with client(e) as c:
        first = c.get(
            "/assets", params={"pageSize": 30, "sortBy": "createdAt", "sortDirection": "asc"}
        ).json()
        passed = set(ids(first["assets"]))
        c.get(
            "/assets",
            params={
                "pageSize": 30,
                "sortBy": "createdAt",
                "sortDirection": "asc",
                "paginationToken": first["nextPaginationToken"],
            },
        )
    end = e.config.end_ms
    updated = {a["id"] for a in e.truth() if a["updatedAt"] > _iso(end)}
    assert len(updated) == 2 and updated <= passed


def test_no_mutation_without_a_token_and_budget_is_respected(make_emu) -> None:
    e = make_emu(assets=300, mutate_while_paging=MutateWhilePaging(updates=5, max_mutations=7))
    with client(e) as c:
        for _ in range(3):
            c.get("/assets", params={"pageSize": 10})
        assert e.stats()["mutations_while_paging"] == 0
        fetch_all(c, {"pageSize": 10})
    assert e.stats()["mutations_while_paging"] == 7


def _iso(ms: int) -> str:
    from assets_sync.emulator.tokens import iso_ms

    return iso_ms(ms)


@pytest.mark.parametrize("mode", ["offset", "keyset"])
@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_tie_group_pages_in_both_modes_and_directions(make_emu, mode: str, direction: str) -> None:
    e = make_emu(assets=1000, token_mode=mode)
    truth = e.truth()
    stamp, size = Counter(a["updatedAt"] for a in truth).most_common(1)[0]
    after = max(a["updatedAt"] for a in truth if a["updatedAt"] < stamp)
    before = min(a["updatedAt"] for a in truth if a["updatedAt"] > stamp)
    with client(e) as c:
        got = fetch_all(
            c,
            {
                "pageSize": 60,
                "sortBy": "updatedAt",
                "sortDirection": direction,
                "updatedAfter": after,
                "updatedBefore": before,
            },
        )
    assert size > 100 and len(got) == size
    assert ids(got) == sorted(ids(got), reverse=direction == "desc")
