"""`MemorySink`: the `Sink` contract in memory, for the engine's tests and benchmarks.

Same rules as the warehouse (sink.py, DESIGN.md "upsert rule"): an incoming version replaces
the current row only if its `updated_at` is `>=` the stored one; every distinct
`(id, updated_at)` is recorded once in `versions`; `write()` applies pages and their slices'
progress atomically (under one lock, all or nothing: a failing `fail_after` hook raises before
anything is applied). `keep_rows=False` keeps only ids and timestamps (large benchmarks).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import pyarrow as pa

from assets_sync.sink import (
    Completion,
    PageBatch,
    ReconcileResult,
    RunRecord,
    SliceState,
    StreamKey,
    StreamState,
    WriteResult,
    check_deleted_fraction,
)


class MemorySink:
    def __init__(self, *, keep_rows: bool = True) -> None:
        self.keep_rows = keep_rows
        self._lock = threading.Lock()
        self.current: dict[str, int] = {}  # id -> updated_at ms
        self.rows: dict[str, dict[str, Any]] = {}  # id -> current row (keep_rows)
        self.versions: set[tuple[str, int]] = set()
        self.deleted: dict[str, str] = {}  # id -> run id that marked it deleted
        self.created: dict[str, int | None] = {}  # id -> created_at ms
        self.rejects: list[dict[str, Any]] = []
        self.watermarks: dict[StreamKey, int] = {}
        self.ledgers: dict[StreamKey, dict[str, SliceState]] = {}
        self.runs: dict[str, RunRecord] = {}
        self.writes = 0  # transactions
        self.pages_written = 0
        #: Test hook: called with each write's pages before applying; may raise to simulate a
        #: crash (nothing of that write is applied).
        self.before_write: Callable[[Sequence[PageBatch]], None] | None = None

    # -- state ---------------------------------------------------------------------------
    def stream_state(self, stream: StreamKey) -> StreamState:
        with self._lock:
            slices = tuple(sorted(self.ledgers.get(stream, {}).values(), key=lambda s: s.lo_ms))
            paced = [r for r in self.runs.values() if r.outcome == "success" and r.pace]
            last = max(paced, key=lambda r: r.finished_at_ms or 0, default=None)
            pace = last.pace if last is not None else None
            return StreamState(stream, self.watermarks.get(stream), slices, pace)

    def plan_slices(self, stream: StreamKey, slices: Sequence[SliceState]) -> None:
        with self._lock:
            ledger = self.ledgers.setdefault(stream, {})
            for s in slices:
                ledger[s.slice_id] = s

    def complete_slices(
        self, stream: StreamKey, slice_ids: Sequence[str], watermark_ms: int | None
    ) -> None:
        with self._lock:
            self._complete(stream, slice_ids, watermark_ms)

    def _complete(
        self, stream: StreamKey, slice_ids: Sequence[str], watermark_ms: int | None
    ) -> None:
        ledger = self.ledgers.setdefault(stream, {})
        for slice_id in slice_ids:
            ledger.pop(slice_id, None)
        if watermark_ms is not None:
            old = self.watermarks.get(stream)
            self.watermarks[stream] = watermark_ms if old is None else max(old, watermark_ms)

    # -- data ----------------------------------------------------------------------------
    def write(self, pages: Sequence[PageBatch], complete: Completion | None = None) -> WriteResult:
        if self.before_write is not None:
            self.before_write(pages)
        with self._lock:
            result = WriteResult()
            for page in pages:
                result = result + self._apply(page)
                ledger = self.ledgers.setdefault(page.stream, {})
                ledger[page.progress.slice_id] = page.progress
            if complete is not None:
                self._complete(complete.stream, complete.slice_ids, complete.watermark_ms)
            self.writes += 1
            self.pages_written += len(pages)
            return result

    def _apply(self, page: PageBatch) -> WriteResult:
        new = updated = unchanged = 0
        batch = page.assets
        ids = batch.column("id").to_pylist()
        stamps = batch.column("updated_at").cast(pa.int64()).to_pylist()
        created = batch.column("created_at").cast(pa.int64()).to_pylist()
        rows = batch.to_pylist() if self.keep_rows else None
        for i, (asset_id, ts) in enumerate(zip(ids, stamps, strict=True)):
            self.versions.add((asset_id, ts))
            old = self.current.get(asset_id)
            if old is None:
                new += 1
            elif ts > old:
                updated += 1
            else:
                unchanged += 1
            if old is None or ts >= old:
                self.current[asset_id] = ts
                self.created[asset_id] = created[i]
                self.deleted.pop(asset_id, None)
                if rows is not None:
                    self.rows[asset_id] = rows[i]
        self.rejects.extend(page.rejects.to_pylist())
        return WriteResult(new, updated, unchanged, page.rejects.num_rows)

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
        listed = set(listed_ids.to_pylist())
        with self._lock:
            if complete and max_deleted_fraction is not None:
                live = [i for i in self.created if i not in self.deleted]
                doomed = [
                    i
                    for i in live
                    if i not in listed and _within(self.created[i], created_lo_ms, created_hi_ms)
                ]
                check_deleted_fraction(stream, len(doomed), len(live), max_deleted_fraction)
            revived = 0
            for asset_id in listed:
                if self.deleted.pop(asset_id, None) is not None:
                    revived += 1
            if not complete:
                return ReconcileResult(len(listed), 0, revived)
            deleted = 0
            for asset_id, created in self.created.items():
                if asset_id in listed or asset_id in self.deleted:
                    continue
                if created_lo_ms is not None and (created is None or created <= created_lo_ms):
                    continue
                if created_hi_ms is not None and (created is None or created >= created_hi_ms):
                    continue
                self.deleted[asset_id] = run_id
                deleted += 1
            return ReconcileResult(len(listed), deleted, revived)

    # -- runs ----------------------------------------------------------------------------
    def begin_run(self, run: RunRecord) -> None:
        with self._lock:
            self.runs[run.run_id] = run

    def end_run(self, run: RunRecord) -> None:
        with self._lock:
            self.runs[run.run_id] = replace(run)


def _within(created: int | None, lo: int | None, hi: int | None) -> bool:
    if lo is not None and (created is None or created <= lo):
        return False
    return hi is None or (created is not None and created < hi)
