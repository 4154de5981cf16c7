"""Marking hard deletes from a reconciliation listing, and reviving what reappears.

Incremental pulls never see hard deletes. A reconciliation lists every asset id of a stream
created in a window; a stored asset of that stream and window absent from a COMPLETE listing
is marked `deleted_at = now()`. An incomplete listing (a page failed, a limit was hit) marks
nothing, because absence from it proves nothing. Presence does prove existence, so listed
ids that carry `deleted_at` are revived from any listing, complete or not. Rows are never
removed: a deletion is a timestamp, and a revival clears it.
"""

from __future__ import annotations

import contextlib

import duckdb
import pyarrow as pa

from assets_sync.sink import ReconcileResult, StreamKey, check_deleted_fraction
from warehouse.columns import ROWS
from warehouse.scope import stream_predicate
from warehouse.timeutil import ms_to_dt

_LISTED = "_wh_listed"


def reconcile(
    con: duckdb.DuckDBPyConnection,
    stream: StreamKey,
    listed_ids: pa.Array,
    created_lo_ms: int | None,
    created_hi_ms: int | None,
    complete: bool,
    max_deleted_fraction: float | None = None,
) -> ReconcileResult:
    """Runs inside the caller's transaction. Bounds are exclusive, None is unbounded.

    The mass-deletion guard counts, in the same transaction and with the same predicate as the
    marking, the assets that would be marked and the stream's live assets, and refuses
    (`MassDeletionError`, nothing marked) above `max_deleted_fraction` of them.

    SQL is composed of constants and `stream_predicate`'s constant clauses; values are bound.
    """
    scope, params = stream_predicate(stream)  # raises before anything is touched
    if isinstance(listed_ids, pa.ChunkedArray):
        listed_ids = listed_ids.combine_chunks()
    listed = pa.table({"id": listed_ids.cast(pa.string())})
    con.register(_LISTED, listed)
    try:
        revived = _count(
            con.execute(
                f"UPDATE {ROWS} SET deleted_at = NULL"  # noqa: S608
                " WHERE is_current AND deleted_at IS NOT NULL"
                f" AND id IN (SELECT id FROM {_LISTED} WHERE id IS NOT NULL)"
            )
        )
        deleted = 0
        if complete:
            absent = (  # constants and the scope's constant clauses only
                f" WHERE is_current AND deleted_at IS NULL AND ({scope})"  # noqa: S608
                " AND (CAST(? AS TIMESTAMPTZ) IS NULL OR created_at > ?)"
                " AND (CAST(? AS TIMESTAMPTZ) IS NULL OR created_at < ?)"
                f" AND NOT EXISTS (SELECT 1 FROM {_LISTED} AS l WHERE l.id = {ROWS}.id)"
            )
            values = [
                *params,
                ms_to_dt(created_lo_ms),
                ms_to_dt(created_lo_ms),
                ms_to_dt(created_hi_ms),
                ms_to_dt(created_hi_ms),
            ]
            if max_deleted_fraction is not None:
                doomed = _count(
                    con.execute(f"SELECT count(*) FROM {ROWS}" + absent, values)  # noqa: S608
                )
                live = _count(
                    con.execute(
                        "SELECT count(*) FROM assets"  # noqa: S608
                        f" WHERE deleted_at IS NULL AND ({scope})",
                        params,
                    )
                )
                check_deleted_fraction(stream, doomed, live, max_deleted_fraction)
            deleted = _count(
                con.execute(f"UPDATE {ROWS} SET deleted_at = now()" + absent, values)  # noqa: S608
            )
    finally:
        with contextlib.suppress(duckdb.Error):  # refused in an aborted txn; rollback drops it
            con.unregister(_LISTED)
    return ReconcileResult(listed=len(listed_ids), deleted=deleted, revived=revived)


def _count(cursor: duckdb.DuckDBPyConnection) -> int:
    row = cursor.fetchone()
    return int(row[0]) if row else 0
