"""Every query parameter of the API document, checked against the truth over real HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from assets_sync.emulator import Emulator

from .conftest import client, fetch_all, ids

ALL = {"pageSize": 100}


def by(truth: list[dict[str, Any]], pred: Any) -> set[str]:
    return {a["id"] for a in truth if pred(a)}


def listed(api: httpx.Client, **params: Any) -> set[str]:
    got = ids(fetch_all(api, {**ALL, **params}))
    assert len(got) == len(set(got)), "no duplicates in a stable listing"
    return set(got)


def test_default_listing_is_everything_newest_first_page_of_50(
    emu: Emulator, api: httpx.Client
) -> None:
    body = api.get("/assets").json()
    assert len(body["assets"]) == 50 and body["nextPaginationToken"]
    keys = [(a["createdAt"], a["id"]) for a in body["assets"]]
    assert keys == sorted(keys, reverse=True)
    assert listed(api) == {a["id"] for a in emu.truth()}


@pytest.mark.parametrize("field", ["createdAt", "updatedAt"])
@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_sort_is_a_total_order_by_key_then_id(
    api: httpx.Client, field: str, direction: str
) -> None:
    got = fetch_all(api, {**ALL, "sortBy": field, "sortDirection": direction})
    keys = [(a[field], a["id"]) for a in got]
    assert keys == sorted(keys, reverse=direction == "desc")
    assert len(keys) == 3000


@pytest.mark.parametrize("field", ["createdAt", "updatedAt"])
def test_bounds_are_exclusive(emu: Emulator, api: httpx.Client, field: str) -> None:
    truth = emu.truth()
    stamps = sorted({a[field] for a in truth})
    lo, hi = stamps[100], stamps[400]
    prefix = field.removesuffix("At")
    got = listed(
        api, sortBy=field, sortDirection="asc", **{f"{prefix}After": lo, f"{prefix}Before": hi}
    )
    assert got == by(truth, lambda a: lo < a[field] < hi)
    assert not by(truth, lambda a: a[field] in (lo, hi)) & got  # the bounds themselves excluded
    only_after = listed(api, sortBy=field, **{f"{prefix}After": hi})
    assert only_after == by(truth, lambda a: a[field] > hi)


def test_bounds_accept_iso_variants_and_sub_millisecond(emu: Emulator, api: httpx.Client) -> None:
    truth = emu.truth()
    t = sorted(a["updatedAt"] for a in truth)[1500]  # e.g. 2025-...T..:..:..123Z
    same_instant = t[:-1] + "+00:00"
    a = listed(api, sortBy="updatedAt", updatedAfter=t)
    assert a == listed(api, sortBy="updatedAt", updatedAfter=same_instant)
    # 0.5 ms after t: an asset stamped t is not after it; one stamped t+1ms is.
    half = t[:-1] + "500+00:00"
    assert listed(api, sortBy="updatedAt", updatedAfter=half) == a
    assert listed(api, sortBy="updatedAt", updatedBefore=half) == by(
        truth, lambda x: x["updatedAt"] <= t
    )


@pytest.mark.parametrize(
    "params",
    [
        {"updatedAfter": "2025-01-01T00:00:00.000Z"},
        {"updatedBefore": "2025-01-01T00:00:00.000Z", "sortBy": "createdAt"},
        {"createdAfter": "2025-01-01T00:00:00.000Z", "sortBy": "updatedAt"},
        {"createdBefore": "2025-01-01T00:00:00.000Z"},
        {"sortBy": "updatedAt", "updatedAfter": "yesterday"},
        {"sortBy": "createdAt", "createdBefore": "2025-13-01T00:00:00Z"},
        {"sortBy": "updatedAt", "updatedAfter": "1700000000000"},
        {"sortBy": "name"},
        {"sortDirection": "up"},
        {"pageSize": "0"},
        {"pageSize": "101"},
        {"pageSize": "-1"},
        {"pageSize": "ten"},
        {"pageSize": "1.5"},
        {"paginationToken": "not-base64!"},
        {"paginationToken": "eyJmb28iOjF9"},  # base64 of {"foo":1}
        {"paginationToken": "eyJvZmZzZXQiOi0xLCJsaW1pdCI6MTB9"},  # offset -1
        {"type": "upscale", "types": "background-removal"},
        {"type": "upscale", "types[]": "upscale"},
        {"privacy": "secret"},
        {"originalAssets": "yes"},
        {"pageSize": ["10", "20"]},
    ],
)
def test_invalid_input_is_400_with_reason_and_trace_id(
    api: httpx.Client, params: dict[str, Any]
) -> None:
    r = api.get("/assets", params=params)
    assert r.status_code == 400, (params, r.text)
    body = r.json()
    assert body["reason"] and body["traceId"]


def test_page_size_bounds(api: httpx.Client) -> None:
    assert len(api.get("/assets", params={"pageSize": 1}).json()["assets"]) == 1
    assert len(api.get("/assets", params={"pageSize": 100}).json()["assets"]) == 100


def test_type_and_the_three_types_encodings(emu: Emulator, api: httpx.Client) -> None:
    truth = emu.truth()
    want = by(truth, lambda a: a["metadata"]["type"] in ("upscale", "background-removal"))
    assert want
    assert listed(api, type="upscale") == by(truth, lambda a: a["metadata"]["type"] == "upscale")
    repeated = [("pageSize", "100"), ("types", "upscale"), ("types", "background-removal")]
    assert set(ids(api.get("/assets", params=repeated).json()["assets"])) <= want
    assert listed(api, types="upscale,background-removal") == want
    brackets = api.get(
        "/assets",
        params=[("pageSize", "100"), ("types[]", "upscale"), ("types[]", "background-removal")],
    )
    assert set(ids(brackets.json()["assets"])) <= want
    assert len(
        fetch_all(api, {"pageSize": 100, "types": ["upscale", "background-removal"]})
    ) == len(want)


def test_type_prefix_and_unknown_type(emu: Emulator, api: httpx.Client) -> None:
    truth = emu.truth()
    inference = by(truth, lambda a: a["metadata"]["type"].startswith("inference-"))
    assert len({a["metadata"]["type"] for a in truth if a["id"] in inference}) > 2
    assert listed(api, type="inference-") == inference
    r = api.get("/assets", params={"type": "hologram-2027"})
    assert r.status_code == 200 and r.json()["assets"] == []  # never reject an unknown type


def test_privacy_filter(emu: Emulator, api: httpx.Client) -> None:
    truth = emu.truth()
    for p in ("private", "public", "unlisted"):
        assert listed(api, privacy=p) == by(truth, lambda a, p=p: a["privacy"] == p)


@pytest.mark.parametrize(
    ("param", "path"),
    [
        ("inferenceId", ("metadata", "inferenceId")),
        ("modelId", ("metadata", "modelId")),
        ("parentAssetId", ("metadata", "parentId")),
        ("rootAssetId", ("metadata", "rootParentId")),
        ("authorId", ("authorId",)),
        ("projectId", ("ownerId",)),
    ],
)
def test_id_filters(emu: Emulator, api: httpx.Client, param: str, path: tuple[str, ...]) -> None:
    truth = emu.truth()

    def get(a: dict[str, Any]) -> Any:
        for k in path:
            a = a.get(k, {}) if isinstance(a, dict) else {}
        return a or None

    values = [get(a) for a in truth if get(a)]
    value = max(set(values), key=values.count)  # the most populated one
    want = by(truth, lambda a: get(a) == value)
    assert len(want) >= 2
    assert listed(api, **{param: value}) == want
    assert listed(api, **{param: "asset_doesNotExist"}) == set()


def test_collection_filter(emu: Emulator, api: httpx.Client) -> None:
    truth = emu.truth()
    coll = next(a["collectionIds"][0] for a in truth if a["collectionIds"])
    assert listed(api, collectionId=coll) == by(truth, lambda a: coll in a["collectionIds"])


def test_root_asset_id_returns_all_descendants(emu: Emulator, api: httpx.Client) -> None:
    truth = emu.truth()
    by_id = {a["id"]: a for a in truth}
    deep = next(
        a
        for a in truth
        if by_id.get(a["metadata"].get("parentId", ""), {}).get("metadata", {}).get("parentId")
    )
    root = deep["metadata"]["rootParentId"]
    got = listed(api, rootAssetId=root)
    assert deep["id"] in got and root not in got
    assert deep["id"] not in listed(api, parentAssetId=root)  # grand-children are not children


def test_tags_are_public_only_and_all_required(emu: Emulator, api: httpx.Client) -> None:
    truth = emu.truth()
    tag = max(
        {t for a in truth for t in a["tags"]}, key=lambda t: sum(t in a["tags"] for a in truth)
    )
    want = by(truth, lambda a: tag in a["tags"] and a["privacy"] == "public")
    assert want and want != by(truth, lambda a: tag in a["tags"])
    assert listed(api, tags=tag) == want
    two = next(a["tags"][:2] for a in truth if len(a["tags"]) >= 2 and a["privacy"] == "public")
    assert listed(api, tags=",".join(two)) == by(
        truth, lambda a: set(two) <= set(a["tags"]) and a["privacy"] == "public"
    )


def test_original_assets_serves_untransformed_urls(api: httpx.Client) -> None:
    plain = api.get("/assets", params={"pageSize": 5}).json()["assets"]
    orig = api.get("/assets", params={"pageSize": 5, "originalAssets": "true"}).json()["assets"]
    assert ids(plain) == ids(orig)
    assert all("/assets-transform/" in a["url"] for a in plain)
    assert all("/assets-transform/" not in a["url"] and "/assets/" in a["url"] for a in orig)


def test_filters_combine(emu: Emulator, api: httpx.Client) -> None:
    truth = emu.truth()
    proj = emu.project_ids[0]
    want = by(
        truth,
        lambda a: (
            a["ownerId"] == proj
            and a["metadata"]["type"] == "upscale"
            and a["privacy"] == "private"
        ),
    )
    assert listed(api, projectId=proj, type="upscale", privacy="private") == want


def test_unknown_parameters_are_ignored_and_other_paths_404(api: httpx.Client) -> None:
    assert api.get("/assets", params={"pageSize": 2, "flavour": "vanilla"}).status_code == 200
    assert api.get("/models").status_code == 404
    assert api.post("/assets").status_code == 405


def test_privacy_public_lists_other_organizations_public_assets(make_emu) -> None:
    e = make_emu(assets=400, foreign_public_assets=50)
    truth = e.truth()
    assert all(a["ownerId"].startswith("proj_") for a in truth) and len(truth) == 400
    with client(e) as c:
        default = fetch_all(c, {"pageSize": 100})
        public = fetch_all(c, {"pageSize": 100, "privacy": "public"})
        scoped = fetch_all(c, {"pageSize": 100, "privacy": "public", "projectId": e.project_ids[0]})
    assert {a["id"] for a in default} == {a["id"] for a in truth}
    foreign = [a for a in public if a["ownerId"].startswith("team_")]
    assert len(foreign) == 50 and all(a["privacy"] == "public" for a in public)
    assert len(public) == 50 + sum(a["privacy"] == "public" for a in truth)
    assert all(a["ownerId"] == e.project_ids[0] for a in scoped)
