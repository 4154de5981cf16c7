"""The seam between the source side (`assets_sync`) and storage (`warehouse`).

The engine never imports storage; it speaks to a `Sink`. A sink gives three guarantees the
incremental algorithm depends on (see DESIGN.md, "The incremental algorithm"):

1. `write()` never commits a slice's new cursor before the rows it covers: the pages' assets,
   their versions and lineage, its rejects and the cursor commit in one transaction, or (a
   `DuckDBSink` write replacing rows spread over many row groups, see `warehouse.delete_budget`) in
   parts whose LAST one carries the cursor, each part whole per asset. A crash resumes from the
   last committed cursor; a replayed page changes nothing (upserts are idempotent).
2. `plan_slices()` and `complete_slices()` are transactions too, so the ledger of windows in
   progress is always consistent with the data. A `write()` may carry a `Completion`, which
   then commits with the pages (with the last part), as `complete_slices()` would after them.
3. `reconcile()` marks only assets absent from a COMPLETE listing; it never deletes rows.

All timestamps are integers: milliseconds since the Unix epoch, UTC (the API's precision).
Bounds follow the API: `lo_ms` and `hi_ms` are EXCLUSIVE (`updatedAfter`, `updatedBefore`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import pyarrow as pa

from assets_sync.errors import MassDeletionError


@dataclass(frozen=True)
class StreamKey:
    """One scope of the API: a project (None = whatever the credentials see) plus filters.

    `filters` are extra `GET /v1/assets` query parameters (e.g. `("type", "upscale")`), kept
    sorted so that equal scopes have equal keys.
    """

    project_id: str | None
    filters: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "filters", tuple(sorted(self.filters)))

    @property
    def stream_id(self) -> str:
        """Stable, human-readable id: `proj_abc` or `proj_abc?type=upscale` or `*`."""
        base = self.project_id or "*"
        if not self.filters:
            return base
        return base + "?" + "&".join(f"{k}={v}" for k, v in self.filters)

    @property
    def short_hash(self) -> str:
        return hashlib.sha256(self.stream_id.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class SliceState:
    """One window of a stream's ledger.

    The slice covers `updatedAt` in (lo_ms, hi_ms), both exclusive. `cursor_ms` is the
    `updatedAfter` of the next request: every asset of the slice with `updatedAt <= cursor_ms`
    has been committed. A fresh slice has `cursor_ms == lo_ms`; a finished one has `done`.
    """

    slice_id: str
    lo_ms: int
    hi_ms: int
    cursor_ms: int
    done: bool = False


@dataclass(frozen=True)
class StreamState:
    """What a sink remembers of a stream between runs.

    `watermark_ms`: every asset with `updatedAt <= watermark_ms` was committed by a finished
    run (None before the first one). `slices`: the open ledger, possibly left by a crashed run.
    `pace`: the client's request pace at the end of the latest successful run of ANY stream
    (the API's limits are the API key's, not a stream's), for `RateLimiter.resume`; None if no
    run recorded one.
    """

    stream: StreamKey
    watermark_ms: int | None = None
    slices: tuple[SliceState, ...] = ()
    pace: Pace | None = None


@dataclass(frozen=True)
class Pace:
    """A rate limiter's pace (`RateLimiter.pace`): requests per second, and whether it was
    learned from the server's 429s or is only as far as slow start ramped."""

    rate: float
    learned: bool


@dataclass(frozen=True)
class PageBatch:
    """One normalized API page, handed to the sink in one piece.

    `assets` has `assets_sync.schema.ASSET_SCHEMA`, `rejects` has `REJECT_SCHEMA`.
    `progress` is the slice's state AFTER this page: it commits with the rows.
    """

    run_id: str
    stream: StreamKey
    assets: pa.RecordBatch
    rejects: pa.RecordBatch
    progress: SliceState


@dataclass(frozen=True)
class WriteResult:
    """What one write did to the current-state table."""

    new: int = 0  # ids never seen before
    updated: int = 0  # a newer updated_at replaced the current row
    unchanged: int = 0  # same (id, updated_at) already stored, or older: nothing changed
    rejected: int = 0

    def __add__(self, other: WriteResult) -> WriteResult:
        return WriteResult(
            self.new + other.new,
            self.updated + other.updated,
            self.unchanged + other.unchanged,
            self.rejected + other.rejected,
        )


@dataclass(frozen=True)
class ReconcileResult:
    listed: int = 0
    deleted: int = 0  # newly marked deleted_at
    revived: int = 0  # had deleted_at, seen again: deleted_at cleared


@dataclass(frozen=True)
class RunRecord:
    """One row of `sync_runs`."""

    run_id: str
    stream: StreamKey
    mode: str  # "sync" | "backfill" | "reconcile"
    started_at_ms: int
    finished_at_ms: int | None = None
    outcome: str = "running"  # "running" | "success" | "failed"
    error: str | None = None
    watermark_before_ms: int | None = None
    watermark_after_ms: int | None = None
    counts: dict[str, int] = field(default_factory=dict)  # fetched/new/updated/... pages, retries
    pace: Pace | None = None  # the client's pace at the end of the run (`StreamState.pace`)


@dataclass(frozen=True)
class Completion:
    """`Sink.complete_slices` arguments, committed by a `Sink.write` with its pages.

    The engine completes slices and raises the watermark after every write whose progress
    moves the frontier: in the write's own transaction instead of one of its own, the
    writer saves a BEGIN and a COMMIT per write (about 1.3 s of a 1M-asset first sync's
    writer, which is the sync's critical path), and the frontier commits atomically with the
    rows that moved it.
    """

    stream: StreamKey
    slice_ids: tuple[str, ...] = ()
    watermark_ms: int | None = None


class Sink(Protocol):
    """Storage as the engine sees it. `warehouse.DuckDBSink` is the real one."""

    def stream_state(self, stream: StreamKey) -> StreamState: ...

    def plan_slices(self, stream: StreamKey, slices: Sequence[SliceState]) -> None:
        """Add new slices to the stream's ledger (one transaction)."""
        ...

    def write(self, pages: Sequence[PageBatch], complete: Completion | None = None) -> WriteResult:
        """Commit these pages and then their slices' progress (guarantee 1 above).

        Pages are in arrival order; for a slice that appears several times the last progress
        wins. The engine's writer batches pages (`SyncConfig.max_rows_per_write`, see
        `assets_sync.batching`), so a transaction is paid per batch of pages, not per page.
        `complete`: applied as `complete_slices` would, after the progress and in the same
        transaction (the last one, if the write commits in parts).
        """
        ...

    def complete_slices(
        self, stream: StreamKey, slice_ids: Sequence[str], watermark_ms: int | None
    ) -> None:
        """Drop finished slices from the ledger and, if given, raise the watermark (one txn).

        The watermark never moves backwards: a lower value than the stored one is ignored.
        """
        ...

    def reconcile(
        self,
        stream: StreamKey,
        run_id: str,
        listed_ids: pa.Array,
        created_lo_ms: int | None,
        created_hi_ms: int | None,
        complete: bool,
        *,
        max_deleted_fraction: float | None = None,
    ) -> ReconcileResult:
        """Mark deleted the stream's assets created in (lo, hi) that are absent from the listing.

        Only when `complete` is true; ids present in the listing that carry `deleted_at` are
        revived. `None` bounds mean unbounded. With `max_deleted_fraction`, a call that would
        mark more than that share of the stream's live assets raises `MassDeletionError` and
        changes nothing (None: no limit).
        """
        ...

    def begin_run(self, run: RunRecord) -> None: ...

    def end_run(self, run: RunRecord) -> None: ...


def check_deleted_fraction(
    stream: StreamKey, would_delete: int, live: int, max_fraction: float
) -> None:
    """Raise `MassDeletionError` if marking `would_delete` of the stream's `live` assets
    deleted exceeds `max_fraction` of them. Sinks call it before they mark anything."""
    if would_delete == 0 or would_delete <= max_fraction * live:
        return
    raise MassDeletionError(
        f"reconcile of stream {stream.stream_id} refused: a complete listing would mark "
        f"{would_delete:,} of its {live:,} live assets deleted ({would_delete / live:.0%}, "
        f"more than the {max_fraction:.0%} allowed). Credentials of another scope (or an API "
        "answering empty lists) look exactly like this; nothing was marked. If the deletions "
        "are real, run reconcile with --allow-mass-delete (Dagster run config "
        "max_deleted_fraction: 1.0)",
        would_delete,
        live,
    )
