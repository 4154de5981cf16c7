"""The warehouse's asset columns, derived from `assets_sync.schema.ASSET_SCHEMA`.

Migrations are frozen SQL (a migration must mean the same thing forever), so the column list
is written out in them; this module states what that list MUST be, derived from the Arrow
schema, and `check_asset_tables` compares the live tables with it every time a warehouse is
opened. A column added to `ASSET_SCHEMA` without a migration therefore fails loudly at open
instead of silently drifting.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import pyarrow as pa

from assets_sync.schema import ASSET_SCHEMA
from warehouse.errors import WarehouseError

#: Columns of ASSET_SCHEMA, in order: the part shared by `assets` and `asset_versions`.
ASSET_COLUMNS: tuple[str, ...] = tuple(ASSET_SCHEMA.names)

#: Bookkeeping the warehouse adds after the asset columns.
ASSETS_EXTRA: tuple[tuple[str, str], ...] = (
    ("deleted_at", "TIMESTAMP WITH TIME ZONE"),
    ("first_synced_at", "TIMESTAMP WITH TIME ZONE"),
    ("last_synced_at", "TIMESTAMP WITH TIME ZONE"),
)
VERSIONS_EXTRA: tuple[tuple[str, str], ...] = (
    ("run_id", "VARCHAR"),
    ("synced_at", "TIMESTAMP WITH TIME ZONE"),
)
#: The table behind the `assets` and `asset_versions` views: one row per version stored, the
#: current one of each id flagged `is_current` (migration 0006). Written only by
#: `warehouse.upsert`, `warehouse.reconcile` and `warehouse.compaction`.
ROWS = "asset_rows"
#: Its columns after the asset columns: both views' extras and the flag.
ROWS_EXTRA: tuple[tuple[str, str], ...] = (
    *ASSETS_EXTRA,
    *VERSIONS_EXTRA,
    ("is_current", "BOOLEAN"),
)


def duckdb_type(arrow_type: pa.DataType) -> str:
    """The DuckDB type name (as `information_schema.columns` spells it) of an Arrow type."""
    if isinstance(arrow_type, pa.JsonType):
        return "JSON"
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "VARCHAR"
    if pa.types.is_int32(arrow_type):
        return "INTEGER"
    if pa.types.is_int64(arrow_type):
        return "BIGINT"
    if pa.types.is_float64(arrow_type):
        return "DOUBLE"
    if pa.types.is_boolean(arrow_type):
        return "BOOLEAN"
    if pa.types.is_timestamp(arrow_type):
        return "TIMESTAMP WITH TIME ZONE" if arrow_type.tz else "TIMESTAMP"
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return duckdb_type(arrow_type.value_type) + "[]"
    raise WarehouseError(f"no warehouse type for Arrow type {arrow_type}; add one in columns.py")


def asset_column_types() -> tuple[tuple[str, str], ...]:
    """(name, DuckDB type) of every ASSET_SCHEMA column, in schema order."""
    return tuple((f.name, duckdb_type(f.type)) for f in ASSET_SCHEMA)


def expected_columns(table: str) -> tuple[tuple[str, str], ...]:
    """The exact (name, type) list `assets`, `asset_versions` or `asset_rows` must have."""
    extra = {"assets": ASSETS_EXTRA, "asset_versions": VERSIONS_EXTRA, ROWS: ROWS_EXTRA}[table]
    return asset_column_types() + extra


def live_columns(con: duckdb.DuckDBPyConnection, table: str) -> tuple[tuple[str, str], ...]:
    rows = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns"
        " WHERE table_catalog = current_database() AND table_schema = 'main'"
        " AND table_name = ? ORDER BY ordinal_position",
        [table],
    ).fetchall()
    return tuple((str(name), str(dtype)) for name, dtype in rows)


def check_asset_tables(
    con: duckdb.DuckDBPyConnection,
    tables: Sequence[str] = (ROWS, "assets", "asset_versions"),
) -> None:
    """Raise WarehouseError if a table's columns differ from what ASSET_SCHEMA implies."""
    for table in tables:
        want, have = expected_columns(table), live_columns(con, table)
        if want != have:
            missing = [c for c in want if c not in have]
            unexpected = [c for c in have if c not in want]
            raise WarehouseError(
                f"table {table} does not match assets_sync.schema.ASSET_SCHEMA: "
                f"missing {missing}, unexpected {unexpected}. A schema change needs a migration "
                "in warehouse/migrations/."
            )


def select_list(prefix: str = "") -> str:
    """`a.id, a.project_id, ...`: the asset columns for SQL built from constants only."""
    return ", ".join(prefix + c for c in ASSET_COLUMNS)
