"""`WriteBuffer`: the writer side of the engine's pipeline, buffered and double-buffered.

Pages arrive one at a time from the fetch threads. Committing each page alone wastes the
warehouse (a DuckDB commit has a fixed cost, and its per-row cost halves from 1.6k-row to
10k-row writes: benchmarks/RESULTS.md), so pages are buffered until one of:

- the buffer holds `max_rows` rows (assets + rejects),
- its oldest page has waited `max_delay_s` (bounds the work a crash can lose, and keeps
  progress moving when pages trickle in),
- the caller says the fetchers are done (`flush()`),
- the fetch is ending (what is left to fetch, `left()`, an estimate, fits in one buffer) and
  the buffer holds `max_rows // 10` to `max_rows // 4` rows: then it is handed over as soon
  as no write is in flight, so the write left after the last page is small. With a fixed
  size, the last 10k-row write started after the fetchers were done: about 0.6 s of tail,
  12 % of a 20k-asset sync at 100 ms per request (measured); there pages arrive slower than
  the writer writes, so the buffer is small whenever the writer is free. A larger buffer
  means pages arrive faster than the writer writes: it is filled to `max_rows` (or to the
  end of the fetch) instead, because a write of a whole `max_rows` (a row group of the
  warehouse's writer) is appended straight to the file, whereas a smaller one goes through
  DuckDB's WAL and is written again by the checkpoint that follows, and every write has a
  fixed cost. A 1M-asset incremental wrote 985 / 6,954 / 2,290 rows in 0.81 s where
  886 / 8,274 / 789 took 0.61 s: the first split's two commits took 0.2 s and 0.17 s (31 MB
  of WAL, then its checkpoint), a whole group's ~10 ms (benchmarks/RESULTS.md).

A due buffer is handed to ONE commit thread, and the caller goes on filling the next buffer
while it commits: the warehouse's native work (which releases the GIL) overlaps with fetching
and normalizing. At most one write is in flight, and writes run in submission order, so the
sink still sees a single writer and every slice's progress in order. Memory: at most two
buffers (the one committing and the one filling), each `max_rows` rows plus one page.

Coalescing (`coalesce_rows`): pages of ~100 rows are concatenated, as they arrive, into
batches of at least `coalesce_rows` rows, and the pages themselves are dropped. The sink gets
a few big batches it can scan as they are, instead of a hundred small ones it would have to
copy into one contiguous table while the pages are still alive: a 100k-asset sync peaked
~13 MB lower (benchmarks/RESULTS.md). Each slice's progress survives the merge: a merged group
is handed over as one `PageBatch` carrying every row (and the progress of the group's last
page) preceded by row-less `PageBatch`es carrying the last progress of each other slice in
the group, so the last progress of every slice, and the order of writes, are unchanged.

Errors: the first failure of a write is re-raised by the next `add()`/`poll()`/`flush()`
call, and no later write is started.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace

import pyarrow as pa

from assets_sync.sink import PageBatch

Commit = Callable[[list[PageBatch]], None]


class WriteBuffer:
    """Collects pages and commits them in big batches, one batch in flight at a time."""

    def __init__(
        self,
        commit: Commit,
        max_rows: int,
        max_delay_s: float,
        left: Callable[[], float] | None = None,
        coalesce_rows: int = 0,
    ) -> None:
        self._commit = commit
        self._left = left
        self._max_rows = max_rows
        self._max_delay_s = max_delay_s
        self._coalesce_rows = coalesce_rows
        self._pages: list[PageBatch] = []  # what the next write gets (coalesced groups)
        self._loose: list[PageBatch] = []  # pages not coalesced yet (fewer rows than that)
        self._loose_rows = 0
        self._rows = 0
        self._oldest = 0.0  # monotonic arrival time of the first buffered page
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="assets-write")
        self._inflight: Future[None] | None = None
        #: seconds the caller spent waiting because both buffers were full: the writer was
        #: the bottleneck (the engine narrows its fetch gate on it, gate.py)
        self.blocked_s = 0.0

    @property
    def full(self) -> bool:
        return self._rows >= self._max_rows

    def add(self, page: PageBatch) -> None:
        if not self._pages and not self._loose:
            self._oldest = time.monotonic()
        rows = page.assets.num_rows + page.rejects.num_rows
        self._rows += rows
        if self._coalesce_rows <= 1:
            self._pages.append(page)
        else:
            self._loose.append(page)
            self._loose_rows += rows
            if self._loose_rows >= self._coalesce_rows:
                self._settle()
        self.poll()

    def _settle(self) -> None:
        """Move the loose pages into the write's list, merged (`coalesce`)."""
        self._pages += coalesce(self._loose)
        self._loose, self._loose_rows = [], 0

    def poll(self) -> None:
        """Collect a finished write (raising its error); start the next one if it is due."""
        if self._inflight is not None and self._inflight.done():
            self._collect()
        if (self._pages or self._loose) and self._inflight is None and self._due():
            self._submit()
        elif self.full and self._inflight is not None:
            # Both buffers are full: wait for the write in flight (this is the backpressure
            # that stops the fetchers, through the bounded queue in front of us).
            t0 = time.monotonic()
            self._collect()
            self.blocked_s += time.monotonic() - t0
            self._submit()

    def flush(self) -> None:
        """Commit everything buffered and wait for it (the fetchers are done)."""
        if self._inflight is not None:
            self._collect()
        if self._pages or self._loose:
            self._submit()
            self._collect()

    def close(self) -> None:
        """Stop the commit thread; a write in flight is waited for, its error dropped (the
        caller is already unwinding from another one, or called `flush()` before)."""
        self._pool.shutdown(wait=True)

    def _due(self) -> bool:
        if self.full or time.monotonic() - self._oldest >= self._max_delay_s:
            return True
        if self._left is None or self._rows < self._max_rows // 10:
            return False
        return self._rows <= self._max_rows // 4 and self._left() <= self._max_rows

    def _submit(self) -> None:
        self._settle()
        pages, self._pages, self._rows = self._pages, [], 0
        self._inflight = self._pool.submit(self._commit, pages)

    def _collect(self) -> None:
        assert self._inflight is not None
        inflight, self._inflight = self._inflight, None
        inflight.result()  # re-raises the write's error


def coalesce(pages: Sequence[PageBatch]) -> list[PageBatch]:
    """The pages merged into as few `PageBatch`es as their run, stream and schemas allow.

    Consecutive pages of one run and stream, whose asset and reject batches have the same
    schemas, become one batch holding all their rows, with the progress of the last of them;
    it is preceded by a row-less `PageBatch` for each other slice among them, carrying that
    slice's last progress. Rows keep their order, and so does every slice's progress, so a
    sink writes the result exactly as it would write the pages.
    """
    out: list[PageBatch] = []
    group: list[PageBatch] = []
    for page in pages:
        if group and not _same_kind(group[0], page):
            out += _merged(group)
            group = []
        group.append(page)
    if group:
        out += _merged(group)
    return out


def _same_kind(a: PageBatch, b: PageBatch) -> bool:
    return (
        a.run_id == b.run_id
        and a.stream == b.stream
        and a.assets.schema.equals(b.assets.schema)
        and a.rejects.schema.equals(b.rejects.schema)
    )


def _merged(group: list[PageBatch]) -> list[PageBatch]:
    if len(group) == 1:
        return group
    last = group[-1]
    latest: dict[str, PageBatch] = {}  # slice -> its last page in the group, in order
    for p in group:
        latest.pop(p.progress.slice_id, None)
        latest[p.progress.slice_id] = p
    # Built empty, not sliced: a zero-row slice would keep its page's buffers alive.
    no_assets = pa.RecordBatch.from_pylist([], schema=last.assets.schema)
    no_rejects = pa.RecordBatch.from_pylist([], schema=last.rejects.schema)
    markers = [
        replace(p, assets=no_assets, rejects=no_rejects) for p in latest.values() if p is not last
    ]
    assets = pa.concat_batches([p.assets for p in group])
    rejects = pa.concat_batches([p.rejects for p in group])
    return [*markers, replace(last, assets=assets, rejects=rejects)]
