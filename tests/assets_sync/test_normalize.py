"""Normalization: any JSON value becomes exactly one row or one reject, never an exception."""

from __future__ import annotations

from typing import Any

import orjson
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from assets_sync.normalize import normalize
from assets_sync.schema import ASSET_SCHEMA, REJECT_SCHEMA
from assets_sync.windows import MAX_MS, format_iso_ms

json_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
json_value = st.recursive(
    json_scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=6,
)
iso = st.integers(0, MAX_MS).map(format_iso_ms)
maybe = st.one_of(json_value, iso, st.sampled_from(["2024-02-30T00:00:00Z", "", "now"]))
asset_like = st.fixed_dictionaries(
    {},
    optional={
        "id": st.one_of(st.text(max_size=10), json_value),
        "updatedAt": maybe,
        "createdAt": maybe,
        "ownerId": st.one_of(st.just("proj_x"), st.just("team_y"), json_value),
        "kind": json_value,
        "tags": st.one_of(st.lists(st.text(max_size=5), max_size=3), json_value),
        "collectionIds": json_value,
        "metadata": st.one_of(
            st.fixed_dictionaries(
                {},
                optional={
                    "type": json_value,
                    "parentId": json_value,
                    "name": json_value,
                    "width": json_value,
                },
            ),
            json_value,
        ),
        "properties": st.one_of(
            st.fixed_dictionaries({}, optional={"size": json_value, "height": json_value}),
            json_value,
        ),
        "surprise": json_value,
    },
)


@settings(max_examples=120, deadline=None)
@given(st.lists(st.one_of(asset_like, json_value), max_size=8))
def test_every_record_becomes_a_row_or_a_reject(records: list[Any]) -> None:
    assets, rejects = normalize(records)
    assert assets.schema.equals(ASSET_SCHEMA) and rejects.schema.equals(REJECT_SCHEMA)
    assert assets.num_rows + rejects.num_rows == len(records)
    assets.validate(full=True)
    for row in assets.to_pylist():
        original = orjson.loads(row["raw"])
        assert original["id"] == row["id"] and isinstance(row["id"], str) and row["id"]
        assert format_iso_ms(_ms(row["updated_at"])) == _canonical(original["updatedAt"])
    for rej in rejects.to_pylist():
        assert rej["reason"] and rej["raw"]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, MAX_MS), st.integers(0, MAX_MS)), max_size=20))
def test_timestamps_round_trip_at_millisecond_precision(pairs: list[tuple[int, int]]) -> None:
    records = [
        {"id": f"asset_{i}", "createdAt": format_iso_ms(c), "updatedAt": format_iso_ms(u)}
        for i, (c, u) in enumerate(pairs)
    ]
    assets, rejects = normalize(records)
    assert rejects.num_rows == 0
    assert assets.column("updated_at").cast(pa.int64()).to_pylist() == [u for _, u in pairs]
    assert assets.column("created_at").cast(pa.int64()).to_pylist() == [c for c, _ in pairs]


def test_columns_from_a_realistic_asset() -> None:
    record = {
        "id": "asset_abc",
        "url": "https://cdn/x.png",
        "mimeType": "image/png",
        "kind": "image",
        "source": "inference",
        "ownerId": "proj_123",
        "authorId": "user_1",
        "createdAt": "2024-05-01T12:00:00.000Z",
        "updatedAt": "2024-05-02T12:00:00.456Z",
        "privacy": "private",
        "tags": ["cat"],
        "collectionIds": ["col_1"],
        "status": "success",
        "properties": {"size": 2_000_000, "width": 1024},
        "metadata": {
            "type": "a-type-from-the-future",
            "kind": "image",
            "parentId": "asset_p",
            "rootParentId": "asset_r",
            "inferenceId": "inf_1",
            "modelId": "model_1",
            "name": "hello",
            "height": 768,
            "seed": 42,
        },
        "embedding": [0.1, 0.2],
    }
    assets, rejects = normalize([record])
    assert rejects.num_rows == 0
    row = assets.to_pylist()[0]
    assert row["project_id"] == "proj_123" and row["type"] == "a-type-from-the-future"
    assert (row["parent_id"], row["root_id"], row["inference_id"], row["model_id"]) == (
        "asset_p",
        "asset_r",
        "inf_1",
        "model_1",
    )
    assert (row["width"], row["height"], row["size_bytes"]) == (1024, 768, 2_000_000)
    assert row["name"] == "hello" and row["tags"] == ["cat"] and row["collection_ids"] == ["col_1"]
    assert orjson.loads(row["raw"]) == record  # unknown fields kept
    # stream project wins; team owners give no project
    assert normalize([record], "proj_other")[0].column("project_id")[0].as_py() == "proj_other"
    team = {**record, "ownerId": "team_9"}
    assert normalize([team])[0].column("project_id")[0].as_py() is None


def test_bad_records_are_rejected_with_reasons_and_do_not_fail_the_page() -> None:
    good = {"id": "asset_ok", "updatedAt": "2024-05-02T12:00:00.000Z"}
    bad = [
        {"updatedAt": "2024-05-02T12:00:00.000Z"},
        {"id": "asset_1"},
        {"id": "asset_2", "updatedAt": "yesterday"},
        {"id": "asset_3", "updatedAt": "2024-05-02T12:00:00.000Z", "metadata": "x"},
        {"id": "asset_4", "updatedAt": "2024-05-02T12:00:00.000Z", "tags": ["a", 1]},
        {"id": "asset_5", "updatedAt": "2024-05-02T12:00:00.000Z", "properties": {"width": 2.5}},
        {"id": "asset_6", "updatedAt": "2024-05-02T12:00:00.000Z", "createdAt": 17},
        "not an object",
    ]
    assets, rejects = normalize([good, *bad])
    assert assets.column("id").to_pylist() == ["asset_ok"]
    reasons = rejects.column("reason").to_pylist()
    assert len(reasons) == len(bad)
    assert reasons[0] == "no id" and "updatedAt" in reasons[1] and "tags" in reasons[4]
    assert rejects.column("asset_id").to_pylist()[1:7] == [f"asset_{i}" for i in range(1, 7)]


def _ms(value: Any) -> int:
    return int(value.timestamp() * 1000 + 0.5) if hasattr(value, "timestamp") else int(value)


def _canonical(text: str) -> str:
    from assets_sync.windows import parse_iso_ms

    return format_iso_ms(parse_iso_ms(text))


@settings(max_examples=120, deadline=None)
@given(st.lists(st.one_of(asset_like, json_value), max_size=8))
def test_fast_path_equals_the_checked_path(records: list[Any]) -> None:
    """The unchecked fast path (types left to pa.array) never accepts what the checked path
    would convert or reject differently (a record with several faults may be rejected for
    another of them: only the reason's wording can differ)."""
    from assets_sync.normalize import _normalize

    fast = normalize(records)
    checked = _normalize(records, None, strict=True)
    assert fast[0].equals(checked[0])
    for column in ("asset_id", "raw"):
        assert fast[1].column(column).equals(checked[1].column(column))
