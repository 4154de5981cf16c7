"""A small crafted warehouse whose analytics answers are computed by hand (see `build`).

Lineage (parent edges), types and categories:

    asset_u1  uploaded            upload      alice  day 0 10:00   root of tree A
    ├── asset_g1  inference-img2img  generation  alice  day 0 11:00   model_a
    │   └── asset_e1  upscale          edit        bob    day 1 09:00
    │       └── asset_e2  background-removal  edit  bob  day 1 10:00   depth 3
    └── asset_g2  inference-img2img  generation  alice  day 0 11:00   model_a
    asset_t1  inference-txt2img   generation  bob    day 1 12:00   model_b, root of tree B
    └── asset_e3  vectorization     edit        carol  day 2 08:00   DELETED later
    asset_c1  canvas              other       carol  day 2 09:00   DELETED later
    asset_x1  <img src=x ...>     generation  carol  day 2 10:00   model and name <script>...
    asset_o1  upscale             edit        carol  day 2 11:00   parent asset_missing (unsynced)

Later versions: asset_u1 on day 3 (name, tags +b, url), asset_g1 on day 3 (status
success -> error, privacy private -> public, url) and day 4 (url only). A complete
reconciliation then lists everything but asset_e3 and asset_c1 (deleted "today").
Two runs: a success (lag 1 h 0.5 min at its end) and a failure (with markup in its error).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa

from assets_sync.schema import ASSET_SCHEMA, REJECT_SCHEMA
from assets_sync.sink import PageBatch, RunRecord, SliceState, StreamKey
from warehouse import DuckDBSink

STREAM = StreamKey("proj_a")
SLICE = SliceState("s1", 0, 4_000_000_000_000, 0)
DAY0 = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
EVIL = "<script>alert(1)</script>"
EVIL_TYPE = "<img src=x onerror=alert(2)>"


def at(day: int, hour: int = 0) -> datetime:
    return DAY0 + timedelta(days=day, hours=hour)


def ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def asset(
    n: str,
    type_: str,
    author: str,
    created: datetime,
    *,
    parent: str | None = None,
    root: str | None = None,
    model: str | None = None,
    inference: str | None = None,
    updated: datetime | None = None,
    **over: Any,
) -> dict[str, Any]:
    updated = updated or created
    row: dict[str, Any] = {
        "id": f"asset_{n}",
        "project_id": "proj_a",
        "owner_id": "proj_a",
        "author_id": author,
        "kind": "image",
        "type": type_,
        "source": "scenario",
        "mime_type": "image/png",
        "status": "success",
        "privacy": "private",
        "name": f"asset {n}",
        "url": f"https://cdn.example/{n}?sig={ms(updated)}",
        "width": 512,
        "height": 512,
        "size_bytes": 1000,
        "tags": ["a"],
        "collection_ids": [],
        "parent_id": parent,
        "root_id": root,
        "inference_id": inference,
        "model_id": model,
        "created_at": created,
        "updated_at": updated,
    }
    row.update(over)
    row["raw"] = json.dumps({"id": row["id"], "updatedAt": ms(updated), "name": row["name"]})
    return row


def first_versions() -> list[dict[str, Any]]:
    u1, missing = "asset_u1", "asset_missing"
    return [
        asset("u1", "uploaded", "alice", at(0, 10), source="upload"),
        asset("g1", "inference-img2img", "alice", at(0, 11), parent=u1, root=u1,
              model="model_a", inference="inf_1"),
        asset("g2", "inference-img2img", "alice", at(0, 11), parent=u1, root=u1,
              model="model_a", inference="inf_1"),
        asset("e1", "upscale", "bob", at(1, 9), parent="asset_g1", root=u1),
        asset("e2", "background-removal", "bob", at(1, 10), parent="asset_e1", root=u1),
        asset("t1", "inference-txt2img", "bob", at(1, 12), model="model_b", inference="inf_2"),
        asset("e3", "vectorization", "carol", at(2, 8), parent="asset_t1", root="asset_t1"),
        asset("c1", "canvas", "carol", at(2, 9)),
        asset("x1", EVIL_TYPE, "carol", at(2, 10), model=EVIL, inference="inf_3", name=EVIL),
        asset("o1", "upscale", "carol", at(2, 11), parent=missing, root=missing),
    ]  # fmt: skip


def later_versions() -> list[list[dict[str, Any]]]:
    u1 = "asset_u1"
    return [
        [
            asset("u1", "uploaded", "alice", at(0, 10), updated=at(3, 9), source="upload",
                  name="asset u1 renamed", tags=["a", "b"]),
            asset("g1", "inference-img2img", "alice", at(0, 11), updated=at(3, 10), parent=u1,
                  root=u1, model="model_a", inference="inf_1", status="error",
                  privacy="public"),
        ],
        [
            asset("g1", "inference-img2img", "alice", at(0, 11), updated=at(4, 10), parent=u1,
                  root=u1, model="model_a", inference="inf_1", status="error",
                  privacy="public"),
        ],
    ]  # fmt: skip


def page(rows: list[dict[str, Any]], rejects: list[dict[str, Any]] | None = None) -> PageBatch:
    return PageBatch(
        "run_ok",
        STREAM,
        pa.RecordBatch.from_pylist(rows, schema=ASSET_SCHEMA),
        pa.RecordBatch.from_pylist(rejects or [], schema=REJECT_SCHEMA),
        SLICE,
    )


def build(wh: DuckDBSink) -> None:
    """Write the dataset, its runs and its reconciliation into an open (writable) warehouse."""
    wh.begin_run(RunRecord("run_ok", STREAM, "sync", ms(at(5, 2))))
    wh.write([page(first_versions(), [{"asset_id": "asset_bad", "reason": f"bad {EVIL}",
                                       "raw": "{}"}])])  # fmt: skip
    for rows in later_versions():
        wh.write([page(rows)])
    wh.end_run(
        RunRecord("run_ok", STREAM, "sync", ms(at(5, 2)), ms(at(5, 2) + timedelta(seconds=30)),
                  "success", watermark_after_ms=ms(at(5, 1)),
                  counts={"fetched": 13, "new": 10, "updated": 3, "rejected": 1})
    )  # fmt: skip
    wh.begin_run(RunRecord("run_bad", STREAM, "sync", ms(at(6, 2))))
    wh.end_run(
        RunRecord("run_bad", STREAM, "sync", ms(at(6, 2)), ms(at(6, 2) + timedelta(seconds=5)),
                  "failed", error=f"HTTP 500 {EVIL}", watermark_after_ms=ms(at(5, 1)))
    )  # fmt: skip
    listed = [r["id"] for r in first_versions() if r["id"] not in ("asset_e3", "asset_c1")]
    wh.reconcile(STREAM, "run_rec", pa.array(listed), None, None, True)
