"""Data-quality checks over the warehouse, as plain queries with plain results.

Dagster's asset checks (`pipelines.checks`) call these through `evaluate`; so can anyone with a
connection. Each returns a `CheckOutcome`: whether the property holds and the figures behind the
verdict. The queries over every asset are aggregates, never joins: DuckDB spills an aggregate's
hash table to disk, so they run under a small `memory_limit` whatever the warehouse's size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb

from warehouse.connection import memory_limit_for, quality_memory_limit


@dataclass(frozen=True)
class CheckOutcome:
    passed: bool
    details: dict[str, Any] = field(default_factory=dict)


def evaluate(
    con: duckdb.DuckDBPyConnection, check: Callable[..., CheckOutcome], *args: Any
) -> CheckOutcome:
    """`check(con, *args)` under the checks' `memory_limit` (`quality_memory_limit`), then the
    connection's own limit again.

    The checks run in the sync's process right after it, so what they hold adds to its peak. A
    check that still runs out of memory there is evaluated again under the connection's limit
    rather than failing the run.
    """
    try:
        with memory_limit_for(con, quality_memory_limit()):
            return check(con, *args)
    except duckdb.OutOfMemoryException:
        return check(con, *args)


def _scalar(con: duckdb.DuckDBPyConnection, sql: str, *params: Any) -> Any:
    row = con.execute(sql, list(params)).fetchone()
    return None if row is None else row[0]


def unique_ids(con: duckdb.DuckDBPyConnection) -> CheckOutcome:
    """One current row per id, one history row per (id, updated_at)."""
    dup_ids = int(_scalar(con, "SELECT count(*) - count(DISTINCT id) FROM assets"))
    dup_versions = int(
        _scalar(
            con,
            "SELECT count(*) FROM (SELECT id, updated_at FROM asset_versions "
            "GROUP BY id, updated_at HAVING count(*) > 1)",
        )
    )
    rows = int(_scalar(con, "SELECT count(*) FROM assets"))
    return CheckOutcome(
        dup_ids == 0 and dup_versions == 0,
        {"assets": rows, "duplicate_ids": dup_ids, "duplicate_versions": dup_versions},
    )


def monotonic_watermarks(con: duckdb.DuckDBPyConnection) -> CheckOutcome:
    """No successful run of a stream ever moved its watermark backwards."""
    regressions = con.execute(
        """
        SELECT stream_id, run_id, watermark_after, previous
        FROM (
            SELECT stream_id, run_id, watermark_after,
                   max(watermark_after) OVER (
                       PARTITION BY stream_id ORDER BY started_at
                       ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
                   ) AS previous
            FROM sync_runs
            WHERE outcome = 'success' AND watermark_after IS NOT NULL
        )
        WHERE watermark_after < previous
        """
    ).fetchall()
    behind = int(
        _scalar(
            con,
            """
            SELECT count(*) FROM sync_state s
            WHERE s.watermark < (SELECT max(r.watermark_after) FROM sync_runs r
                                 WHERE r.stream_id = s.stream_id AND r.outcome = 'success')
            """,
        )
    )
    streams = int(_scalar(con, "SELECT count(*) FROM sync_state"))
    return CheckOutcome(
        not regressions and behind == 0,
        {
            "streams": streams,
            "regressions": len(regressions),
            "state_behind_runs": behind,
            "first_regression": str(regressions[0][1]) if regressions else "",
        },
    )


def lineage_resolvable(con: duckdb.DuckDBPyConnection) -> CheckOutcome:
    """Every parent/root edge points at an asset we hold.

    A parent may legitimately live outside the synced scope (another project), so callers
    treat a failure as a warning; the count says how many edges dangle.

    One aggregate over the ids of `assets` and the edges' targets, grouped by id, rather than
    an anti-join: the join's hash table of every id (~70 MB at 1M assets) does not spill, and
    ran out of memory under 48MB; the aggregate spills.
    """
    row = con.execute(
        """
        SELECT coalesce(sum(edges) FILTER (WHERE NOT held), 0), coalesce(sum(edges), 0)
        FROM (
            SELECT bool_or(is_asset) AS held, count(*) FILTER (WHERE NOT is_asset) AS edges
            FROM (
                SELECT id, true AS is_asset FROM assets
                UNION ALL
                SELECT related_id, false FROM asset_lineage WHERE relation IN ('parent', 'root')
            )
            GROUP BY id
        )
        """
    ).fetchone()
    dangling, edges = (int(row[0]), int(row[1])) if row else (0, 0)
    return CheckOutcome(dangling == 0, {"edges": edges, "dangling": dangling})


def freshness(
    con: duckdb.DuckDBPyConnection, max_lag: timedelta, now: datetime | None = None
) -> CheckOutcome:
    """Every stream's watermark is at most `max_lag` behind now."""
    now = now or datetime.now(tz=UTC)
    rows = con.execute("SELECT stream_id, watermark FROM sync_state ORDER BY stream_id").fetchall()
    stale = [stream for stream, watermark in rows if watermark is None or now - watermark > max_lag]
    lags = [(now - w).total_seconds() for _, w in rows if w is not None]
    return CheckOutcome(
        bool(rows) and not stale,
        {
            "streams": len(rows),
            "stale_streams": ", ".join(stale),
            "max_lag_hours": round(max(lags) / 3600, 2) if lags else -1.0,
            "allowed_lag_hours": round(max_lag.total_seconds() / 3600, 2),
        },
    )


def rejected_records(con: duckdb.DuckDBPyConnection) -> CheckOutcome:
    """The latest sync run of each stream rejected no record."""
    row = con.execute(
        """
        SELECT coalesce(sum(rejected), 0), count(*) FROM (
            SELECT rejected,
                   row_number() OVER (PARTITION BY stream_id ORDER BY started_at DESC) AS n
            FROM sync_runs WHERE mode IN ('sync', 'backfill')
        ) WHERE n = 1
        """
    ).fetchone()
    last_rejected = int(row[0]) if row else 0
    total = int(_scalar(con, "SELECT count(*) FROM rejected_assets"))
    return CheckOutcome(
        last_rejected == 0, {"last_run_rejected": last_rejected, "total_rejected": total}
    )
