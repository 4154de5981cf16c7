"""`FetchGate`: how many fetch threads may work at once, adjusted to whoever is the bottleneck.

A fetch thread waits for the server most of the time when requests are slow, and holds the
GIL most of the time when they are fast (loopback, a nearby API): then extra threads only add
GIL hand-offs. No fixed number is right for both (latency.py has the numbers), so two bounds
move independently, and the threads allowed in are the lower of the two:

- the CAP follows the server (`set_cap`, from `latency.next_fetchers`): it starts at
  `start` (`SyncConfig.initial_fetchers`, a few threads), drops while requests queue at the
  server or for the GIL, and doubles while they do not (100 ms per request: 6, then 12
  after the first round of answers), but never beyond the threads whose pages' work one
  answer's wait can hide (`latency.useful_fetchers`; loopback: 1) while the server does not
  throttle. Request times taken among 12 competing
  threads are inflated several times over loopback, so the cap starts low, where they are
  accurate;
- the LIMIT follows the writer: the engine reports, every half second, the share of time it
  spent blocked on the writer (both write buffers full). That share comes in bursts (blocked
  while a 10k-row write finishes, free while the next buffer fills: ~1.4 s a cycle over
  loopback), so the gate follows its moving average (`smoothing` of the newest report,
  about 1.5 s of memory). Above `busy_share`, fetching outruns writing: the bound in force
  is halved (not below `lo`); under `idle_share`, with threads waiting at the gate, the
  limit widens by a half (not above `hi`). Measured over loopback before the cap existed:
  12 threads 13.7 s per 100k assets, 2 threads 11.7 s, because the writer was the bottleneck
  and every CPU cycle the fetchers waste is one it does not get.

Two doors use the same bound: `seat()` before a thread takes a slice, and `with gate:`
around each page. A thread beyond the bound therefore waits without a slice instead of
sitting on one that nobody fetches (which the working threads would then split, one extra
request each: 36 splits instead of 3 per 100k assets, measured).

The gate only orders when threads fetch; which pages are fetched and how they are committed
do not change, so no guarantee of the engine depends on it.
"""

from __future__ import annotations

import math
import threading
from types import TracebackType


def next_limit(
    limit: int,
    blocked_share: float,
    waiting: int,
    lo: int,
    hi: int,
    busy_share: float = 0.25,
    idle_share: float = 0.05,
) -> int:
    """The gate's next limit; see the module docstring. Always within [lo, hi]."""
    if blocked_share > busy_share:
        limit = limit - max(1, limit // 2)
    elif blocked_share < idle_share and waiting > 0:
        limit = limit + max(1, math.ceil(limit / 2))
    return max(lo, min(hi, limit))


class FetchGate:
    """A resizable semaphore for the fetch threads: `with gate:` around each page."""

    def __init__(self, lo: int, hi: int, start: int | None = None) -> None:
        if not 1 <= lo <= hi:
            raise ValueError(f"the gate needs 1 <= lo <= hi (got lo={lo}, hi={hi})")
        self.lo, self.hi = lo, hi
        self._limit = hi
        self._cap = hi if start is None else max(lo, min(hi, start))
        self.lowest = self._cap  # the narrowest the gate has been
        self.highest = self._cap  # the widest the gate has been
        self._active = 0
        self._seated = 0  # threads holding a slice (see `seat`)
        self._waiting = 0
        self._cond = threading.Condition()
        self.changes = 0  # how many times the limit moved (diagnostics and tests)
        self.smoothing = 0.3
        self._share = 0.0  # moving average of the blocked share

    @property
    def limit(self) -> int:
        """How many threads may be inside now: the lower of the writer's and the latency's."""
        return min(self._limit, self._cap)

    @property
    def cap_binds(self) -> bool:
        """The cap, not the writer, is what holds threads back, and some are held back."""
        with self._cond:
            return self._cap <= self._limit and self._waiting > 0

    def set_cap(self, cap: int) -> int:
        """Bound the limit by `cap` (clamped to [lo, hi]), the latency's thread count."""
        with self._cond:
            cap = max(self.lo, min(self.hi, cap))
            if cap != self._cap:
                self._cap = cap
                self._moved()
            return cap

    def _moved(self) -> None:
        """After a bound moved (lock held): count it, track the range, wake the waiters."""
        self.changes += 1
        now = min(self._limit, self._cap)
        self.lowest = min(self.lowest, now)
        self.highest = max(self.highest, now)
        self._cond.notify_all()

    @property
    def waiting(self) -> int:
        return self._waiting

    def adjust(self, blocked_share: float) -> int:
        """Move the limit for the share of the last interval the writer was the bottleneck."""
        with self._cond:
            self._share += self.smoothing * (blocked_share - self._share)
            # Narrow from the limit in force (halving a bound far above the cap would change
            # nothing); widen the writer's own bound (the cap may be what holds threads back).
            base = min(self._limit, self._cap)
            new = next_limit(base, self._share, self._waiting, self.lo, self.hi)
            if new >= base:
                new = next_limit(self._limit, self._share, self._waiting, self.lo, self.hi)
            if new != self._limit:
                self._limit = new
                self._moved()
            return new

    def seat(self, stop: threading.Event) -> bool:
        """Wait until fewer threads hold a slice than the limit allows, then hold a seat.

        A thread takes a slice only once seated, so threads beyond the limit wait WITHOUT a
        slice: otherwise each would sit on one that nobody fetches, and the threads that do
        work would split those slices for nothing. False (no seat) once `stop` is set.
        """
        with self._cond:
            self._waiting += 1
            try:
                while not stop.is_set() and self._seated >= min(self._limit, self._cap):
                    self._cond.wait(timeout=0.1)
                if stop.is_set():
                    return False
            finally:
                self._waiting -= 1
            self._seated += 1
            return True

    def unseat(self) -> None:
        with self._cond:
            self._seated -= 1
            self._cond.notify_all()

    def __enter__(self) -> FetchGate:
        with self._cond:
            self._waiting += 1
            try:
                while self._active >= min(self._limit, self._cap):
                    self._cond.wait()
            finally:
                self._waiting -= 1
            self._active += 1
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with self._cond:
            self._active -= 1
            self._cond.notify()
