"""`SliceScheduler`: hands slices to fetch threads, and splits a running one when a thread idles.

Slices are cut by time before anything is known of the data, and a team's history is not
spread evenly in time: with a fixed plan, the last few slices are fetched by one or two
threads while the others have nothing left to do (at 100 ms per request, a third of a 20k-
asset first sync was such a tail, measured). So when a thread asks for work and no planned
slice is left, the scheduler splits the running slice with the most estimated work left:

    running A = (lo, hi) at cursor c    ->    A = (lo, m + 1)  and  new B = (m, hi),
                                               m = c + (hi - 1 - c) // 2

`A` keeps its id and its cursor; its paginator reads the new bound before its next seek
(`pagination.paginate(bound=...)`). `B` is an ordinary fresh slice. Together they cover
`(lo, hi)` exactly once, so the run's guarantees do not change:

- Nothing is lost: every instant of `(lo, hi)` is in A or B, and each is listed to its end.
- Progress stays truthful: a page that A asked for before the split may hold records past
  `m`; they are written (B lists them too; a replayed record changes nothing), and A's
  reported cursor is clamped to `m`, never claiming B's part.
- Crash safety: B reaches the ledger with its first page, A's new bound with its next page.
  If the run dies between the two, `(m, hi)` is in no ledger slice and above the committed
  frontier, so the next run plans it again as a gap. Nothing is skipped.

Estimated work = (hi - 1 - cursor) x the slice's density (records per ms over its pages so
far). A slice is split only if that is at least `min_split_pages` pages, so a thread never
takes a piece worth less than a couple of requests.

A slice is also split where its paginator meets a tie group (a full page of records at one
instant `L`, `pagination.paginate(on_tie_group=...)`): the group is listed in sequential token
passes, at least four requests for a group over a page, and the rest of the slice does not
depend on them. `split_at(id, L)` leaves `(lo, L + 1)` to the running thread and queues
`(L, hi)` first among the pending slices, so an idle thread lists it meanwhile (at 100 ms per
request the last second of a 20k-asset first sync was two slices each finishing a group and
then the rest of their slice, one request at a time, measured). The cut is the same as
above with `m = L`, so the same guarantees hold.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, replace

from assets_sync.planning import slice_id as window_id
from assets_sync.sink import SliceState
from assets_sync.windows import Window


def split_point(cursor_ms: int, hi_ms: int) -> int | None:
    """Where a running slice at `cursor_ms` below `hi_ms` (exclusive) is cut, or None if
    the rest `(cursor_ms, hi_ms)` is under 2 ms wide (nothing left to split)."""
    rest = hi_ms - 1 - cursor_ms
    if rest < 2:
        return None
    return cursor_ms + rest // 2


@dataclass
class _Running:
    state: SliceState
    records: int = 0  # records listed so far (after the first page's timestamp)
    listed_ms: int = 0  # the span of time they cover (sum of cursor advances)

    def pages_left(self, page_size: int) -> float:
        if self.listed_ms <= 0 or self.records <= 0:
            return 0.0  # no density known yet (first page not back): do not split
        rest = self.state.hi_ms - 1 - self.state.cursor_ms
        return rest * self.records / self.listed_ms / page_size


class SliceScheduler:
    """Thread-safe queue of slices for the fetch threads. See the module docstring."""

    def __init__(
        self,
        slices: Iterable[SliceState],
        *,
        page_size: int = 100,
        min_split_pages: float = 4.0,
        split: bool = True,
    ) -> None:
        self._pending = deque(_Running(s) for s in slices)
        self._running: dict[str, _Running] = {}
        self._page_size = page_size
        self._min_split_pages = min_split_pages
        self._split = split
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self.splits = 0

    def take(self, stop: threading.Event | None = None) -> SliceState | None:
        """The next slice to fetch: a planned one, else a piece split off a running one.

        With nothing to take yet, waits while slices are still running (one of them may
        become worth splitting once its first pages are back). None when nothing is pending
        or running any more, or when `stop` is set: the caller's thread may end.
        """
        with self._changed:
            while stop is None or not stop.is_set():
                if self._pending:
                    running = self._pending.popleft()
                elif self._split and (piece := self._split_one()) is not None:
                    running = piece
                elif not self._split or not self._running:
                    return None  # nothing to split, or never splitting: this thread may end
                else:
                    self._changed.wait(timeout=0.1)
                    continue
                self._running[running.state.slice_id] = running
                return running.state
            return None

    def bound(self, slice_id: str) -> int:
        """The current exclusive upper bound of a slice taken from this scheduler."""
        with self._lock:
            running = self._running.get(slice_id)
            if running is None:
                raise KeyError(f"slice {slice_id} is not running")
            return running.state.hi_ms

    def advance(self, slice_id: str, cursor_ms: int, done: bool, records: int) -> SliceState:
        """Record a step of the slice's paginator; returns the slice's progress to commit
        (current bounds, cursor clamped into them, `done` once the cursor reaches the end)."""
        with self._lock:
            running = self._running[slice_id]
            state = running.state
            last = state.hi_ms - 1
            cursor = min(max(cursor_ms, state.cursor_ms), last)
            finished = done or cursor >= last
            if finished:
                cursor = last
            if cursor > state.cursor_ms and records:
                running.records += records
                running.listed_ms += cursor - state.cursor_ms
            running.state = replace(state, cursor_ms=cursor, done=finished)
            if finished:
                del self._running[slice_id]
            self._changed.notify_all()
            return running.state

    def rows_left(self) -> float:
        """An estimate of the records still to fetch: infinite while a planned slice waits
        or a running one has no page back yet (nothing is known of its density)."""
        with self._lock:
            total = 0.0
            for running in (*self._pending, *self._running.values()):
                if running.listed_ms <= 0:
                    return math.inf
                total += running.pages_left(1)
            return total

    def split_at(self, slice_id: str, m: int) -> SliceState | None:
        """Cut a running slice at `m`, where its paginator met a tie group: it keeps
        `(lo, m + 1)`, and `(m, hi)` is queued before every other pending slice. Returns the
        queued piece, or None when splitting is off, the slice is not running, or `m` is not
        strictly between its cursor and its last instant (nothing to hand over)."""
        with self._lock:
            running = self._running.get(slice_id)
            if not self._split or running is None:
                return None
            state = running.state
            if not state.cursor_ms < m < state.hi_ms - 1 or self._live(Window(m, state.hi_ms)):
                return None
            running.state = replace(state, hi_ms=m + 1)
            self.splits += 1
            piece = self._piece(Window(m, state.hi_ms), running)
            self._pending.appendleft(piece)
            self._changed.notify_all()
            return piece.state

    def release(self, slice_id: str) -> None:
        """The thread stopped fetching the slice without finishing it (run stopping)."""
        with self._lock:
            self._running.pop(slice_id, None)
            self._changed.notify_all()

    def _split_one(self) -> _Running | None:
        best: _Running | None = None
        best_pages = 0.0
        for running in self._running.values():
            pages = running.pages_left(self._page_size)
            if pages >= self._min_split_pages and pages > best_pages:
                best, best_pages = running, pages
        if best is None:
            return None
        state = best.state
        m = split_point(state.cursor_ms, state.hi_ms)
        if m is None or self._live(Window(m, state.hi_ms)):
            return None
        best.state = replace(state, hi_ms=m + 1)
        self.splits += 1
        return self._piece(Window(m, state.hi_ms), best)

    def _live(self, w: Window) -> bool:
        """Whether a pending or running slice already has the id a piece `w` would get.

        Possible after a crash: the ledger can hold a slice's old bound beside a piece cut
        from it (the piece's first page committed before the slice's next one), and the
        resumed slice may then be cut at the same instant again. Two running slices with one
        id would share one ledger row, so the slice is not split (it lists the range again,
        beside the resumed piece: replays change nothing).
        """
        sid = window_id(w)
        return sid in self._running or any(p.state.slice_id == sid for p in self._pending)

    @staticmethod
    def _piece(w: Window, parent: _Running) -> _Running:
        # The piece starts with its parent's density: `rows_left` stays an estimate, not
        # "unknown", while its first page is on its way.
        piece = SliceState(window_id(w), w.lo_ms, w.hi_ms, w.lo_ms)
        return _Running(piece, parent.records, parent.listed_ms)
