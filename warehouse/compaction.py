"""Reclaiming the rows of `asset_rows` that writes replaced (`DuckDBSink.compact`, `close`).

Writes replace a current row seen again (the same version) by delete + append, and the
checkpoints that follow writes skip vacuum (see `warehouse.connection.connect`). DuckDB's
vacuum would only merge row groups changed since the last checkpoint anyway, so the deletes of
earlier runs stayed for good: 39,376 dead rows of 1,039,376 after four incrementals of a 1M
warehouse (when every update replaced its row, before migration 0006), and `CHECKPOINT` with
vacuum reclaimed none (benchmarks/RESULTS.md). `compact` rewrites the live rows in one
transaction (append a copy, delete the originals) and checkpoints, which drops the old row
groups whole; the last one, which the copy fills up, keeps its dead rows (fewer than one row
group). 1M rows: 26 s and 296 MB of RSS, 39,376 dead rows -> 0, measured. The file keeps the
freed blocks and reuses them for later writes (it grew from 975 to 1,556 MB there), and a
crash during it changes nothing (one transaction).
"""

# SQL below is composed from this module's constants and `columns.ROWS` only (S608).
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Callable

import duckdb

from warehouse.columns import ROWS
from warehouse.connection import NO_VACUUM, VACUUM, transaction

#: A sink's `close()` compacts `assets` when dead rows are at least this share of its stored
#: rows (about ten nights of 1 % changes), and at least COMPACT_MIN_DEAD_ROWS.
COMPACT_DEAD_SHARE = 0.1
COMPACT_MIN_DEAD_ROWS = 10_000
# The rewrite: rowids up to the last one before it are the originals.
COPY_LIVE = f"INSERT INTO {ROWS} SELECT * FROM {ROWS} WHERE rowid <= ?"
DELETE_OLD = f"DELETE FROM {ROWS} WHERE rowid <= ?"

_SIZES = (
    "SELECT (SELECT estimated_size FROM duckdb_tables() WHERE database_name ="
    f" current_database() AND schema_name = 'main' AND table_name = '{ROWS}'),"
    f" (SELECT count(*) FROM {ROWS})"
)


def dead_rows(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """(dead, stored) rows of `assets`: replaced rows not reclaimed yet, and all rows stored,
    dead included (DuckDB's `estimated_size` counts deleted rows until their row group is
    rewritten). Read from the table, so it adds up over runs."""
    row = con.execute(_SIZES).fetchone()
    stored, live = (int(row[0] or 0), int(row[1])) if row else (0, 0)
    return max(0, stored - live), stored


def due(dead: int, stored: int) -> bool:
    """Whether `close()` compacts: enough dead rows, absolutely and as a share."""
    return dead >= COMPACT_MIN_DEAD_ROWS and dead >= stored * COMPACT_DEAD_SHARE


def compact(con: duckdb.DuckDBPyConnection, checkpoint: Callable[[], None]) -> int:
    """Rewrite the live rows of `assets`, then `checkpoint()` (the caller's: a sink tracks
    what its checkpoints free) with vacuum on; returns how many rows were dead (0: nothing
    rewritten)."""
    dead, _ = dead_rows(con)
    if not dead:
        return 0
    con.execute(f"SET max_vacuum_tasks = {VACUUM}")
    try:
        with transaction(con):
            row = con.execute(f"SELECT max(rowid) FROM {ROWS}").fetchone()
            last = row[0] if row else None
            if last is not None:
                con.execute(COPY_LIVE, [last])
                con.execute(DELETE_OLD, [last])
        checkpoint()
    finally:
        con.execute(f"SET max_vacuum_tasks = {NO_VACUUM}")
    return dead
