"""Deletes: a complete listing marks the absent, an incomplete one marks nothing, a listed
or re-synced asset is revived, and nothing is ever physically removed."""

from __future__ import annotations

import pyarrow as pa
import pytest

from assets_sync.sink import ReconcileResult, StreamKey
from tests.warehouse.conftest import STREAM, page
from tests.warehouse.factory import BASE_MS, make_assets
from warehouse import DuckDBSink, WarehouseError


def deleted(wh: DuckDBSink) -> list[str]:
    rows = wh.connection.execute(
        "SELECT id FROM assets WHERE deleted_at IS NOT NULL ORDER BY id"
    ).fetchall()
    return [str(r[0]) for r in rows]


@pytest.fixture
def five(wh: DuckDBSink) -> DuckDBSink:
    # asset_1..asset_5 created at BASE_MS + n, plus asset_9 in another project.
    wh.write([page(make_assets([1, 2, 3, 4, 5], [BASE_MS + 100] * 5))])
    other = StreamKey("proj_b")
    wh.write([page(make_assets([9], [BASE_MS + 100], project_id="proj_b"), stream=other)])
    return wh


def ids(*numbers: int) -> pa.Array:
    return pa.array([f"asset_{n}" for n in numbers])


def test_complete_listing_marks_absent_assets(five: DuckDBSink) -> None:
    result = five.reconcile(STREAM, "rec_1", ids(1, 2, 4), None, None, complete=True)
    assert result == ReconcileResult(listed=3, deleted=2, revived=0)
    assert deleted(five) == ["asset_3", "asset_5"]  # asset_9 is another project's
    assert five.connection.execute("SELECT count(*) FROM assets").fetchone() == (6,)
    assert five.connection.execute("SELECT count(*) FROM live_assets").fetchone() == (4,)


def test_incomplete_listing_marks_nothing(five: DuckDBSink) -> None:
    result = five.reconcile(STREAM, "rec_1", ids(1), None, None, complete=False)
    assert result == ReconcileResult(listed=1)
    assert deleted(five) == []


def test_created_window_bounds_are_exclusive(five: DuckDBSink) -> None:
    # created_at = BASE_MS + n: the window (BASE+1, BASE+4) covers asset_2 and asset_3 only.
    five.reconcile(STREAM, "rec_1", ids(), BASE_MS + 1, BASE_MS + 4, complete=True)
    assert deleted(five) == ["asset_2", "asset_3"]


def test_listed_again_or_synced_again_revives(five: DuckDBSink) -> None:
    five.reconcile(STREAM, "rec_1", ids(1), None, None, complete=True)
    assert deleted(five) == ["asset_2", "asset_3", "asset_4", "asset_5"]
    result = five.reconcile(STREAM, "rec_2", ids(1, 2), None, None, complete=False)
    assert result == ReconcileResult(listed=2, deleted=0, revived=1)
    five.write([page(make_assets([3], [BASE_MS + 200]))])  # newer version: revived
    five.write([page(make_assets([4], [BASE_MS + 100]))])  # same version seen again: revived
    five.write([page(make_assets([5], [BASE_MS + 50]))])  # older replay: changes nothing
    assert deleted(five) == ["asset_5"]


def test_unscoped_stream_covers_every_project(five: DuckDBSink) -> None:
    five.reconcile(StreamKey(None), "rec_1", ids(1, 2, 3, 4, 5), None, None, complete=True)
    assert deleted(five) == ["asset_9"]


def test_filtered_stream_only_touches_its_own_assets(five: DuckDBSink) -> None:
    upscale = StreamKey("proj_a", (("type", "upscale"),))  # asset_2 is the upscale one
    five.reconcile(upscale, "rec_1", ids(), None, None, complete=True)
    assert deleted(five) == ["asset_2"]
    with pytest.raises(WarehouseError, match="no exact equivalent"):
        five.reconcile(StreamKey("proj_a", (("tags", "x"),)), "r", ids(), None, None, True)
    assert deleted(five) == ["asset_2"]
