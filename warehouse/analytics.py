"""Read-only analytics over the warehouse views (migration 0003), as plain frozen dataclasses.

These are the figures the HTML report draws (`pipelines.report`); they are also handy from a
notebook. Every function takes a DuckDB connection (a read-only one is enough), binds its
parameters, and works on an empty warehouse (empty lists, zero totals, None timestamps).
Day boundaries are UTC, like the views.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

import duckdb

#: Derivation categories of the view `asset_categories`, in funnel order.
CATEGORIES: tuple[str, ...] = ("upload", "generation", "edit", "other")

Bucket = Literal["day", "week", "month"]


@dataclass(frozen=True)
class Overview:
    assets: int
    live: int
    deleted: int
    versions: int
    trees: int  # lineage trees with at least one derived asset
    models: int
    authors: int
    rejects: int
    streams: int
    runs: int
    failed_runs: int
    first_created_at: datetime | None
    last_created_at: datetime | None
    last_success_at: datetime | None  # finished_at of the last successful run
    oldest_watermark: datetime | None  # the stalest stream's watermark


@dataclass(frozen=True)
class TypeCount:
    period: date  # first day of the bucket (a day, an ISO week's Monday, a month's 1st)
    type: str  # an asset type, or OTHER for types outside the top ones
    assets: int


@dataclass(frozen=True)
class CreationSeries:
    bucket: Bucket
    types: tuple[str, ...]  # stack order, largest first, OTHER last when present
    points: tuple[TypeCount, ...]


@dataclass(frozen=True)
class ModelCount:
    model_id: str
    outputs: int  # live assets made by the model
    authors: int
    last_output_at: datetime | None


@dataclass(frozen=True)
class DepthCount:
    depth: int
    assets: int


@dataclass(frozen=True)
class FunnelStage:
    category: str
    assets: int  # live assets of the category
    used: int  # of which at least one live asset was derived from


@dataclass(frozen=True)
class RunPoint:
    run_id: str
    stream_id: str
    mode: str
    outcome: str
    started_at: datetime
    duration_s: float | None
    lag_s: float | None
    fetched: int
    new: int
    updated: int
    rejected: int
    retries: int
    throttled: int
    deleted: int
    error: str | None


@dataclass(frozen=True)
class DayCount:
    day: date
    count: int


@dataclass(frozen=True)
class NamedCount:
    name: str
    count: int


OTHER = "other types"


def overview(con: duckdb.DuckDBPyConnection) -> Overview:
    """Totals for the report's header."""
    row = con.execute(
        """
        SELECT
            (SELECT count(*) FROM assets),
            (SELECT count(*) FROM live_assets),
            (SELECT count(*) FROM assets WHERE deleted_at IS NOT NULL),
            (SELECT count(*) FROM asset_versions),
            (SELECT count(*) FROM lineage_trees WHERE tree_size > 1),
            (SELECT count(DISTINCT model_id) FROM live_assets),
            (SELECT count(DISTINCT author_id) FROM live_assets),
            (SELECT count(*) FROM rejected_assets),
            (SELECT count(*) FROM sync_state),
            (SELECT count(*) FROM sync_runs),
            (SELECT count(*) FROM sync_runs WHERE outcome = 'failed'),
            (SELECT min(created_at) FROM live_assets),
            (SELECT max(created_at) FROM live_assets),
            (SELECT max(finished_at) FROM sync_runs WHERE outcome = 'success'),
            (SELECT min(watermark) FROM sync_state)
        """
    ).fetchone()
    assert row is not None
    assets, live, deleted, versions, trees, models, authors, rejects, streams, runs, failed = (
        int(v) for v in row[:11]
    )
    return Overview(
        assets=assets,
        live=live,
        deleted=deleted,
        versions=versions,
        trees=trees,
        models=models,
        authors=authors,
        rejects=rejects,
        streams=streams,
        runs=runs,
        failed_runs=failed,
        first_created_at=row[11],
        last_created_at=row[12],
        last_success_at=row[13],
        oldest_watermark=row[14],
    )


def creations_by_type(
    con: duckdb.DuckDBPyConnection, top_types: int = 8, max_points: int = 120
) -> CreationSeries:
    """Live assets created per period and type, the `top_types` largest types kept apart.

    The period is a day when the data spans at most `max_points` days, else an ISO week, else a
    month, so the chart stays readable over two years of history.
    """
    span = con.execute("SELECT min(day), max(day) FROM activity_daily WHERE created > 0").fetchone()
    if span is None or span[0] is None:
        return CreationSeries("day", (), ())
    days = (span[1] - span[0]).days + 1
    bucket: Bucket = "day" if days <= max_points else "week" if days <= 7 * max_points else "month"
    ranked = con.execute(
        "SELECT coalesce(type, '(none)') AS t, sum(created) AS n FROM activity_daily"
        " GROUP BY t HAVING n > 0 ORDER BY n DESC, t",
    ).fetchall()
    kept = [str(t) for t, _ in ranked[:top_types]]
    rows = con.execute(
        """
        SELECT CAST(date_trunc(?, day) AS DATE) AS period,
               CASE WHEN list_contains(?, coalesce(type, '(none)'))
                    THEN coalesce(type, '(none)') ELSE ? END AS t,
               sum(created)::BIGINT AS n
        FROM activity_daily
        WHERE created > 0
        GROUP BY ALL
        ORDER BY period, t
        """,
        [bucket, kept, OTHER],
    ).fetchall()
    types = tuple(kept) + ((OTHER,) if len(ranked) > top_types else ())
    points = tuple(TypeCount(p, str(t), int(n)) for p, t, n in rows)
    return CreationSeries(bucket, types, points)


def top_models(con: duckdb.DuckDBPyConnection, limit: int = 10) -> list[ModelCount]:
    """Models by live outputs (assets whose model_id is the model), largest first."""
    rows = con.execute(
        """
        SELECT model_id, count(*) AS n, count(DISTINCT author_id), max(created_at)
        FROM live_assets WHERE model_id IS NOT NULL
        GROUP BY model_id ORDER BY n DESC, model_id LIMIT ?
        """,
        [limit],
    ).fetchall()
    return [ModelCount(str(m), int(n), int(a), last) for m, n, a, last in rows]


def depth_distribution(con: duckdb.DuckDBPyConnection) -> list[DepthCount]:
    """Live assets per lineage depth (0 = roots), every depth from 0 to the deepest."""
    rows = con.execute(
        "SELECT depth, count(*) FROM lineage_depth WHERE is_live GROUP BY depth ORDER BY depth"
    ).fetchall()
    found = {int(d): int(n) for d, n in rows}
    if not found:
        return []
    return [DepthCount(d, found.get(d, 0)) for d in range(max(found) + 1)]


def derivation_funnel(con: duckdb.DuckDBPyConnection) -> list[FunnelStage]:
    """Live assets per derivation category, and how many of them were used as an input."""
    rows = con.execute(
        """
        SELECT c.category, count(*), count(*) FILTER (WHERE EXISTS (
            SELECT 1 FROM assets AS k WHERE k.parent_id = c.id AND k.deleted_at IS NULL))
        FROM asset_categories AS c WHERE c.is_live
        GROUP BY c.category
        """
    ).fetchall()
    found = {str(c): (int(n), int(u)) for c, n, u in rows}
    return [FunnelStage(c, *found.get(c, (0, 0))) for c in CATEGORIES]


def recent_runs(con: duckdb.DuckDBPyConnection, limit: int = 60) -> list[RunPoint]:
    """The last `limit` runs, oldest first (the order a chart reads them)."""
    rows = con.execute(
        """
        SELECT * FROM (
            SELECT run_id, stream_id, mode, outcome, started_at, duration_s, lag_s, fetched,
                   new, updated, rejected, retries, throttled, deleted, error
            FROM sync_health ORDER BY started_at DESC, run_id DESC LIMIT ?
        ) ORDER BY started_at, run_id
        """,
        [limit],
    ).fetchall()
    return [_run_point(r) for r in rows]


def _run_point(r: tuple[Any, ...]) -> RunPoint:
    def seconds(v: Any) -> float | None:
        return None if v is None else float(v)

    fetched, new, updated, rejected, retries, throttled, deleted = (int(v) for v in r[7:14])
    return RunPoint(
        run_id=str(r[0]),
        stream_id=str(r[1]),
        mode=str(r[2]),
        outcome=str(r[3]),
        started_at=r[4],
        duration_s=seconds(r[5]),
        lag_s=seconds(r[6]),
        fetched=fetched,
        new=new,
        updated=updated,
        rejected=rejected,
        retries=retries,
        throttled=throttled,
        deleted=deleted,
        error=r[14],
    )


def deletions_per_day(con: duckdb.DuckDBPyConnection) -> list[DayCount]:
    """Assets marked deleted per UTC day of detection."""
    rows = con.execute(
        "SELECT day, sum(deleted)::BIGINT FROM deletions_daily GROUP BY day ORDER BY day"
    ).fetchall()
    return [DayCount(d, int(n)) for d, n in rows]


def changed_fields(con: duckdb.DuckDBPyConnection, limit: int = 12) -> list[NamedCount]:
    """How many versions changed each field (versus the previous version), most first."""
    rows = con.execute(
        """
        SELECT field, count(*) AS n FROM (
            SELECT unnest(changed_fields) AS field FROM asset_changes
        ) GROUP BY field ORDER BY n DESC, field LIMIT ?
        """,
        [limit],
    ).fetchall()
    return [NamedCount(str(f), int(n)) for f, n in rows]


def rejects_by_reason(con: duckdb.DuckDBPyConnection, limit: int = 8) -> list[NamedCount]:
    """Rejected records grouped by reason, most first."""
    rows = con.execute(
        "SELECT reason, count(*) AS n FROM rejected_assets GROUP BY reason"
        " ORDER BY n DESC, reason LIMIT ?",
        [limit],
    ).fetchall()
    return [NamedCount(str(r), int(n)) for r, n in rows]
