"""`run_sync`: one incremental (or backfill) run of one stream, from plan to committed rows.

Shape of a run:

```
plan: ledger slices (resumed) + new slices for the gaps of the target window
  -> N fetch threads (fetching.py) take slices from a `SliceScheduler` (scheduling.py):
     planned slices first, then pieces split off running slices, so no thread idles while
     work is left; each paginates its slice and normalizes each page in the thread, page by
     page through a `FetchGate` (gate.py) that lets fewer threads work while the server
     answers fast (request times, latency.py) or while the writer is the bottleneck
  -> BOUNDED queue of PageBatch (memory = pages in flight, never the team)
  -> the calling thread drains the queue into a `WriteBuffer` (batching.py): pages are
     merged into batches of `coalesce_rows` as they arrive, and
     buffered until `max_rows_per_write` rows (or `max_write_delay_s`, or the end), then
     committed by ONE commit thread, one write in flight at a time, while the next buffer
     fills. Each write is ONE sink.write() (one transaction: rows + versions + rejects +
     each slice's cursor), then the watermark moves to the committed frontier and
     completed slices leave the ledger

Memory is bounded by `max_pages_in_flight` pages in the queue plus two write buffers
(`max_rows_per_write` rows plus a page each), whatever the size of the team's history.
```

Guarantees:

- a page's rows and its slice's cursor commit together; a crash anywhere resumes every slice
  from its committed cursor, and a replayed page changes nothing (idempotent upserts);
- the watermark only moves to a value `W` such that everything `<= W` is committed;
- on the first failing slice every fetch thread stops at its next page, the pages already
  queued are still written (they are valid progress), the run is recorded as failed with the
  redacted error text, and the error is re-raised.

Target windows (`windows.py` has the bound arithmetic):

- `sync`: `(W - lookback, run_start - settle_lag)`; without a watermark, from `start_ms` (or
  the stream's earliest asset) to `run_start - settle_lag`, then `W = hi - 1`.
- `backfill`: the given `window` (cut at `run_start - settle_lag`), or the whole history
  without lookback when none is given. An explicit window moves the watermark only if it is
  contiguous with it.
"""

from __future__ import annotations

import logging
import queue
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from typing import Literal

from assets_sync.batching import WriteBuffer
from assets_sync.client import AssetsClient, ClientStats
from assets_sync.fetching import Failed, FetchSide, Finished, throttled
from assets_sync.gate import FetchGate
from assets_sync.latency import LatencySizer
from assets_sync.pagination import BY_UPDATED
from assets_sync.planning import (
    completable,
    earliest,
    frontier,
    plan_new_slices,
    stream_params,
)
from assets_sync.progress import Emitter, EventKind, ProgressEvent, ProgressListener
from assets_sync.run_config import SyncConfig as SyncConfig
from assets_sync.run_config import SyncCounts as SyncCounts
from assets_sync.run_config import SyncReport as SyncReport
from assets_sync.scheduling import SliceScheduler
from assets_sync.sink import (
    Completion,
    Pace,
    PageBatch,
    RunRecord,
    Sink,
    SliceState,
    StreamKey,
    WriteResult,
)
from assets_sync.windows import Window, run_window

log = logging.getLogger(__name__)

Mode = Literal["sync", "backfill"]


#: how often the engine tells the fetch gate how much the writer held it back
_GATE_INTERVAL_S = 0.5


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def run_sync(
    client: AssetsClient,
    sink: Sink,
    stream: StreamKey,
    config: SyncConfig | None = None,
    *,
    mode: Mode = "sync",
    window: tuple[int, int] | None = None,
    progress: ProgressListener | None = None,
    run_id: str | None = None,
    run_start_ms: int | None = None,
) -> SyncReport:
    """Run one sync of `stream` into `sink`; see the module docstring for what is guaranteed.

    `window`: `(lo_ms, hi_ms)`, exclusive bounds (backfill, or an explicit sync range).
    `run_start_ms`: the run's "now" (tests); defaults to the wall clock.
    """
    config = config or SyncConfig()
    run = _Run(client, sink, stream, config, mode, Emitter(progress), run_id)
    started = run_start_ms if run_start_ms is not None else now_ms()
    state = sink.stream_state(stream)
    if state.pace is not None:  # start at the last run's pace, not slow start's
        client.limiter.resume(state.pace.rate, state.pace.learned)
    run.watermark = state.watermark_ms
    record = RunRecord(run.run_id, stream, mode, now_ms(), watermark_before_ms=state.watermark_ms)
    sink.begin_run(record)
    t0 = time.monotonic()
    try:
        report = run.execute(state.watermark_ms, state.slices, started, window, t0)
    except BaseException as exc:
        run.finish_counts()
        failed = replace(
            record,
            finished_at_ms=now_ms(),
            outcome="failed",
            error=client.redact(f"{type(exc).__name__}: {exc}")[:2000],
            watermark_after_ms=run.watermark,
            counts=run.counts.as_dict(),
        )
        try:
            sink.end_run(failed)
        except Exception:  # the original error matters more than the bookkeeping one
            log.exception("could not record the failed run %s", run.run_id)
        raise
    sink.end_run(
        replace(
            record,
            finished_at_ms=now_ms(),
            outcome="success",
            watermark_after_ms=report.watermark_after_ms,
            counts=report.counts.as_dict(),
            pace=client_pace(client),
        )
    )
    return report


def client_pace(client: AssetsClient) -> Pace | None:
    """The client's limiter pace, to be recorded with a successful run (`StreamState.pace`)."""
    pace = client.limiter.pace()
    return Pace(*pace) if pace is not None else None


class _Run:
    """The state of one run: counters, the slice table, the pool and the writer loop."""

    def __init__(
        self,
        client: AssetsClient,
        sink: Sink,
        stream: StreamKey,
        config: SyncConfig,
        mode: Mode,
        emit: Emitter,
        run_id: str | None,
    ) -> None:
        self.client = client
        self.sink = sink
        self.stream = stream
        self.config = config
        self.mode = mode
        self.emit = emit
        self.run_id = run_id or uuid.uuid4().hex
        self.params = stream_params(stream.project_id, stream.filters)
        self.counts = SyncCounts()
        self.client_before: ClientStats = client.stats
        self.fetch = FetchSide(client, stream, self.run_id, self.params, config)
        self.slices: dict[str, SliceState] = {}
        self.completed: set[str] = set()
        self.watermark: int | None = None
        self.chain = 0
        self.move_watermark = False
        self.splits = 0
        self.fetchers_min = 0
        self.fetchers_max = 0

    # -- planning ------------------------------------------------------------------------
    def target(
        self, watermark: int | None, started: int, window: tuple[int, int] | None
    ) -> tuple[Window, int | None]:
        """The target window and the start of the watermark chain (None: leave it alone)."""
        cfg = self.config
        hi = started - cfg.settle_lag_ms
        if window is not None:  # never past the settle point, even when asked
            target = Window(window[0], max(window[0], min(window[1], hi)))
            chain = watermark if watermark is not None and watermark >= target.lo_ms else None
            return target, chain
        if self.mode == "sync" and watermark is not None:
            return run_window(watermark, cfg.lookback_ms, started, cfg.settle_lag_ms, 0), watermark
        if cfg.start_ms is not None:
            lo = cfg.start_ms - 1
        else:
            first = earliest(self.client.list_page, BY_UPDATED, self.params)
            if first is None:
                # An empty answer (an empty stream, or a transient empty page) proves nothing
                # about history: moving a first watermark to now would skip all of it for good.
                return Window(hi - 1, hi), watermark
            lo = min(first - 1, hi - 1)
        target = Window(lo, max(lo, hi))
        return target, watermark if watermark is not None else lo

    def execute(
        self,
        watermark: int | None,
        ledger: Sequence[SliceState],
        started: int,
        window: tuple[int, int] | None,
        t0: float,
    ) -> SyncReport:
        target, chain = self.target(watermark, started, window)
        cfg = self.config
        fresh = plan_new_slices(target, ledger, cfg.slices, cfg.min_slice_ms)
        if fresh:
            self.sink.plan_slices(self.stream, fresh)
        self.slices = {s.slice_id: s for s in (*ledger, *fresh)}
        self.chain = chain if chain is not None else target.lo_ms
        self.move_watermark = chain is not None
        self.watermark = watermark
        self._emit("start", f"target {target.lo_ms}..{target.hi_ms}")
        todo = sorted((s for s in self.slices.values() if not s.done), key=lambda s: s.lo_ms)
        self._advance()  # done ledger slices may already complete
        if todo:
            self._fetch_and_write(todo)
        self.finish_counts()
        self._emit("finish")
        return SyncReport(
            run_id=self.run_id,
            stream_id=self.stream.stream_id,
            mode=self.mode,
            target=target,
            counts=self.counts,
            watermark_before_ms=watermark,
            watermark_after_ms=self.watermark,
            started_at_ms=started,
            duration_s=time.monotonic() - t0,
            slices=tuple(sorted(self.slices.values(), key=lambda s: s.lo_ms)),
            resumed=sum(1 for s in ledger if not s.done),
        )

    # -- writing (calling thread) --------------------------------------------------------
    def _fetch_and_write(self, todo: list[SliceState]) -> None:
        cfg, fetch = self.config, self.fetch
        first_error: BaseException | None = None
        scheduler = SliceScheduler(
            todo,
            page_size=cfg.page_size,
            min_split_pages=cfg.min_split_pages,
            split=cfg.min_split_pages > 0,
        )
        writer = WriteBuffer(
            self._write,
            cfg.max_rows_per_write,
            cfg.max_write_delay_s,
            left=scheduler.rows_left,
            coalesce_rows=cfg.coalesce_rows,
        )
        threads = min(cfg.concurrency, len(todo)) if cfg.min_split_pages <= 0 else cfg.concurrency
        gate = FetchGate(min(cfg.min_active_fetchers, threads), threads, cfg.initial_fetchers)
        sizer = LatencySizer(
            self.client.request_times,
            fetch.page_work,
            gate,
            lambda: throttled(self.client),
            cfg.initial_fetchers,
        )
        pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="assets-fetch")
        tick, blocked = time.monotonic(), 0.0
        finished = 0
        try:
            futures: list[Future[None]] = [
                pool.submit(fetch.loop, scheduler, gate) for _ in range(threads)
            ]
            while True:
                now = time.monotonic()
                sizer.update()
                if now - tick >= _GATE_INTERVAL_S:
                    gate.adjust((writer.blocked_s - blocked) / (now - tick))
                    tick, blocked = now, writer.blocked_s
                try:
                    item = fetch.queue.get(timeout=0.05)
                except queue.Empty:
                    if all(f.done() for f in futures) and fetch.queue.empty():
                        break
                    writer.poll()
                    continue
                if isinstance(item, Finished):
                    finished += 1
                    if finished == len(futures):
                        break  # every thread's pages were ahead of its marker
                elif isinstance(item, Failed):
                    fetch.stop.set()  # fetchers stop at their next page; queued pages are kept
                    first_error = first_error or item.error
                else:
                    writer.add(item)
            writer.flush()
        finally:
            self.splits += scheduler.splits
            self.fetchers_min = gate.lowest
            self.fetchers_max = gate.highest
            fetch.stop.set()  # no-op after success; otherwise fetchers stop at their next page
            pool.shutdown(wait=True, cancel_futures=True)
            writer.close()
        if first_error is not None:
            raise first_error

    def _write(self, pages: list[PageBatch]) -> None:
        slices = self.slices | {page.progress.slice_id: page.progress for page in pages}
        ids, f, moved = self._completable(slices)
        complete = None
        if ids or moved:
            complete = Completion(self.stream, tuple(ids), f if self.move_watermark else None)
        result: WriteResult = self.sink.write(pages, complete=complete)
        c = self.counts
        c.writes += 1
        c.new += result.new
        c.updated += result.updated
        c.unchanged += result.unchanged
        c.rejected += result.rejected
        c.fetched += sum(p.assets.num_rows + p.rejects.num_rows for p in pages)
        self.slices = slices
        self._completed(ids, f, moved)
        last = pages[-1].progress
        self._emit("page", window=(last.lo_ms, last.cursor_ms))

    def _advance(self) -> None:
        """Move the watermark to the committed frontier; drop completed slices from the ledger
        (a transaction of its own: after a write, `_write` has its write do it)."""
        ids, f, moved = self._completable(self.slices)
        if not ids and not moved:
            return
        self.sink.complete_slices(self.stream, ids, f if self.move_watermark else None)
        self._completed(ids, f, moved)

    def _completable(self, slices: dict[str, SliceState]) -> tuple[list[str], int, bool]:
        """(slices to complete, the frontier, whether it moves the watermark) for `slices`."""
        f = frontier(self.chain, slices.values())
        ids = [i for i in completable(slices.values(), f) if i not in self.completed]
        moved = self.move_watermark and (self.watermark is None or f > self.watermark)
        return ids, f, moved

    def _completed(self, ids: list[str], f: int, moved: bool) -> None:
        """Record what a committed completion did."""
        self.completed.update(ids)
        if moved:
            self.watermark = f
        if ids:
            self._emit("slice_done")

    # -- reporting -----------------------------------------------------------------------
    def finish_counts(self) -> None:
        delta = self.client.stats - self.client_before
        c = self.counts
        c.requests, c.retries, c.throttled, c.pages = (
            delta.requests,
            delta.retries,
            delta.throttled,
            delta.pages,
        )
        c.tie_groups = sum(s.tie_groups for s in self.fetch.slice_stats)
        c.splits = self.splits
        c.fetchers_min = self.fetchers_min
        c.fetchers_max = self.fetchers_max
        c.overlap_dropped = sum(s.overlap_dropped for s in self.fetch.slice_stats)
        c.keyset_follows = sum(s.keyset_follows for s in self.fetch.slice_stats)

    def _emit(
        self, kind: EventKind, message: str = "", window: tuple[int, int] | None = None
    ) -> None:
        delta = self.client.stats - self.client_before
        self.emit(
            ProgressEvent(
                kind=kind,
                stream_id=self.stream.stream_id,
                run_id=self.run_id,
                pages=delta.pages,
                assets=self.counts.fetched - self.counts.rejected,
                rejected=self.counts.rejected,
                requests=delta.requests,
                retries=delta.retries,
                throttled=delta.throttled,
                slices_done=sum(1 for s in self.slices.values() if s.done),
                slices_total=len(self.slices),
                window=window,
                message=message,
            )
        )
