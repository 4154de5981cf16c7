"""Migrations: applied in order on open, recorded, upgrading older warehouses; the asset
tables match ASSET_SCHEMA exactly; bad paths fail with messages a person can act on."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from assets_sync.schema import ASSET_SCHEMA
from tests.warehouse.conftest import STREAM, page
from tests.warehouse.factory import BASE_MS, make_assets
from warehouse import DuckDBSink, WarehouseError, open_warehouse
from warehouse.columns import expected_columns, live_columns
from warehouse.migrate import available_migrations

VIEWS = {"live_assets", "asset_history", "asset_ancestry", "asset_descendants", "daily_activity"}
TABLES = {
    "assets", "asset_versions", "asset_lineage", "rejected_assets",
    "sync_state", "sync_slices", "sync_runs", "schema_migrations",
}  # fmt: skip


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
    for table in ("assets", "asset_versions"):
        have = live_columns(wh.connection, table)
        assert have == expected_columns(table)
        assert [name for name, _ in have][: len(ASSET_SCHEMA)] == ASSET_SCHEMA.names
    types = dict(live_columns(wh.connection, "assets"))
    assert types["raw"] == "JSON" and types["tags"] == "VARCHAR[]"
    assert types["updated_at"] == types["deleted_at"] == "TIMESTAMP WITH TIME ZONE"


def test_an_older_warehouse_upgrades_and_keeps_its_data(db_path: str) -> None:
    with DuckDBSink(db_path, migrate_to=1) as old:
        assert objects(old.connection, "VIEW") == set()
        old.write([page(make_assets([1, 2], [BASE_MS + 1, BASE_MS + 2]))])
    with open_warehouse(db_path) as wh:
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
    con.execute("ALTER TABLE assets DROP COLUMN url")
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
        old.write([page(make_assets([1, 2], [BASE_MS + 1, BASE_MS + 2]))])
        old.write([page(make_assets([1], [BASE_MS + 5]))])
    with open_warehouse(db_path) as wh:
        con = wh.connection
        assert con.execute("SELECT count(*) FROM asset_history").fetchone() == (3,)
        wh.write([page(make_assets(list(range(3, 40)), [BASE_MS + 9] * 37))])
    with open_warehouse(db_path) as wh:
        con = wh.connection
        assert con.execute("SELECT count(*) FROM live_assets").fetchone() == (39,)
        assert con.execute("SELECT count(*) FROM asset_versions").fetchone() == (40,)
        for table in ("assets", "asset_versions"):
            sql = con.execute(
                "SELECT sql FROM duckdb_tables() WHERE table_name = ?", [table]
            ).fetchone()
            assert sql is not None and "USING COMPRESSION ZSTD" in sql[0].upper()
            assert raw_compression(con, table) == {"ZSTD"}
        assert live_columns(con, "assets") == expected_columns("assets")
