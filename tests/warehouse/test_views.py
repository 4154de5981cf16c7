"""Analytics views and the status report on a small dataset with known answers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pytest

from assets_sync.sink import RunRecord, SliceState
from tests.warehouse.conftest import STREAM, page
from tests.warehouse.factory import BASE_MS, make_assets, make_rejects
from warehouse import DuckDBSink
from warehouse.status import warehouse_status

DAY = 86_400_000


@pytest.fixture
def known(wh: DuckDBSink) -> DuckDBSink:
    """asset_1 (3 versions over 3 days), its child asset_4, grandchild asset_16, child asset_5.

    Factory types/models: 1 and 16 img2img/model_b, 4 uploaded/model_b,
    5 txt2img/model_c. asset_5 is then deleted by a complete reconciliation.
    """
    created = [BASE_MS + 1, BASE_MS + 4, BASE_MS + 16, BASE_MS + 5]
    wh.write([page(make_assets([1, 4, 16, 5], created, created_ms=created))])
    wh.write([page(make_assets([1], [BASE_MS + DAY], created_ms=[BASE_MS + 1]))])
    wh.write([page(make_assets([1], [BASE_MS + 2 * DAY], created_ms=[BASE_MS + 1]))])
    wh.reconcile(STREAM, "rec", pa.array(["asset_1", "asset_4", "asset_16"]), None, None, True)
    return wh


def test_asset_history_is_scd2(known: DuckDBSink) -> None:
    rows = known.connection.execute(
        "SELECT id, epoch_ms(valid_from) - ?, epoch_ms(valid_to) - ?, is_current"
        " FROM asset_history WHERE id = 'asset_1' ORDER BY valid_from",
        [BASE_MS, BASE_MS],
    ).fetchall()
    assert rows == [
        ("asset_1", 1, DAY, False),
        ("asset_1", DAY, 2 * DAY, False),
        ("asset_1", 2 * DAY, None, True),
    ]
    gone = known.connection.execute(
        "SELECT valid_to IS NOT NULL, is_current FROM asset_history WHERE id = 'asset_5'"
    ).fetchall()
    assert gone == [(True, False)]  # a deleted asset's last version ends at deleted_at
    assert known.connection.execute(
        "SELECT count(*) FROM asset_history WHERE is_current"
    ).fetchone() == (3,)


def test_ancestry_and_descendants(known: DuckDBSink) -> None:
    con = known.connection
    assert con.execute(
        "SELECT ancestor_id, depth FROM asset_ancestry WHERE asset_id = 'asset_16' ORDER BY depth"
    ).fetchall() == [("asset_4", 1), ("asset_1", 2)]
    assert con.execute(
        "SELECT descendant_id, depth FROM asset_descendants WHERE asset_id = 'asset_1'"
        " ORDER BY depth, descendant_id"
    ).fetchall() == [("asset_4", 1), ("asset_5", 1), ("asset_16", 2)]


def test_ancestry_survives_a_cycle(wh: DuckDBSink) -> None:
    wh.connection.execute(
        "INSERT INTO asset_lineage VALUES ('a', 'b', 'parent'), ('b', 'a', 'parent')"
    )
    assert wh.connection.execute(
        "SELECT asset_id, ancestor_id, depth FROM asset_ancestry ORDER BY 1"
    ).fetchall() == [("a", "b", 1), ("b", "a", 1)]


def test_daily_activity(known: DuckDBSink) -> None:
    today = datetime.now(UTC).date()
    rows = known.connection.execute(
        "SELECT day, type, model_id, created, updated, deleted FROM daily_activity"
        " ORDER BY day, type"
    ).fetchall()
    assert rows == [
        (date(2026, 1, 1), "img2img", "model_b", 2, 0, 0),
        (date(2026, 1, 1), "txt2img", "model_c", 1, 0, 0),
        (date(2026, 1, 1), "uploaded", "model_b", 1, 0, 0),
        (date(2026, 1, 2), "img2img", "model_b", 0, 1, 0),
        (date(2026, 1, 3), "img2img", "model_b", 0, 1, 0),
        (today, "txt2img", "model_c", 0, 0, 1),
    ]


def test_live_assets(known: DuckDBSink) -> None:
    live = known.connection.execute("SELECT id FROM live_assets ORDER BY id").fetchall()
    assert live == [("asset_1",), ("asset_16",), ("asset_4",)]


def test_status_per_stream(known: DuckDBSink) -> None:
    known.write([page(make_assets([], []), make_rejects(["asset_bad"]))])
    known.plan_slices(STREAM, [SliceState("open", 0, 10, 0)])
    known.complete_slices(STREAM, [], BASE_MS + 2 * DAY)
    known.begin_run(RunRecord("r1", STREAM, "sync", BASE_MS))
    known.end_run(RunRecord("r1", STREAM, "sync", BASE_MS, BASE_MS + 5, "success",
                            counts={"fetched": 6, "new": 4, "pages": 3}))  # fmt: skip
    known.begin_run(RunRecord("r2", STREAM, "sync", BASE_MS + 10))
    now = datetime(2026, 1, 4, tzinfo=UTC)
    [status] = warehouse_status(known.connection, now=now)
    assert (status.stream_id, status.scope) == ("proj_a", "stream")
    assert status.lag == timedelta(days=1)
    assert (status.assets_total, status.assets_live, status.assets_deleted) == (4, 3, 1)
    assert (status.versions, status.rejects, status.open_slices) == (6, 1, 2)
    assert [(r.run_id, r.outcome) for r in status.last_runs] == [
        ("r2", "running"),
        ("r1", "success"),
    ]
    assert status.last_runs[1].counts["fetched"] == 6
