"""Migrations: applied in order on open, recorded, upgrading older warehouses; the asset
tables match ASSET_SCHEMA exactly; bad paths fail with messages a person can act on."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from assets_sync.schema import ASSET_SCHEMA
from assets_sync.sink import PageBatch
from tests.warehouse.conftest import STREAM, page
from tests.warehouse.factory import BASE_MS, make_assets
from warehouse import DuckDBSink, WarehouseError, open_warehouse
from warehouse.columns import expected_columns, live_columns
from warehouse.ledger import ensure_stream, upsert_progress
from warehouse.migrate import available_migrations

VIEWS = {
    "live_assets", "asset_history", "asset_ancestry", "asset_descendants", "daily_activity",
    "assets", "asset_versions",
}  # fmt: skip
TABLES = {
    "asset_rows", "asset_lineage", "rejected_assets",
    "sync_state", "sync_slices", "sync_runs", "schema_migrations",
}  # fmt: skip
#: The schema version before `asset_rows` (0006): `assets` and `asset_versions` were tables.
BEFORE_ROWS = 5


def write_old_layout(sink: DuckDBSink, pages: list[PageBatch]) -> None:
    """What the writer did before migration 0006, for upgrade tests: a newer version replaced
    its id's row of the `assets` table, and every version was appended to `asset_versions`."""
    con = sink.connection
    con.execute("BEGIN TRANSACTION")
    for p in pages:
        ensure_stream(con, p.stream)
        con.register("b", p.assets)
        con.execute("DELETE FROM assets WHERE id IN (SELECT id FROM b)")
        con.execute("INSERT INTO assets SELECT *, NULL, now(), now() FROM b")
        con.execute("INSERT INTO asset_versions SELECT *, ?, now() FROM b", [p.run_id])
        con.unregister("b")
    upsert_progress(con, [(p.stream, p.run_id, p.progress) for p in pages])
    con.execute("COMMIT")


def objects(con: duckdb.DuckDBPyConnection, kind: str) -> set[str]:
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables"
        " WHERE table_schema = 'main' AND table_type = ?",
        [kind],
    ).fetchall()
    return {str(r[0]) for r in rows}


def test_fresh_warehouse_has_every_migration(db_path: str) -> None:
    with open_warehouse(db_path) as wh:
        con = wh.connection
        assert objects(con, "BASE TABLE") == TABLES
        assert objects(con, "VIEW") >= VIEWS  # later migrations may add more
        applied = con.execute("SELECT version, name FROM schema_migrations ORDER BY 1").fetchall()
        assert applied == [(m.version, m.name) for m in available_migrations()]
    with open_warehouse(db_path) as wh:  # reopening applies nothing twice
        assert wh.connection.execute("SELECT count(*) FROM schema_migrations").fetchone() == (
            len(available_migrations()),
        )


def test_asset_tables_derive_from_the_record_schema(wh: DuckDBSink) -> None:
    for table in ("asset_rows", "assets", "asset_versions"):
        have = live_columns(wh.connection, table)
        assert have == expected_columns(table)
        assert [name for name, _ in have][: len(ASSET_SCHEMA)] == ASSET_SCHEMA.names
    types = dict(live_columns(wh.connection, "assets"))
    assert types["raw"] == "JSON" and types["tags"] == "VARCHAR[]"
    assert types["updated_at"] == types["deleted_at"] == "TIMESTAMP WITH TIME ZONE"


def test_an_older_warehouse_upgrades_and_keeps_its_data(
    db_path: str, caplog: pytest.LogCaptureFixture
) -> None:
    with DuckDBSink(db_path, migrate_to=1) as old:
        assert objects(old.connection, "VIEW") == set()
        write_old_layout(old, [page(make_assets([1, 2], [BASE_MS + 1, BASE_MS + 2]))])
    assert "upgrading" not in caplog.text  # creating a warehouse is no upgrade
    latest = available_migrations()[-1].version
    with open_warehouse(db_path) as wh:
        assert f"upgrading the warehouse schema from version 1 to {latest}" in caplog.text
        assert objects(wh.connection, "VIEW") >= VIEWS
        assert wh.connection.execute("SELECT count(*) FROM live_assets").fetchone() == (2,)
        assert wh.stream_state(STREAM).slices[0].slice_id == "s1"


def test_read_only_open_refuses_to_upgrade(db_path: str) -> None:
    DuckDBSink(db_path, migrate_to=1).close()
    with pytest.raises(WarehouseError, match="needs schema migrations"):
        open_warehouse(db_path, read_only=True)


def test_a_newer_warehouse_is_refused(db_path: str) -> None:
    DuckDBSink(db_path).close()
    con = duckdb.connect(db_path)
    con.execute("INSERT INTO schema_migrations VALUES (999, 'future', 'x', now())")
    con.close()
    with pytest.raises(WarehouseError, match="newer version"):
        open_warehouse(db_path)


def test_drift_between_schema_and_tables_is_refused(db_path: str) -> None:
    DuckDBSink(db_path).close()
    con = duckdb.connect(db_path)
    con.execute("ALTER TABLE asset_rows DROP COLUMN url")
    con.close()
    with pytest.raises(WarehouseError, match=r"missing \[\('url'"):
        open_warehouse(db_path)


def test_a_file_that_is_not_duckdb_is_a_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.duckdb"
    bogus.write_text("these are my notes, not a database\n" * 200)
    with pytest.raises(WarehouseError, match="not a DuckDB database file"):
        open_warehouse(bogus)
    with pytest.raises(WarehouseError, match="is a directory"):
        open_warehouse(tmp_path)
    with pytest.raises(WarehouseError, match="no warehouse at"):
        open_warehouse(tmp_path / "missing.duckdb", read_only=True)
    assert bogus.read_text().startswith("these are my notes")  # untouched


def raw_compression(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    con.execute("CHECKPOINT")
    rows = con.execute(
        f"SELECT DISTINCT compression FROM pragma_storage_info('{table}')"
        " WHERE column_name = 'raw' AND segment_type <> 'VALIDITY'"
    ).fetchall()
    return {str(r[0]) for r in rows}


def test_raw_is_stored_with_zstd_also_after_an_upgrade(db_path: str) -> None:
    """0004 rebuilds the asset tables with `raw ... USING COMPRESSION zstd` (the writer's
    largest cost was DuckDB's default choice for it); the history, the views and the writes
    after the rebuild all keep working, and the choice survives reopening."""
    with DuckDBSink(db_path, migrate_to=3) as old:
        write_old_layout(old, [page(make_assets([1, 2], [BASE_MS + 1, BASE_MS + 2]))])
        write_old_layout(old, [page(make_assets([1], [BASE_MS + 5]))])
    with open_warehouse(db_path) as wh:
        con = wh.connection
        assert con.execute("SELECT count(*) FROM asset_history").fetchone() == (3,)
        wh.write([page(make_assets(list(range(3, 40)), [BASE_MS + 9] * 37))])
    with open_warehouse(db_path) as wh:
        con = wh.connection
        assert con.execute("SELECT count(*) FROM live_assets").fetchone() == (39,)
        assert con.execute("SELECT count(*) FROM asset_versions").fetchone() == (40,)
        for table in ("asset_rows",):
            sql = con.execute(
                "SELECT sql FROM duckdb_tables() WHERE table_name = ?", [table]
            ).fetchone()
            assert sql is not None and "USING COMPRESSION ZSTD" in sql[0].upper()
            assert raw_compression(con, table) == {"ZSTD"}
        assert live_columns(con, "assets") == expected_columns("assets")


def test_the_upgrade_to_asset_rows_stores_each_version_once_and_keeps_what_readers_saw(
    db_path: str,
) -> None:
    """0006: `assets` and `asset_versions` become views over `asset_rows`. Readers see the
    same current rows (refreshed url, deletion and all) and the same versions with their
    first-observation stamps; a superseded version keeps its stored row, and the current
    version is one row holding the current row's values."""
    with DuckDBSink(db_path, migrate_to=BEFORE_ROWS) as old:
        write_old_layout(old, [page(make_assets([1, 2, 3], [BASE_MS + 1] * 3), run_id="r1")])
        write_old_layout(old, [page(make_assets([1], [BASE_MS + 5]), run_id="r2")])
        con = old.connection
        # asset 2 seen again: its current row was refreshed (a new signed url), not its version
        con.execute(
            "UPDATE assets SET url = 'https://new',"
            " last_synced_at = now() + INTERVAL '1 second' WHERE id = 'asset_2'"
        )
        con.execute("UPDATE assets SET deleted_at = now() WHERE id = 'asset_3'")
        current = con.execute(_CURRENT).fetchall()
        stamps = con.execute(_STAMPS).fetchall()
        superseded = con.execute(_FIRST_OF_ASSET_1).fetchall()
    with open_warehouse(db_path) as wh:
        con = wh.connection
        assert con.execute(_CURRENT).fetchall() == current
        assert con.execute(_STAMPS).fetchall() == stamps
        assert con.execute(_FIRST_OF_ASSET_1).fetchall() == superseded
        url = con.execute("SELECT url, run_id FROM asset_versions WHERE id = 'asset_2'").fetchall()
        assert url == [("https://new", "r1")]
        flags = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE is_current) FROM asset_rows"
        ).fetchone()
        assert flags == (4, 3)
        assert con.execute("SELECT count(*) FROM asset_history").fetchone() == (4,)
        # and the writer goes on from there: a newer version of asset 2 supersedes that row
        result = wh.write([page(make_assets([2], [BASE_MS + 9]), run_id="r3")])
        assert result.updated == 1
        rows = con.execute(
            "SELECT epoch_ms(updated_at) - ?, url = 'https://new', run_id, is_current"
            " FROM asset_rows WHERE id = 'asset_2' ORDER BY updated_at",
            [BASE_MS],
        ).fetchall()
        assert rows == [(1, True, "r1", False), (9, False, "r3", True)]


_CURRENT = "SELECT * FROM assets ORDER BY id"
_STAMPS = "SELECT id, updated_at, run_id, synced_at FROM asset_versions ORDER BY id, updated_at"
_FIRST_OF_ASSET_1 = (
    f"SELECT * FROM asset_versions WHERE id = 'asset_1' AND epoch_ms(updated_at) = {BASE_MS + 1}"
)
