"""The fetch side of a run: threads that page through slices and hand pages to the writer.

Each fetch thread (`FetchSide.loop`) takes slices from the run's `SliceScheduler` while its
`FetchGate` gives it a seat, paginates the slice (`pagination.paginate`, with the next request
sent ahead by a `Prefetcher`), normalizes every page in the thread and puts it on the run's
BOUNDED queue as a `PageBatch` carrying the slice's progress. The engine's calling thread is
the queue's only reader (`engine._Run`): it writes the pages and records the failures.

What crosses the queue, in each thread's order:
- `PageBatch`: one page's rows and rejects, and its slice's cursor after it;
- `Failed`: the slice's first error (the thread then goes on with other slices until the
  writer sets `stop`);
- `FINISHED`: the thread's last item. Every page it fetched is ahead of it, so the writer
  stops as soon as it has one per thread (polling the threads instead cost up to the queue's
  50 ms timeout at the end of every run).

`stop` is set only by the writer, after it recorded a first failure, while it is itself
failing, or at the end: a fetch thread checks it before each page and gives up a blocked put
once it is set, since nothing more needs to reach the writer (and it may be gone).
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass

from assets_sync.client import AssetsClient, Params
from assets_sync.gate import FetchGate
from assets_sync.latency import RecentDurations
from assets_sync.normalize import normalize
from assets_sync.pagination import BY_UPDATED, PaginationStats, paginate
from assets_sync.prefetch import Prefetcher
from assets_sync.run_config import SyncConfig
from assets_sync.scheduling import SliceScheduler
from assets_sync.sink import PageBatch, SliceState, StreamKey
from assets_sync.windows import Window

__all__ = ["FINISHED", "Failed", "FetchSide", "Finished", "Item", "throttled"]


@dataclass
class Failed:
    """A slice's first error, handed to the writer, which records the run as failed."""

    slice_id: str
    error: BaseException


class Finished:
    """A fetch thread's last item (see the module docstring)."""


FINISHED = Finished()
Item = PageBatch | Failed | Finished


def throttled(client: AssetsClient) -> bool:
    """Whether the client's rate limiter has learned a limit (the server throttled)."""
    pace = client.limiter.pace()
    return pace is not None and pace[1]


class FetchSide:
    """The fetch threads' shared state for one run: the queue to the writer, the stop flag,
    each slice's pagination counters and each page's CPU time."""

    def __init__(
        self,
        client: AssetsClient,
        stream: StreamKey,
        run_id: str,
        params: Params,
        config: SyncConfig,
    ) -> None:
        self.client = client
        self.stream = stream
        self.run_id = run_id
        self.params = params
        self.config = config
        self.stop = threading.Event()
        self.queue: queue.Queue[Item] = queue.Queue(config.max_pages_in_flight)
        self.slice_stats: list[PaginationStats] = []
        #: CPU seconds of each page in its fetch thread (request, parsing, normalizing)
        self.page_work = RecentDurations()

    def loop(self, scheduler: SliceScheduler, gate: FetchGate) -> None:
        """One fetch thread: slices from the scheduler until none is left or the run stops."""
        try:
            while gate.seat(self.stop):
                try:
                    state = scheduler.take(self.stop)
                    if state is None:
                        return
                    try:
                        self._fetch_slice(state, scheduler, gate)
                    finally:
                        scheduler.release(state.slice_id)
                finally:
                    gate.unseat()
        finally:
            self.put(FINISHED)

    def _fetch_slice(self, state: SliceState, scheduler: SliceScheduler, gate: FetchGate) -> None:
        stats = PaginationStats()
        self.slice_stats.append(stats)
        sid = state.slice_id
        fetch = Prefetcher(self.client)  # sends ahead only while the limiter does not pace
        try:
            steps = paginate(
                fetch,
                Window(state.lo_ms, state.hi_ms),
                state.cursor_ms,
                key=BY_UPDATED,
                base_params=self.params,
                page_size=self.config.page_size,
                max_tie_passes=self.config.max_tie_passes,
                stats=stats,
                bound=lambda: scheduler.bound(sid),
                on_tie_group=lambda stamp: scheduler.split_at(sid, stamp),
                prefetch=fetch.hint,
            )
            cursor = state.cursor_ms
            work, cpu = self.page_work, time.thread_time
            while True:
                with gate:  # one page: its request(s), normalization and hand-over
                    started = cpu()
                    step = None if self.stop.is_set() else next(steps, None)
                    if step is None:
                        return
                    if not step.records and step.cursor_ms == cursor and not step.done:
                        continue
                    cursor = step.cursor_ms
                    assets, rejects = normalize(step.records, self.stream.project_id)
                    work.add(cpu() - started)
                    progress = scheduler.advance(sid, cursor, step.done, len(step.records))
                    self.put(PageBatch(self.run_id, self.stream, assets, rejects, progress))
                    if progress.done:
                        return
        except BaseException as exc:  # noqa: BLE001 - handed to the writer, which re-raises
            self.put(Failed(sid, exc))
        finally:
            fetch.cancel()

    def put(self, item: Item) -> None:
        """Blocking put that gives up when the run is stopping (see the module docstring)."""
        while True:
            try:
                self.queue.put(item, timeout=0.1)
                return
            except queue.Full:
                if self.stop.is_set():
                    return
