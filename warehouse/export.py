"""Parquet snapshots of the warehouse for dashboards, swapped in atomically.

Layout under `dest` (a local folder or `s3://bucket/prefix`):

    snapshots/<id>/assets/snapshot=<id>/created_month=YYYY-MM/part-<id>-<n>.parquet
    snapshots/<id>/asset_versions/snapshot=<id>/updated_month=YYYY-MM/part-<id>-<n>.parquet
    snapshots/<id>/asset_lineage/snapshot=<id>/relation=<r>/part-<id>-<n>.parquet
    snapshots/<id>/_manifest.json      tables, row counts and files of the snapshot
    _CURRENT.json                      the manifest of the current snapshot (written LAST)
    assets, asset_versions, asset_lineage   local only: symlinks into the current snapshot

Files are sorted by created_at / updated_at / asset_id. Months are UTC; `unknown` holds rows
without a date. Hive partitions let a reader filtering on `created_month`/`updated_month` skip
whole files, and sorted files with row-group statistics let a filter on `created_at`/`updated_at`
skip row groups. `snapshot` (a hive column too: which export a row was read from) keeps the
convenient reads through the local links whole (`warehouse.snapshots`).

Publication (`warehouse.snapshots`): a snapshot is written whole, then made current in one
atomic step; readers see one whole export. How to read strictly or through the local links,
and when old snapshots are collected: that module's docstring.

Memory does not grow with the warehouse. DuckDB only scans each table (unordered Arrow
batches); the rows wait on local disk by partition (`warehouse.partition_sort`, Arrow files
in a temporary folder) and come back sorted one partition at a time, a partition larger
than `max_bucket_bytes` in ordered buckets of its sort key, into one open Parquet writer at a
time. (DuckDB's own sort of `raw` cannot stay within a memory limit: it took 3.9 GB of RSS for
1M assets.) The three tables are read in ONE DuckDB transaction, so they are consistent.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from warehouse.connection import export_memory_limit, memory_limit_for
from warehouse.errors import WarehouseError
from warehouse.partition_sort import DEFAULT_MAX_BUCKET_BYTES, PartitionSorter, SpillError
from warehouse.sink import DuckDBSink, open_warehouse
from warehouse.snapshots import (
    MANIFEST,
    SNAPSHOT_KEY,
    SNAPSHOTS,
    Destination,
    collect_garbage,
    new_snapshot_id,
    publish,
    put,
    resolve_destination,
)
from warehouse.snapshots import current_snapshot as current_snapshot  # re-exported
from warehouse.snapshots import read_current as read_current  # re-exported

#: Where the export's rows wait to be sorted (else `TMPDIR`, else the system's default).
SPILL_DIR_ENV = "ASSETS_SYNC_EXPORT_SPILL_DIR"
#: Rows per batch of the DuckDB scan (about 14 MB of assets with `raw`); files get `batch_rows`.
_SCAN_ROWS = 8192


@dataclass(frozen=True)
class _Table:
    name: str
    partition: str  # hive partition column (not stored in the files)
    query: str  # selects the columns and `_part`, in no particular order
    sort_keys: tuple[str, ...]  # the order of rows within a partition


TABLES: tuple[_Table, ...] = (
    _Table(
        "assets",
        "created_month",
        "SELECT *, coalesce(strftime(timezone('UTC', created_at), '%Y-%m'), 'unknown') AS _part"
        " FROM assets",
        ("created_at", "id"),
    ),
    _Table(
        "asset_versions",
        "updated_month",
        "SELECT *, coalesce(strftime(timezone('UTC', updated_at), '%Y-%m'), 'unknown') AS _part"
        " FROM asset_versions",
        ("updated_at", "id"),
    ),
    _Table(
        "asset_lineage",
        "relation",
        "SELECT asset_id, related_id, relation AS _part FROM asset_lineage",
        ("asset_id", "related_id"),
    ),
)


@dataclass(frozen=True)
class ExportResult:
    destination: str
    snapshot: str  # snapshot id
    snapshot_path: str  # where the snapshot lives (path or s3:// URI)
    rows: dict[str, int]
    files: dict[str, list[str]] = field(default_factory=dict)  # relative to the snapshot
    removed_snapshots: tuple[str, ...] = ()


def export_parquet(
    source: duckdb.DuckDBPyConnection | DuckDBSink | str | os.PathLike[str],
    dest: str,
    *,
    grace: timedelta = timedelta(hours=1),
    filesystem: pafs.FileSystem | None = None,
    s3_endpoint: str | None = None,
    s3_region: str | None = None,
    batch_rows: int = 65_536,
    max_rows_per_file: int = 1_000_000,
    now: datetime | None = None,
    spill_dir: str | None = None,
    max_bucket_bytes: int = DEFAULT_MAX_BUCKET_BYTES,
) -> ExportResult:
    """Write a new snapshot of assets, asset_versions and asset_lineage, then publish it.

    `source`: a connection (e.g. `open_warehouse(p, read_only=True).connection`), a sink, or
    a warehouse path (opened read-only for the export). `spill_dir`: where the rows wait to be
    sorted (a temporary folder under it; default `$ASSETS_SYNC_EXPORT_SPILL_DIR`, else the
    system's temporary directory, `TMPDIR`), which needs about the Arrow size of the largest
    table: 1.7 GB per million assets. If it fills up, the export fails (`WarehouseError`) and
    the current snapshot stays as it was.
    `max_bucket_bytes`: the most bytes of rows sorted in memory at once (`partition_sort`).
    """
    target = resolve_destination(dest, filesystem, s3_endpoint, s3_region)
    spill_dir = spill_dir or os.environ.get(SPILL_DIR_ENV, "").strip() or None
    if spill_dir is not None and not os.path.isdir(spill_dir):
        raise WarehouseError(
            f"the export's spill folder {spill_dir} is not a directory: create it, or point "
            f"{SPILL_DIR_ENV} (or TMPDIR) at a folder with room for the largest table"
        )
    if isinstance(source, (str, os.PathLike)):
        with open_warehouse(source, read_only=True) as wh:
            return export_parquet(
                wh.connection, dest, grace=grace, filesystem=target.fs, batch_rows=batch_rows,
                max_rows_per_file=max_rows_per_file, now=now, spill_dir=spill_dir,
                max_bucket_bytes=max_bucket_bytes,
            )  # fmt: skip
    con = source.connection if isinstance(source, DuckDBSink) else source
    now = now or datetime.now(UTC)
    snap = new_snapshot_id(now)
    snap_rel = f"{SNAPSHOTS}/{snap}"
    target.fs.create_dir(target.path(snap_rel), recursive=True)

    def write(limit: str | None) -> tuple[dict[str, int], dict[str, list[str]]]:
        return _write_snapshot(
            con, limit, target, snap_rel, snap, spill_dir, batch_rows, max_rows_per_file,
            max_bucket_bytes,
        )  # fmt: skip

    try:
        rows, files = write(export_memory_limit())
    except (duckdb.OutOfMemoryException, OSError) as exc:
        if not _out_of_memory(exc):
            raise
        # Under the export's small limit; once more under the connection's own, from scratch.
        target.fs.delete_dir_contents(target.path(snap_rel), missing_dir_ok=True)
        rows, files = write(None)
    manifest = {
        "snapshot": snap,
        "path": snap_rel,
        "created_at": now.isoformat(),
        "rows": rows,
        "files": files,
        "partitioning": {t.name: [SNAPSHOT_KEY, t.partition] for t in TABLES},
    }
    body = json.dumps(manifest, indent=2, sort_keys=True).encode()
    put(target, f"{snap_rel}/{MANIFEST}", body)
    publish(target, snap_rel, body, [t.name for t in TABLES])
    removed = collect_garbage(target, grace, now)
    return ExportResult(
        destination=target.uri,
        snapshot=snap,
        snapshot_path=target.display(snap_rel),
        rows=rows,
        files=files,
        removed_snapshots=removed,
    )


def _out_of_memory(exc: BaseException) -> bool:
    """DuckDB ran out of its `memory_limit` (read through an Arrow reader, that arrives as an
    `OSError` carrying DuckDB's message)."""
    return isinstance(exc, duckdb.OutOfMemoryException) or str(exc).startswith(
        "Out of Memory Error"
    )


def _write_snapshot(
    con: duckdb.DuckDBPyConnection,
    limit: str | None,
    target: Destination,
    snap_rel: str,
    snap: str,
    spill_dir: str | None,
    batch_rows: int,
    max_rows_per_file: int,
    max_bucket_bytes: int,
) -> tuple[dict[str, int], dict[str, list[str]]]:
    """Every table's files into the snapshot folder, under `limit` (None: the connection's)."""
    rows: dict[str, int] = {}
    files: dict[str, list[str]] = {}
    with (
        memory_limit_for(con, limit) if limit else contextlib.nullcontext(),
        tempfile.TemporaryDirectory(prefix="assets-sync-export-", dir=spill_dir) as work,
    ):
        con.execute("BEGIN TRANSACTION")  # one consistent view of the three tables
        try:
            for table in TABLES:
                sorter = PartitionSorter(
                    work, _schema_of(con, table), table.sort_keys, max_bucket_bytes, batch_rows
                )
                with sorter:
                    rows[table.name], files[table.name] = _write_table(
                        con, table, sorter, target, snap_rel, snap, batch_rows, max_rows_per_file
                    )
        except SpillError as exc:
            raise WarehouseError(
                f"Parquet export failed, the current snapshot is unchanged: {exc}. The export "
                f"needs about the Arrow size of the largest table there (1.7 GB per million "
                f"assets): set {SPILL_DIR_ENV} (or TMPDIR) to a folder with room"
            ) from exc
        finally:
            con.execute("ROLLBACK")  # read-only work: nothing to commit
    return rows, files


def _schema_of(con: duckdb.DuckDBPyConnection, table: _Table) -> pa.Schema:
    schema: pa.Schema = con.sql(table.query).limit(0).to_arrow_table().schema
    return schema.remove(schema.get_field_index("_part"))


def _write_table(
    con: duckdb.DuckDBPyConnection,
    table: _Table,
    sorter: PartitionSorter,
    target: Destination,
    snap_rel: str,
    snap: str,
    batch_rows: int,
    max_rows_per_file: int,
) -> tuple[int, list[str]]:
    """Stream one table into hive-partitioned files, sorted within each partition.

    DuckDB only scans (no ORDER BY: its sort of `raw` cannot stay within a memory limit); the
    rows wait in `sorter`'s files by partition, then come back sorted, one partition and at
    most one bucket in memory at a time, and one Parquet writer open.
    """
    reader: pa.RecordBatchReader = con.sql(table.query).to_arrow_reader(_SCAN_ROWS)
    try:
        for part, batch in _split_by_partition(reader):
            sorter.add(part, batch)
    finally:
        reader.close()  # an undrained result would block the connection
    schema = sorter.schema
    files: list[str] = []
    total = 0
    writer: pq.ParquetWriter | None = None
    try:
        for part, batches in sorter.partitions():
            in_file = 0
            for batch in batches:
                if writer is None or in_file >= max_rows_per_file:
                    if writer is not None:
                        writer.close()
                    folder = f"{table.name}/{SNAPSHOT_KEY}={snap}/{table.partition}={part}"
                    rel = f"{folder}/part-{snap}-{len(files)}.parquet"
                    target.fs.create_dir(target.path(snap_rel, folder), recursive=True)
                    writer = pq.ParquetWriter(
                        target.path(snap_rel, rel), schema, filesystem=target.fs,
                        compression="zstd", write_statistics=True,
                    )  # fmt: skip
                    files.append(rel)
                    in_file = 0
                writer.write_batch(batch, row_group_size=batch_rows)
                in_file += batch.num_rows
                total += batch.num_rows
            if writer is not None:
                writer.close()
                writer = None
        if not files:  # an empty table is still a readable dataset
            folder = f"{table.name}/{SNAPSHOT_KEY}={snap}/{table.partition}=unknown"
            rel = f"{folder}/part-{snap}-0.parquet"
            target.fs.create_dir(target.path(snap_rel, folder), recursive=True)
            pq.write_table(schema.empty_table(), target.path(snap_rel, rel), filesystem=target.fs)
            files.append(rel)
    finally:
        if writer is not None:
            writer.close()
    return total, files


def _split_by_partition(reader: pa.RecordBatchReader) -> Iterator[tuple[str, pa.RecordBatch]]:
    """(partition value, its rows without `_part`) for each partition of each batch.

    One take per batch groups its rows by partition, then each run is a zero-copy slice (a
    filter per partition cost one pass over every column per partition: 3x the time)."""
    for batch in reader:
        if batch.num_rows == 0:
            continue
        grouped = batch.take(pc.sort_indices(batch.column("_part")))
        runs = pc.run_end_encode(grouped.column("_part"))
        body = grouped.drop_columns(["_part"])
        start = 0
        for value, end in zip(runs.values.to_pylist(), runs.run_ends.to_pylist(), strict=True):
            yield str(value), body.slice(start, end - start)
            start = end
