"""Deterministic synthetic asset batches in `ASSET_SCHEMA`, built column-wise (no row loops).

Every column is a pure function of (asset number, updated_at ms), so a version seen twice is
identical, which is what lets tests compare final states regardless of arrival order. Used by
the tests, the crash-resume writer script and `benchmarks/bench_upsert.py`.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from assets_sync.schema import ASSET_SCHEMA, REJECT_SCHEMA

BASE_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
TYPES = ("txt2img", "img2img", "upscale", "inference-controlnet", "uploaded")
MODELS = ("model_a", "model_b", "model_c")
_PAD = "x" * 512  # makes raw about the size of a real asset object


def asset_id(n: np.ndarray) -> pa.Array:
    return pc.binary_join_element_wise("asset_", pa.array(n).cast(pa.string()), "")


def _pick(values: tuple[str, ...], n: np.ndarray) -> pa.Array:
    return pa.array(np.array(values, dtype=object)[n % len(values)], pa.string())


def _ts(ms: np.ndarray) -> pa.Array:
    return pa.array(ms.astype("datetime64[ms]")).cast(pa.timestamp("ms", tz="UTC"))


def make_assets(
    numbers: np.ndarray | list[int],
    updated_ms: np.ndarray | list[int],
    project_id: str = "proj_a",
    created_ms: np.ndarray | list[int] | None = None,
) -> pa.RecordBatch:
    """One row per (number, updated_ms); parents form trees (n's parent is n // 4, n >= 4)."""
    n = np.asarray(numbers, dtype=np.int64)
    upd = np.asarray(updated_ms, dtype=np.int64)
    created = np.asarray(created_ms, dtype=np.int64) if created_ms is not None else BASE_MS + n
    ids = asset_id(n)
    u_str = pa.array(upd).cast(pa.string())
    has_parent = n >= 4
    parent = pa.array(np.where(has_parent, n // 4, 0))
    parent_ids = pc.if_else(pa.array(has_parent), asset_id(np.asarray(parent)), None)
    root_ids = pc.if_else(pa.array(has_parent), pa.scalar("asset_1"), None)
    types = _pick(TYPES, n)
    models = _pick(MODELS, n)
    url = pc.binary_join_element_wise("https://cdn.example/", ids, "?v=", u_str, "")
    raw = pc.binary_join_element_wise(
        '{"id":"',
        ids,
        '","updatedAt":',
        u_str,
        ',"url":"',
        url,
        '","metadata":{"type":"',
        types,
        '"},"pad":"',
        pa.scalar(_PAD),
        '"}',
        "",
    )
    tags = pa.ListArray.from_arrays(
        pa.array(np.arange(0, 2 * len(n) + 1, 2, dtype=np.int32)),
        pa.array(
            np.column_stack([np.full(len(n), "t"), np.where(n % 2 == 0, "even", "odd")])
            .reshape(-1)
            .astype(object),
            pa.string(),
        ),
    )
    columns = {
        "id": ids,
        "project_id": pa.repeat(pa.scalar(project_id), len(n)),
        "owner_id": pa.repeat(pa.scalar(project_id), len(n)),
        "author_id": _pick(("user_1", "user_2"), n),
        "kind": pa.repeat(pa.scalar("image"), len(n)),
        "type": types,
        "source": pa.repeat(pa.scalar("scenario"), len(n)),
        "mime_type": pa.repeat(pa.scalar("image/png"), len(n)),
        "status": pa.repeat(pa.scalar("success"), len(n)),
        "privacy": pa.repeat(pa.scalar("private"), len(n)),
        "name": pc.binary_join_element_wise("asset ", ids, " v", u_str, ""),
        "url": url,
        "width": pa.array((n % 4 + 1) * 256, pa.int32()),
        "height": pa.array((n % 3 + 1) * 256, pa.int32()),
        "size_bytes": pa.array(n * 10 + upd % 1000, pa.int64()),
        "tags": tags,
        "collection_ids": pa.ListArray.from_arrays(
            pa.array(np.zeros(len(n) + 1, dtype=np.int32)), pa.array([], pa.string())
        ),
        "parent_id": parent_ids,
        "root_id": root_ids,
        "inference_id": pc.binary_join_element_wise("inf_", pa.array(n // 2).cast(pa.string()), ""),
        "model_id": models,
        "created_at": _ts(created),
        "updated_at": _ts(upd),
        "raw": raw,
    }
    return pa.RecordBatch.from_arrays(
        [pa.array(columns[f.name]).cast(f.type) for f in ASSET_SCHEMA], schema=ASSET_SCHEMA
    )


def make_rejects(asset_ids: list[str | None], reason: str = "invalid createdAt") -> pa.RecordBatch:
    raws = [f'{{"id":"{a}","createdAt":"not a date"}}' for a in asset_ids]
    return pa.RecordBatch.from_arrays(
        [pa.array(asset_ids, pa.string()), pa.array([reason] * len(asset_ids)), pa.array(raws)],
        schema=REJECT_SCHEMA,
    )
