"""The engine's knobs (`SyncConfig`) and what a run reports (`SyncCounts`, `SyncReport`).

Kept apart from `engine.py` so that the CLI, the Dagster config and the benchmarks read the
defaults without the run's machinery, and so that a new knob does not touch the engine's flow.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from assets_sync.sink import SliceState
from assets_sync.windows import Window


@dataclass(frozen=True)
class SyncConfig:
    """Knobs of a run. Times are milliseconds."""

    lookback_ms: int = 15 * 60_000  # re-read this much before the watermark (late commits)
    settle_lag_ms: int = 60_000  # do not read the last minute: it may still be settling
    # 16 slices, 12 fetch threads. A thread without a planned slice left splits a running one
    # (scheduling.py), so the plan only sets where the threads start. At 100 ms per request,
    # 8 threads gave 5.3-5.6x one stream, 12 gave 6.1x and 16 gave 5.7-5.9x (the process's CPU
    # is the limit there). Over loopback the gate lets 1 of them work (latency.py).
    slices: int = 16  # at most this many new slices per gap of the target window
    concurrency: int = 12  # fetch threads: the most that fetch at once
    #: the fewest threads the gate lets fetch at once, while the writer is the bottleneck or
    #: the server answers fast (gate.py); = concurrency: a fixed number of threads
    min_active_fetchers: int = 1
    #: fetch threads allowed before the first request times are known; then the server's
    #: latency sets the count (latency.py): 1 over loopback, every thread at 100 ms. 6, not
    #: 4: at 100 ms per request the first round of 6 answers doubles it to 12 at once
    initial_fetchers: int = 6
    page_size: int = 100
    start_ms: int | None = None  # first sync: start here instead of the earliest asset
    min_slice_ms: int = 60 * 60_000  # do not split below one hour per slice
    max_tie_passes: int = 10
    #: a thread without a planned slice left splits the running slice with the most work
    #: left (scheduling.py), if that is at least this many pages; 0 turns splitting off.
    min_split_pages: float = 4.0
    # bounded queue between fetchers and the writer; the write buffers absorb the bursts:
    # 16 instead of 64 pages saved 19 MB of peak at 100k at the same speed (measured)
    max_pages_in_flight: int = 16
    #: the writer commits when its buffer reaches this. 8192 = the warehouse's row group
    #: (warehouse.connection.WRITER_ROW_GROUP_SIZE): a write fills one group, which DuckDB
    #: compresses straight to the file; 10k rows spilled 1.8k per write into the WAL, and held
    #: 1.8k more rows in each buffer: 11-13 MB more peak at the same speed (measured)
    max_rows_per_write: int = 8192
    max_write_delay_s: float = 2.0  # ... or when its oldest buffered page waited this long
    #: pages are merged into batches of at least this many rows as they arrive (batching.py),
    #: which the warehouse scans as they are: 2048 is DuckDB's vector; 0 or 1 keeps pages
    coalesce_rows: int = 2048
    #: reconcile: refuse to mark more than this share of a stream's live assets deleted in one
    #: call (an empty listing from credentials of the wrong scope); None or 1.0 = no limit.
    max_deleted_fraction: float | None = 0.5

    def __post_init__(self) -> None:
        if not 1 <= self.page_size <= 100:
            raise ValueError("page_size must be within 1..100 (the API's range)")
        if min(self.concurrency, self.slices, self.max_pages_in_flight) < 1:
            raise ValueError("concurrency, slices and max_pages_in_flight must be >= 1")
        if self.min_active_fetchers < 1:
            raise ValueError("min_active_fetchers must be >= 1")
        if self.initial_fetchers < 1:
            raise ValueError("initial_fetchers must be >= 1")
        if self.min_split_pages < 0:
            raise ValueError("min_split_pages must be >= 0 (0: never split a running slice)")
        if self.coalesce_rows < 0:
            raise ValueError("coalesce_rows must be >= 0 (0: pages are written as they came)")
        if self.max_rows_per_write < 1 or self.max_write_delay_s < 0:
            raise ValueError("max_rows_per_write must be >= 1 and max_write_delay_s >= 0")
        if self.lookback_ms < 0 or self.settle_lag_ms < 0:
            raise ValueError("lookback_ms and settle_lag_ms must be >= 0")
        if self.max_deleted_fraction is not None and not 0 <= self.max_deleted_fraction <= 1:
            raise ValueError("max_deleted_fraction must be within 0..1 (or None)")


@dataclass
class SyncCounts:
    fetched: int = 0  # records stored, assets or rejects (after overlap dedupe)
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    pages: int = 0
    requests: int = 0
    retries: int = 0
    throttled: int = 0
    writes: int = 0  # sink transactions
    tie_groups: int = 0
    overlap_dropped: int = 0
    keyset_follows: int = 0  # pages asked with a keyset token (pagination.py): no overlap
    splits: int = 0  # running slices split for an idle thread
    fetchers_min: int = 0  # the fewest fetch threads the gate let work at once (gate.py)
    fetchers_max: int = 0  # the most fetch threads the gate let work at once

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class SyncReport:
    run_id: str
    stream_id: str
    mode: str
    target: Window
    counts: SyncCounts
    watermark_before_ms: int | None
    watermark_after_ms: int | None
    started_at_ms: int
    duration_s: float
    slices: tuple[SliceState, ...]  # final state of every slice this run fetched
    resumed: int  # how many of them came from the ledger
