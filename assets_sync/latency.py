"""How many fetch threads the server's answers call for, read from the request times.

Fetch threads exist to hide the server's latency: while one waits for a page, another parses
and normalizes the page before. When the server answers fast (loopback, a nearby API) the
threads only queue: at the server, and for the GIL after each socket read, and every extra
thread COSTS CPU (GIL hand-offs, caches). Measured on this 2-core box, 100k emulator assets:
per-page CPU of a fetch thread 5.2 ms alone and 8-14 ms among 12; 12 threads 12.4-13.3 s of
work, 3 threads 10.8-11.1 s. At 100 ms per request 12 threads are 6.3-6.9x one stream, 8 only
5.5x. No fixed number is right for both.

The queueing shows in the request times, as in TCP Vegas: with `n` requests in flight,
`n * (1 - least / now)` of them wait beyond the best time seen (`least`: the fastest recent
request; `now`: the median of the latest round, one request per thread). Over loopback that
is 3 or more at 4 threads (requests take 10-20 ms for a server that answers in 4-5 ms); at
100 ms latency it stays near 0 at 12 threads (105 ms against 103 ms). `next_fetchers` removes
threads while more than `beta` requests queue and doubles them while fewer than `alpha` do.

Vegas cannot tell one thread from two: with one request in flight nothing queues, so it
would always double. What decides there is the work a thread does per page: a second thread
pays off only while the first one waits for the server longer than it works on a page
(`useful_fetchers`: one, plus the fastest request time over `HIDE_MARGIN` times the median CPU
time of a page, rounded down). Over loopback the fastest answer takes ~1.6-2.8 ms and a
page's work ~2-3.3 ms of CPU, so one thread fetches, and the GIL and the cores are left to
the writer. Measured on this 2-core box (1M emulator assets, issue 7's fifteenth session):
one fetch thread 35.0-36.7 s, two 43.1 s, the gate between 2 and 12 threads 47.3-49.1 s.
A server 3 ms away answers in ~3.8-4.5 ms: two threads (100k assets, no warehouse: one
thread 6.7-7.0 s, two 3.7-4.5 s; with the warehouse 5.7 s against 6.7-7.2 s). At 100 ms per
request the quotient is ~35: every thread. The engine applies it only while the server has
not throttled (`LatencySizer`): under a rate limit idle threads cost nothing, and one
thread alone would stall the sync for each 429's backoff.

The median of the latest round, not a longer window: after each change it reflects the new
count, and the first round is not mixed with the run's single planning request. The estimate
must also START low: requests measured while 12 threads
compete over loopback take 10-75 ms even at their fastest, which would look like a distant
server and keep all 12 (`SyncConfig.initial_fetchers`).
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable
from itertools import islice
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from assets_sync.gate import FetchGate

#: the quantile of the latest round of request times taken as "now"
REQUEST_QUANTILE = 0.5
#: fewer requests queued than this: double the threads; more than BETA: remove a quarter
ALPHA = 1.0
BETA = 3.0
#: a page's work, times this, must fit in the fastest answer for one more thread to pay off
#: (`useful_fetchers`): over loopback the fastest answers measured were 0.6-0.92 of a page's
#: work, 3 ms away 1.36-1.9 of it
HIDE_MARGIN = 1.15


def queued_requests(n: int, least_s: float, now_s: float) -> float:
    """Requests of `n` in flight that wait beyond the fastest time seen (never negative)."""
    if now_s <= 0 or least_s >= now_s:
        return 0.0
    return n * (1.0 - max(0.0, least_s) / now_s)


def next_fetchers(
    n: int,
    least_s: float,
    now_s: float,
    lo: int,
    hi: int,
    alpha: float = ALPHA,
    beta: float = BETA,
    *,
    widen: bool = True,
) -> int:
    """The fetch thread count after `n`, for requests at `now_s` against a best of `least_s`.

    Always within [lo, hi]. Decreases (or stays at `lo`) while more than `beta` requests
    queue, increases (or stays at `hi`) while fewer than `alpha` do, else stays. `widen`
    False: never increases (little queueing proves nothing when fewer than `n` threads
    were asking, at the end of a run or while the writer holds them back).
    """
    if not 1 <= lo <= hi:
        raise ValueError(f"need 1 <= lo <= hi (got lo={lo}, hi={hi})")
    queued = queued_requests(n, least_s, now_s)
    if queued > beta:
        n -= max(1, n // 4)
    elif queued < alpha and widen:
        n *= 2
    return max(lo, min(hi, n))


def useful_fetchers(least_s: float, work_s: float, margin: float = HIDE_MARGIN) -> int:
    """Fetch threads that still pay off: one, plus one per page's work (`work_s`, CPU seconds
    per page, times `margin`) that fits in the fastest answer (`least_s`). With no work
    measured, no bound."""
    if work_s <= 0:
        return 2**31 - 1
    return 1 + math.floor(max(0.0, least_s) / (work_s * margin))


class RecentDurations:
    """Durations (seconds) recorded from any thread, the latest `long_size` kept: quantiles of
    the latest `size` (or fewer), and the least of all kept (the server's recent best)."""

    def __init__(self, size: int = 32, long_size: int = 256) -> None:
        if not 1 <= size <= long_size:
            raise ValueError(f"need 1 <= size <= long_size (got {size}, {long_size})")
        self.size = size
        self._values: deque[float] = deque(maxlen=long_size)
        self._lock = threading.Lock()
        self.count = 0  # every duration ever recorded

    def add(self, seconds: float) -> None:
        with self._lock:
            self._values.append(seconds)
            self.count += 1

    def least(self) -> float | None:
        """The least of the latest `long_size` durations; None before any."""
        with self._lock:
            return min(self._values) if self._values else None

    def quantile(self, q: float, last: int | None = None, min_samples: int = 4) -> float | None:
        """The `q` quantile (nearest rank) of the latest `last` durations (at most `size`);
        None with fewer than `min_samples` of them."""
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"q must be within [0, 1] (got {q})")
        n = self.size if last is None else max(0, min(last, self.size))
        with self._lock:
            values = sorted(islice(reversed(self._values), n))
        if not values or len(values) < min_samples:
            return None
        return values[round(q * (len(values) - 1))]


class LatencySizer:
    """Moves the fetch gate's cap with the queueing the request times show (see above).

    Once per round of requests (one per thread allowed in, at least 4): `now` is the median
    of the round's request times, `least` the fastest recent one, and the cap becomes
    `next_fetchers(n, least, now)` for the `n` threads allowed in. It widens only while the
    cap is what holds threads back.

    While the server has not throttled (`throttled()` false: the client's rate limiter has
    learned no limit), the cap is also at most `useful_fetchers(least, work)`, `work` being
    the median CPU time of the round's pages in their fetch threads. Once the server throttles,
    its limit is the bottleneck and idle threads cost nothing; one thread would also stall
    the whole sync for each 429's backoff. Measured (20k assets, emulator at 20 req/s, burst
    10): the gate with the bound 20.1-20.9 s, without it 14.0 s. So the moment the server
    first throttles, the cap goes back to `start` at once: with a single thread, that
    thread's own backoff after the first 429 outlasted the rate limiter's probe pause, the
    limiter measured the server's rate short and paced at ~70 % of it for the rest of the
    run (3 runs of 4 at R = 20; 96 % once reopened).
    """

    def __init__(
        self,
        times: RecentDurations,
        work: RecentDurations,
        gate: FetchGate,
        throttled: Callable[[], bool],
        start: int,
    ) -> None:
        self.times, self.work, self.gate, self.throttled = times, work, gate, throttled
        self.start = start
        self.seen = times.count
        #: the server has throttled (and the cap went back to `start`); it stays so: the rate
        #: limiter never unlearns a limit
        self.reopened = False

    def update(self) -> None:
        if not self.reopened and self.throttled():
            self.reopened = True
            if self.gate.limit < self.start:
                self.gate.set_cap(self.start)
        count = self.times.count
        round_size = max(4, self.gate.limit)
        if count - self.seen < round_size:
            return
        self.seen = count
        now = self.times.quantile(REQUEST_QUANTILE, last=round_size)
        least = self.times.least()
        if now is not None and least is not None:
            gate = self.gate
            n = gate.limit
            new = next_fetchers(n, least, now, gate.lo, gate.hi, widen=gate.cap_binds)
            work = self.work.quantile(REQUEST_QUANTILE, last=round_size)
            if work is not None and not self.reopened:
                new = max(gate.lo, min(new, useful_fetchers(least, work)))
            if new != n:
                gate.set_cap(new)
