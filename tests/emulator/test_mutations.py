"""update / add / delete, in-process and through the admin endpoints, seen by the API."""

from __future__ import annotations

import time

import httpx

from assets_sync.emulator import Emulator, MutateWhilePaging
from assets_sync.windows import parse_iso_ms

from .conftest import client, fetch_all, ids


def latest(c: httpx.Client, n: int) -> list[dict]:
    return c.get("/assets", params={"pageSize": n, "sortBy": "updatedAt"}).json()["assets"]


def test_update_bumps_updated_at_monotonically_and_changes_fields(make_emu) -> None:
    e: Emulator = make_emu()
    before = {a["id"]: a for a in e.truth()}
    first = e.update(n=3)
    second = e.update(ids=[first[0]])
    after = {a["id"]: a for a in e.truth()}
    assert len(first) == 3 and second == [first[0]]
    newest = max(a["updatedAt"] for a in before.values())
    for asset_id in first:
        old, new = before[asset_id], after[asset_id]
        assert new["updatedAt"] > newest and new["createdAt"] == old["createdAt"]
        assert new["url"] != old["url"] and new["metadata"]["type"] == old["metadata"]["type"]
        assert new["tags"] != old["tags"] or new.get("description") != old.get("description")
    assert after[first[0]]["updatedAt"] > after[first[1]]["updatedAt"]  # monotonic clock
    with client(e) as c:
        assert ids(latest(c, 1)) == [first[0]]


def test_an_edit_is_in_the_past_when_update_or_add_returns(make_emu) -> None:
    """Edits in quick succession take one ms each, so the emulator's clock runs ahead of the
    wall clock; `update` and `add`, in-process and over HTTP, return only once the wall clock
    has left the last edit's millisecond. A sync started then, with no settle lag, sees them
    (its window ends at the ms it starts, exclusive)."""
    e: Emulator = make_emu()
    changed = [i for _ in range(30) for i in e.update(n=2)]
    assert time.time() * 1000 >= newest_ms(e, changed) + 1
    added = e.add(n=3)
    assert time.time() * 1000 >= newest_ms(e, added) + 1
    with httpx.Client(base_url=e.admin_url, auth=("k3y", "s3cret"), timeout=10) as admin:
        for _ in range(30):
            changed = admin.post("/update", json={"n": 2}).json()["ids"]
            assert time.time() * 1000 >= newest_ms(e, changed) + 1
        added = admin.post("/add", json={"n": 2}).json()["ids"]
        assert time.time() * 1000 >= newest_ms(e, added) + 1


def newest_ms(e: Emulator, asset_ids: list[str]) -> int:
    wanted = set(asset_ids)
    return max(parse_iso_ms(a["updatedAt"]) for a in e.truth() if a["id"] in wanted)


def test_add_roots_and_children_with_consistent_lineage(make_emu) -> None:
    e: Emulator = make_emu(projects=2)
    roots = e.add(n=3)
    parent = next(a for a in e.truth() if "parentId" in a["metadata"])
    kids = e.add(n=2, parent_id=parent["id"])
    by_id = {a["id"]: a for a in e.truth()}
    assert len(by_id) == 605
    for k in kids:
        m = by_id[k]["metadata"]
        assert m["parentId"] == parent["id"]
        assert m["rootParentId"] == parent["metadata"]["rootParentId"]
        assert by_id[k]["ownerId"] == parent["ownerId"]
    assert len({by_id[r]["createdAt"] for r in roots}) == 1  # one batch, one millisecond
    with client(e) as c:
        assert set(ids(latest(c, 5))) == set(roots) | set(kids)
        got = fetch_all(c, {"pageSize": 100, "parentAssetId": parent["id"]})
        assert set(kids) <= set(ids(got))


def test_delete_removes_from_every_listing(make_emu) -> None:
    e: Emulator = make_emu()
    with client(e) as c:
        by_type = fetch_all(c, {"pageSize": 100, "type": "upscale"})  # caches a filtered view
        gone = e.delete(ids=[by_type[0]["id"]]) + e.delete(n=4)
        assert len(set(gone)) == 5
        remaining = set(ids(fetch_all(c, {"pageSize": 100})))
        assert not remaining & set(gone) and len(remaining) == 595
        assert by_type[0]["id"] not in ids(fetch_all(c, {"pageSize": 100, "type": "upscale"}))
    assert e.stats()["live_assets"] == 595


def test_unknown_or_deleted_ids_are_rejected(make_emu) -> None:
    e: Emulator = make_emu()
    gone = e.delete(n=1)
    for bad in (gone, ["asset_nope"]):
        try:
            e.update(ids=bad)
        except KeyError:
            pass
        else:
            raise AssertionError("expected KeyError")


def test_admin_endpoints_drive_a_running_emulator(make_emu) -> None:
    e: Emulator = make_emu(projects=2)
    with httpx.Client(base_url=e.admin_url, auth=("k3y", "s3cret"), timeout=10) as admin:
        info = admin.get("/info").json()
        assert info["projectIds"] == e.project_ids and info["liveAssets"] == 600
        upd = admin.post("/update", json={"n": 2}).json()["ids"]
        added = admin.post("/add", json={"n": 2, "parentId": upd[0]}).json()["ids"]
        deleted = admin.post("/delete", json={"ids": [upd[1]]}).json()["ids"]
        assert deleted == [upd[1]] and len(added) == 2
        truth = admin.get("/truth").json()
        assert truth["total"] == 601 and truth["assets"] == e.truth()
        page = admin.get("/truth", params={"offset": 10, "limit": 5}).json()["assets"]
        assert page == e.truth()[10:15]
        proj = admin.get("/ids", params={"projectId": e.project_ids[1]}).json()["ids"]
        assert proj == ids(e.truth(e.project_ids[1]))
        assert admin.post("/delete", json={"ids": [upd[1]]}).status_code == 404
        assert admin.post("/update", json={"n": "two"}).status_code == 400
        assert admin.post("/add", content=b"{not json").status_code == 400
        assert admin.get("/nothing-here").status_code == 404
        mwp = admin.put("/mutate-while-paging", json={"updates": 1, "max_mutations": 3})
        assert mwp.json()["max_mutations"] == 3 and e.app.mwp == MutateWhilePaging(
            updates=1, max_mutations=3
        )
        assert admin.put("/mutate-while-paging", content=b"null").json() is None
        stats = admin.get("/stats").json()
        assert stats["live_assets"] == 601
        assert admin.post("/stats/reset").json()["requests"] == 0


def test_set_mutate_while_paging_none_stops_it(make_emu) -> None:
    e: Emulator = make_emu(mutate_while_paging=MutateWhilePaging(updates=1))
    e.set_mutate_while_paging(None)
    with client(e) as c:
        fetch_all(c, {"pageSize": 50})
    assert e.stats()["mutations_while_paging"] == 0
