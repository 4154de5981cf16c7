"""`FetchGate`: how many fetch threads may work at once, adjusted to whoever is the bottleneck.

A fetch thread waits for the server most of the time when requests are slow, and holds the
GIL most of the time when they are fast (loopback, a nearby API): then extra threads only add
GIL hand-offs. Measured over loopback, 100k assets: 12 threads 13.7-13.8 s, 4 threads
13.1-13.4 s, 2 threads 11.7 s (and 14-26 MB less), because the WRITER is the bottleneck there
and every CPU cycle the fetchers waste is one it does not get. At 100 ms per request, 12
threads are 6.45x one stream and 8 only 5.55x. No fixed number is right for both, so:

- the gate starts wide open (`hi`): slow servers need every thread from the first request;
- the engine reports, every half second, the share of time it spent blocked on the writer
  (both write buffers full). That share comes in bursts (blocked while a 10k-row write
  finishes, free while the next buffer fills: ~1.4 s a cycle over loopback), so the gate
  follows its moving average (`smoothing` of the newest report, about 1.5 s of memory);
- above `busy_share`, fetching outruns writing: the gate narrows by half (not below
  `lo`); under `idle_share`, with threads waiting at the gate, it widens by a half (not
  above `hi`).

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

    def __init__(self, lo: int, hi: int) -> None:
        if not 1 <= lo <= hi:
            raise ValueError(f"the gate needs 1 <= lo <= hi (got lo={lo}, hi={hi})")
        self.lo, self.hi = lo, hi
        self._limit = hi
        self.lowest = hi  # the narrowest the gate has been
        self._active = 0
        self._waiting = 0
        self._cond = threading.Condition()
        self.changes = 0  # how many times the limit moved (diagnostics and tests)
        self.smoothing = 0.3
        self._share = 0.0  # moving average of the blocked share

    @property
    def limit(self) -> int:
        return self._limit

    @property
    def waiting(self) -> int:
        return self._waiting

    def adjust(self, blocked_share: float) -> int:
        """Move the limit for the share of the last interval the writer was the bottleneck."""
        with self._cond:
            self._share += self.smoothing * (blocked_share - self._share)
            new = next_limit(self._limit, self._share, self._waiting, self.lo, self.hi)
            if new != self._limit:
                self.changes += 1
                self._limit = new
                self.lowest = min(self.lowest, new)
                self._cond.notify_all()
            return new

    def __enter__(self) -> FetchGate:
        with self._cond:
            self._waiting += 1
            try:
                while self._active >= self._limit:
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
