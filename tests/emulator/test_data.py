"""The generated team: deterministic, shaped like the API document, with the awkward parts."""

from __future__ import annotations

import re
from collections import Counter

import httpx

from assets_sync.emulator import Emulator, EmulatorConfig
from assets_sync.emulator.vocab import TYPES

from .conftest import SHARED, fetch_all

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
REQUIRED = (
    "id",
    "url",
    "mimeType",
    "kind",
    "source",
    "ownerId",
    "authorId",
    "createdAt",
    "updatedAt",
    "privacy",
    "tags",
    "collectionIds",
    "status",
    "editCapabilities",
    "properties",
    "metadata",
)


def test_same_seed_same_truth_and_other_seed_differs() -> None:
    a = Emulator(EmulatorConfig(assets=400, seed=11, end_ms=SHARED.end_ms)).truth()
    b = Emulator(EmulatorConfig(assets=400, seed=11, end_ms=SHARED.end_ms)).truth()
    c = Emulator(EmulatorConfig(assets=400, seed=12, end_ms=SHARED.end_ms)).truth()
    assert a == b
    assert {x["id"] for x in a}.isdisjoint({x["id"] for x in c})


def test_required_fields_formats_and_served_equals_truth(emu: Emulator, api: httpx.Client) -> None:
    truth = emu.truth()
    assert len(truth) == 3000
    served = fetch_all(api, {"pageSize": 100, "sortBy": "createdAt", "sortDirection": "asc"})
    assert served == truth  # truth() is ordered by (createdAt, id), as served ascending
    for a in truth:
        assert all(k in a for k in REQUIRED), a
        assert a["id"].startswith("asset_") and a["ownerId"].startswith("proj_")
        assert ISO.match(a["createdAt"]) and ISO.match(a["updatedAt"])
        assert a["createdAt"] <= a["updatedAt"]
        assert a["url"].startswith("https://cdn.cloud.scenario.com/") and "Signature=" in a["url"]
        assert a["metadata"]["type"] == a["source"] and a["metadata"]["type"] in TYPES
        assert a["metadata"]["kind"] == a["kind"]
        assert a["status"] in ("pending", "success", "error")
        assert a["privacy"] in ("private", "public", "unlisted")
        assert "size" in a["properties"]
    # timestamps lie in the ~2 years before end_ms
    assert min(a["createdAt"] for a in truth) >= "2024"


def test_lineage_is_consistent(emu: Emulator) -> None:
    by_id = {a["id"]: a for a in emu.truth()}
    children = [a for a in by_id.values() if "parentId" in a["metadata"]]
    assert len(children) > 500
    for a in children:
        parent = by_id[a["metadata"]["parentId"]]
        root = by_id[a["metadata"]["rootParentId"]]
        assert "parentId" not in root["metadata"]  # a root is a root
        expected_root = parent["metadata"].get("rootParentId", parent["id"])
        assert a["metadata"]["rootParentId"] == expected_root
        assert a["ownerId"] == parent["ownerId"]
        assert a["createdAt"] > parent["createdAt"]
    depth3 = [a for a in children if by_id[a["metadata"]["parentId"]]["metadata"].get("parentId")]
    assert depth3, "trees deeper than one level"


def test_inference_batches_share_ids_and_prompt(emu: Emulator) -> None:
    batches: dict[str, list[dict]] = {}
    for a in emu.truth():
        if "inferenceId" in a["metadata"]:
            batches.setdefault(a["metadata"]["inferenceId"], []).append(a)
    multi = [b for b in batches.values() if len(b) > 1]
    assert multi
    for b in multi:
        assert len({a["metadata"]["modelId"] for a in b}) == 1
        assert len({a["metadata"]["prompt"] for a in b}) == 1
        assert sorted(a["metadata"]["outputIndex"] for a in b) == list(range(len(b)))


def test_variety_projects_optional_fields_unicode_embeddings(emu: Emulator) -> None:
    truth = emu.truth()
    assert {a["ownerId"] for a in truth} == set(emu.project_ids) and len(emu.project_ids) == 3
    assert len({a["kind"] for a in truth}) >= 4
    assert len({a["source"] for a in truth}) >= 20
    for optional in (
        "description",
        "embedding",
        "thumbnail",
        "isHidden",
        "nsfw",
        "originalFileUrl",
        "automaticCaptioning",
    ):
        present = sum(optional in a for a in truth)
        assert 0 < present < len(truth), optional
    assert any(not a["metadata"].get("name") for a in truth)
    embeddings = [a["embedding"] for a in truth if "embedding" in a]
    assert all(len(e) == 64 and all(isinstance(x, float) for x in e) for e in embeddings)
    prompts = " ".join(a["metadata"].get("prompt", "") for a in truth)
    assert any(ord(ch) > 0x3000 for ch in prompts)  # CJK / emoji
    seeds = [a["metadata"]["seed"] for a in truth if "seed" in a["metadata"]]
    assert {type(s) for s in seeds} == {str, int}  # both forms exist in the wild


def test_tie_groups_bigger_than_a_page(emu: Emulator) -> None:
    truth = emu.truth()
    created = Counter(a["createdAt"] for a in truth).most_common(1)[0][1]
    updated = Counter(a["updatedAt"] for a in truth).most_common(2)
    assert created >= 300  # a bulk import sharing one millisecond
    assert updated[0][1] >= 300 and updated[1][1] >= 150


def test_no_tie_groups_when_disabled() -> None:
    truth = Emulator(EmulatorConfig(assets=2000, tie_groups=False)).truth()
    assert Counter(a["createdAt"] for a in truth).most_common(1)[0][1] < 5
