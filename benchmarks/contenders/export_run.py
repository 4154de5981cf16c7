"""Contender for `bench_export.py`: one Parquet export of a warehouse, in its own process.

    python benchmarks/contenders/export_run.py --warehouse W --dest D --how assets-sync|duckdb-copy

- `assets-sync`: `warehouse.export.export_parquet(W, D)` (DuckDB scans; rows are sorted per
  partition outside it, in bounded buckets), with the CLI's allocator settings.
- `duckdb-copy`: what one would write with DuckDB alone, the way the export worked before:
  `COPY (SELECT *, <partition> FROM t ORDER BY <partition>, <keys>) TO D/t (FORMAT parquet,
  PARTITION_BY (<partition>), COMPRESSION zstd)` for the same three tables, same partitions
  and order, under DuckDB's default memory limit (it cannot sort `raw` within a small one).

Prints one JSON line: work_s (the export alone) and rows per table.
"""

from __future__ import annotations

import argparse
import json
import os
import time

from assets_sync.memory import keep_pandas_out_of_pyarrow, prefer_system_allocator

COPIES = {
    "assets": ("created_month", "strftime(timezone('UTC', created_at), '%Y-%m')", "created_at, id"),
    "asset_versions": (
        "updated_month",
        "strftime(timezone('UTC', updated_at), '%Y-%m')",
        "updated_at, id",
    ),
    "asset_lineage": ("relation", "relation", "asset_id, related_id"),
}


def duckdb_copy(warehouse: str, dest: str) -> dict[str, int]:
    import duckdb

    con = duckdb.connect(warehouse, read_only=True)
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    rows: dict[str, int] = {}
    os.makedirs(dest, exist_ok=True)
    for table, (part, expr, keys) in COPIES.items():
        select = f"SELECT *, coalesce({expr}, 'unknown') AS {part} FROM {table}"
        if table == "asset_lineage":
            select = f"SELECT asset_id, related_id, relation FROM {table}"
        con.execute(
            f"COPY ({select} ORDER BY {part}, {keys}) TO '{dest}/{table}' "
            f"(FORMAT parquet, PARTITION_BY ({part}), COMPRESSION zstd, OVERWRITE_OR_IGNORE)"
        )
        count = con.execute(f"SELECT count(*) FROM {table}").fetchone()
        rows[table] = int(count[0]) if count else 0
    con.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--warehouse", required=True)
    parser.add_argument("--dest", required=True)
    parser.add_argument("--how", choices=("assets-sync", "duckdb-copy"), required=True)
    args = parser.parse_args()
    prefer_system_allocator()
    keep_pandas_out_of_pyarrow()
    t0 = time.perf_counter()
    if args.how == "assets-sync":
        from warehouse.export import export_parquet

        rows = export_parquet(args.warehouse, args.dest).rows
    else:
        rows = duckdb_copy(args.warehouse, args.dest)
    print(json.dumps({"how": args.how, "work_s": round(time.perf_counter() - t0, 3), "rows": rows}))


if __name__ == "__main__":
    main()
