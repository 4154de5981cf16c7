"""Per-stream status for `assets-sync status`: plain values, no formatting.

Counts are scoped to the stream with the same predicate reconciliation uses; a stream whose
filters have no exact SQL equivalent is counted over its project (`scope == "project"`).
Read-only: works on a connection opened with `open_warehouse(path, read_only=True)`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import duckdb

from assets_sync.sink import StreamKey
from warehouse.errors import WarehouseError
from warehouse.ledger import COUNT_COLUMNS
from warehouse.scope import stream_predicate


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    mode: str
    outcome: str
    started_at: datetime
    finished_at: datetime | None
    error: str | None
    counts: dict[str, int]


@dataclass(frozen=True)
class StreamStatus:
    stream_id: str
    project_id: str | None
    filters: tuple[tuple[str, str], ...]
    watermark: datetime | None
    lag: timedelta | None  # now - watermark: how stale the copy may be
    assets_total: int
    assets_live: int
    assets_deleted: int
    versions: int
    rejects: int
    open_slices: int
    scope: str  # "stream" (exact) or "project" (filters not expressible, counted per project)
    last_runs: tuple[RunSummary, ...]


def warehouse_status(
    con: duckdb.DuckDBPyConnection, last_runs: int = 5, now: datetime | None = None
) -> list[StreamStatus]:
    """One `StreamStatus` per stream known to the warehouse, by stream id."""
    now = now or datetime.now(UTC)
    streams = con.execute(
        "SELECT stream_id, project_id, filters, watermark FROM sync_state ORDER BY stream_id"
    ).fetchall()
    return [
        _stream_status(con, str(sid), pid, str(filters), wm, last_runs, now)
        for sid, pid, filters, wm in streams
    ]


def _stream_status(
    con: duckdb.DuckDBPyConnection,
    stream_id: str,
    project_id: str | None,
    filters_json: str,
    watermark: datetime | None,
    last_runs: int,
    now: datetime,
) -> StreamStatus:
    filters = tuple((str(k), str(v)) for k, v in json.loads(filters_json))
    key = StreamKey(project_id, filters)
    try:
        where, params = stream_predicate(key)
        scope = "stream"
    except WarehouseError:
        where, params = stream_predicate(StreamKey(project_id))
        scope = "project"
    counts = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE deleted_at IS NULL),"  # noqa: S608
        f" count(*) FILTER (WHERE deleted_at IS NOT NULL) FROM assets WHERE {where}",
        params,
    ).fetchone()
    versions = con.execute(
        f"SELECT count(*) FROM asset_versions WHERE {where}",  # noqa: S608
        params,
    ).fetchone()
    rejects = con.execute(
        "SELECT count(*) FROM rejected_assets WHERE stream_id = ?", [stream_id]
    ).fetchone()
    slices = con.execute(
        "SELECT count(*) FROM sync_slices WHERE stream_id = ?", [stream_id]
    ).fetchone()
    total, live, deleted = counts if counts else (0, 0, 0)
    return StreamStatus(
        stream_id=stream_id,
        project_id=project_id,
        filters=filters,
        watermark=watermark,
        lag=(now - watermark) if watermark else None,
        assets_total=int(total),
        assets_live=int(live),
        assets_deleted=int(deleted),
        versions=int(versions[0]) if versions else 0,
        rejects=int(rejects[0]) if rejects else 0,
        open_slices=int(slices[0]) if slices else 0,
        scope=scope,
        last_runs=_last_runs(con, stream_id, last_runs),
    )


def _last_runs(con: duckdb.DuckDBPyConnection, stream_id: str, n: int) -> tuple[RunSummary, ...]:
    cols = ", ".join(COUNT_COLUMNS)
    rows = con.execute(
        f"SELECT run_id, mode, outcome, started_at, finished_at, error, {cols}"  # noqa: S608
        " FROM sync_runs WHERE stream_id = ? ORDER BY started_at DESC LIMIT ?",
        [stream_id, n],
    ).fetchall()
    return tuple(
        RunSummary(
            run_id=str(r[0]),
            mode=str(r[1]),
            outcome=str(r[2]),
            started_at=r[3],
            finished_at=r[4],
            error=r[5],
            counts={c: int(v) for c, v in zip(COUNT_COLUMNS, r[6:], strict=True)},
        )
        for r in rows
    )
