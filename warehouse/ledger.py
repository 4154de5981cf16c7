"""Stream state: watermarks (`sync_state`), the slice ledger (`sync_slices`), runs (`sync_runs`).

Each function runs inside the caller's transaction; `DuckDBSink` wraps each protocol call in
exactly one, so the ledger is always consistent with the data committed beside it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from collections.abc import Set as AbstractSet

import duckdb

from assets_sync.sink import Completion, Pace, RunRecord, SliceState, StreamKey, StreamState
from warehouse.timeutil import dt_to_ms, ms_to_dt

_ENSURE_STREAM = """
INSERT INTO sync_state (stream_id, project_id, filters, watermark, updated_at)
VALUES (?, ?, ?, NULL, now()) ON CONFLICT (stream_id) DO NOTHING
"""

_PROGRESS_COLUMNS = "(stream_id, slice_id, lo_at, hi_at, cursor_at, done, run_id, updated_at)"
_PROGRESS_ROW = "(?, ?, ?, ?, ?, ?, ?, now())"
_PROGRESS_CONFLICT = """
ON CONFLICT (stream_id, slice_id) DO UPDATE SET
    lo_at = excluded.lo_at, hi_at = excluded.hi_at, cursor_at = excluded.cursor_at,
    done = excluded.done, run_id = excluded.run_id, updated_at = excluded.updated_at
"""


def ensure_stream(
    con: duckdb.DuckDBPyConnection, stream: StreamKey, ensured: AbstractSet[str] = frozenset()
) -> None:
    """Create the stream's `sync_state` row if it has none (inside the caller's txn).

    `ensured`: ids of streams whose row the caller knows is committed (`DuckDBSink` keeps
    them; no code deletes a `sync_state` row), skipped without a statement. The statement
    cost ~3 ms of the writer's wall per call during a sync, twice per write (`write_pages`
    and `ledger.complete_slices`).
    """
    if stream.stream_id in ensured:
        return
    filters = json.dumps([list(f) for f in stream.filters])
    con.execute(_ENSURE_STREAM, [stream.stream_id, stream.project_id, filters])


def upsert_progress(
    con: duckdb.DuckDBPyConnection, rows: Sequence[tuple[StreamKey, str | None, SliceState]]
) -> None:
    """Insert or update the `(stream, run_id, slice)` rows of the ledger, in ONE statement.

    One statement per write, not one per slice: under the fetch threads' GIL contention each
    statement cost about 18 ms of the writer's wall time (13 slices per write after splits:
    2.5 s of a 16 s 100k sync, measured). A slice may appear once per call.
    """
    if not rows:
        return
    values: list[object] = []
    for stream, run_id, s in rows:
        values += [*_slice_row(stream, s), run_id]
    placeholders = ", ".join([_PROGRESS_ROW] * len(rows))
    # Composed from this module's constants only; the data is bound.
    sql = f"INSERT INTO sync_slices {_PROGRESS_COLUMNS} VALUES {placeholders} {_PROGRESS_CONFLICT}"  # noqa: S608
    con.execute(sql, values)


def _slice_row(stream: StreamKey, s: SliceState) -> list[object]:
    """A slice's `sync_slices` values from `stream_id` to `done`, in the column order."""
    return [
        stream.stream_id,
        s.slice_id,
        ms_to_dt(s.lo_ms),
        ms_to_dt(s.hi_ms),
        ms_to_dt(s.cursor_ms),
        s.done,
    ]


#: `RunRecord.counts` keys that have a column of their own in `sync_runs`; any other key is
#: kept in `extra_counts` (JSON) rather than dropped.
COUNT_COLUMNS: tuple[str, ...] = (
    "fetched", "new", "updated", "unchanged", "rejected", "pages",
    "requests", "retries", "throttled", "deleted", "revived",
)  # fmt: skip

_RUN_COLUMNS = (
    "run_id", "stream_id", "mode", "started_at", "finished_at", "outcome", "error",
    "watermark_before", "watermark_after", *COUNT_COLUMNS, "extra_counts", "pace", "pace_learned",
)  # fmt: skip

#: The pace of the latest successful run of any stream (`StreamState.pace`).
_LAST_PACE = (
    "SELECT pace, pace_learned FROM sync_runs"
    " WHERE outcome = 'success' AND pace IS NOT NULL ORDER BY finished_at DESC LIMIT 1"
)

_UPSERT_RUN = (  # composed from the constant column list above
    f"INSERT INTO sync_runs ({', '.join(_RUN_COLUMNS)}) "  # noqa: S608
    f"VALUES ({', '.join('?' for _ in _RUN_COLUMNS)}) "
    "ON CONFLICT (run_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _RUN_COLUMNS if c != "run_id")
)


def read_stream_state(con: duckdb.DuckDBPyConnection, stream: StreamKey) -> StreamState:
    """The watermark and every ledger row of the stream (done or not), oldest window first."""
    row = con.execute(
        "SELECT watermark FROM sync_state WHERE stream_id = ?", [stream.stream_id]
    ).fetchone()
    watermark = dt_to_ms(row[0]) if row else None
    slices = tuple(
        SliceState(
            slice_id=str(sid),
            lo_ms=dt_to_ms(lo) or 0,
            hi_ms=dt_to_ms(hi) or 0,
            cursor_ms=dt_to_ms(cur) or 0,
            done=bool(done),
        )
        for sid, lo, hi, cur, done in con.execute(
            "SELECT slice_id, lo_at, hi_at, cursor_at, done FROM sync_slices"
            " WHERE stream_id = ? ORDER BY lo_at, slice_id",
            [stream.stream_id],
        ).fetchall()
    )
    paced = con.execute(_LAST_PACE).fetchone()
    pace = Pace(float(paced[0]), bool(paced[1])) if paced else None
    return StreamState(stream=stream, watermark_ms=watermark, slices=slices, pace=pace)


def plan_slices(
    con: duckdb.DuckDBPyConnection, stream: StreamKey, slices: Sequence[SliceState]
) -> None:
    """Add slices; a slice id already in the ledger keeps its progress (re-planning is safe).

    One statement for all of them: `executemany` runs one per slice, and 16 took ~70 ms, all of
    it between a first sync's first request and its fetch threads (measured).
    """
    ensure_stream(con, stream)
    if not slices:
        return
    for start in range(0, len(slices), _PLAN_ROWS_PER_STATEMENT):
        chunk = slices[start : start + _PLAN_ROWS_PER_STATEMENT]
        values: list[object] = []
        for s in chunk:
            values += _slice_row(stream, s)
        rows = ", ".join([_PLAN_ROW] * len(chunk))  # placeholders only
        con.execute(f"{_PLAN_INSERT} {rows} {_PLAN_CONFLICT}", values)


_PLAN_INSERT = f"INSERT INTO sync_slices {_PROGRESS_COLUMNS} VALUES"
_PLAN_ROW = "(?, ?, ?, ?, ?, ?, NULL, now())"
_PLAN_CONFLICT = "ON CONFLICT (stream_id, slice_id) DO NOTHING"


_PLAN_ROWS_PER_STATEMENT = 500


def complete_slices(
    con: duckdb.DuckDBPyConnection,
    stream: StreamKey,
    slice_ids: Sequence[str],
    watermark_ms: int | None,
    ensured: AbstractSet[str] = frozenset(),
) -> None:
    """Drop finished slices; raise (never lower) the watermark. `ensured`: see
    `ensure_stream`."""
    ensure_stream(con, stream, ensured)
    if slice_ids:
        con.execute(
            "DELETE FROM sync_slices WHERE stream_id = ? AND list_contains(?, slice_id)",
            [stream.stream_id, list(slice_ids)],
        )
    if watermark_ms is not None:
        con.execute(
            "UPDATE sync_state SET watermark = greatest(coalesce(watermark, ?), ?),"
            " updated_at = now() WHERE stream_id = ?",
            [ms_to_dt(watermark_ms), ms_to_dt(watermark_ms), stream.stream_id],
        )


def complete(
    con: duckdb.DuckDBPyConnection, completion: Completion, ensured: AbstractSet[str] = frozenset()
) -> None:
    """`complete_slices` with a `Completion`'s arguments (inside the caller's transaction)."""
    complete_slices(
        con, completion.stream, completion.slice_ids, completion.watermark_ms, ensured=ensured
    )


def upsert_run(con: duckdb.DuckDBPyConnection, run: RunRecord) -> None:
    """Insert or replace the run's row (begin_run and end_run both write the whole record)."""
    ensure_stream(con, run.stream)
    extra = {k: v for k, v in run.counts.items() if k not in COUNT_COLUMNS}
    values: list[object] = [
        run.run_id,
        run.stream.stream_id,
        run.mode,
        ms_to_dt(run.started_at_ms),
        ms_to_dt(run.finished_at_ms),
        run.outcome,
        run.error,
        ms_to_dt(run.watermark_before_ms),
        ms_to_dt(run.watermark_after_ms),
        *(int(run.counts.get(c, 0)) for c in COUNT_COLUMNS),
        json.dumps(extra, sort_keys=True) if extra else None,
        run.pace.rate if run.pace else None,
        run.pace.learned if run.pace else None,
    ]
    con.execute(_UPSERT_RUN, values)
