"""A client-side rate limiter shared by every concurrent request of a client.

The API does not publish its limits, so the limiter learns them, and it does not cap anything
the server does not ask it to cap (a server that never throttles is never slowed down):

- slow start: the pace starts at `initial_rate` and doubles every `ramp_s` until the first 429
  (or `max_rate`, unlimited by default);
- the first 429 ends it. Nothing is learned yet (the rate since the start includes the server's
  initial burst), so everyone waits `min(Retry-After, probe_pause_s)`: the server's bucket refills
  for a known time, and the successes from there to the next 429 measure its rate;
- after that a SHORT `Retry-After` (at most `long_hint_s`, or `long_hint_gaps` request gaps at
  the current pace) is a per-request hint: the throttled request waits it (the client sleeps it
  before retrying), nobody else stops, and the pace becomes `margin` x the success rate measured
  since the previous 429 (the server's bucket was empty then and is empty now, so that count is
  its refill rate, counted minus half a token), over at most `window_s`; fewer than 3 successes
  measure nothing and the pace is cut by `max_cut` at most. A LONG
  `Retry-After` is a ban or quota window: everyone pauses for it (capped by the caller) and the
  measuring window restarts after it;
- a 429 of a request that started before the last cut was in flight: it changes nothing;
- between 429s the pace grows by `probe` req/s per success (a slow additive probe), `recovery`
  times faster while it is below `ceiling`: the rate measured at the last cut, or, when that
  measure may have missed tokens (the probe pause overflowed the server's burst), the pace that
  emptied the server's bucket.

Thread-safe: one lock around a few float updates and an append; waiting happens outside it. The
start of each thread's last request is kept in a thread-local, so the 429s and successes are
stamped when the server counted them, not when their answers were parsed.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

#: A pace this high is never waited for: `acquire` returns at once.
_UNLIMITED = 1e6


class RateLimiter:
    def __init__(
        self,
        max_rate: float = math.inf,
        *,
        initial_rate: float = 20.0,
        ramp_s: float = 0.25,
        min_rate: float = 0.5,
        burst: float = 1.0,
        margin: float = 0.9,
        probe: float = 0.02,
        recovery: float = 10.0,
        window_s: float = 4.0,
        cooldown_s: float = 0.5,
        probe_pause_s: float = 1.0,
        long_hint_s: float = 2.0,
        long_hint_gaps: float = 4.0,
        max_cut: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not (0 < min_rate <= max_rate):
            raise ValueError("need 0 < min_rate <= max_rate")
        if not (0 < margin <= 1 and initial_rate > 0 and ramp_s > 0 and burst >= 1):
            raise ValueError("need 0 < margin <= 1, initial_rate > 0, ramp_s > 0, burst >= 1")
        self.max_rate = max_rate
        self.min_rate = min_rate
        self.burst = burst
        self.margin = margin
        self.probe = probe
        self.recovery = recovery
        self.window_s = window_s
        self.cooldown_s = cooldown_s
        self.probe_pause_s = probe_pause_s
        self.long_hint_s = long_hint_s
        self.long_hint_gaps = long_hint_gaps
        self.max_cut = max_cut
        self.ramp_s = ramp_s
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._local = threading.local()  # `at`: when this thread's last request was granted
        self._rate = min(max_rate, max(min_rate, initial_rate))
        self._slow_start = True
        self._tokens = burst
        self._stamp = clock()
        self._started: float | None = None  # first acquire: slow start and measures count from it
        self._paused_until = -math.inf
        self._cut_at: float | None = None  # when the pace was last cut
        self._empty_at: float | None = None  # when the server's bucket was last seen empty
        self._quiet_end = -math.inf  # end of the last long pause: measures start after it
        self._probe: tuple[float, float, int] | None = None  # the probe pause: (start, end, ok)
        self._ok: deque[float] = deque(maxlen=100_000)  # success times, for the measured rate
        self._ok_total = 0
        self._ceiling = math.inf  # recover `recovery` times faster up to it
        self.episodes = 0

    def pace(self) -> tuple[float, bool] | None:
        """What a later run may start from (`resume`): the pace in requests per second (capped
        at a value that never binds), and whether it was learned from the server's 429s (True)
        or is only as far as slow start has ramped without meeting one (False). None: nothing
        to carry (`NoLimit`)."""
        with self._lock:
            self._ramp(self._clock())
            return min(self._rate, _UNLIMITED), not self._slow_start

    def resume(self, pace: float, learned: bool) -> None:
        """Start from an earlier run's `pace()` instead of `initial_rate`, before any request.

        A learned pace is the server's measured limit: the limiter starts there, past slow
        start, climbing back as after a cut (`recovery` below it). An unlearned one is how
        far slow start got without a 429: it goes on ramping from there. Either way the first
        429 corrects it as usual, so a stale pace (the server's limits changed, another API
        key) costs a few 429s, not a failed run. Ignored once requests have started, and
        never below `min_rate` nor above `max_rate`.
        """
        if not (pace > 0 and math.isfinite(pace)):
            return
        with self._lock:
            if self._started is not None:
                return
            rate = min(self.max_rate, max(self.min_rate, pace))
            if learned:
                self._rate = rate
                self._slow_start = False
                self._ceiling = rate
            elif rate > self._rate:
                self._rate = rate

    @property
    def rate(self) -> float:
        """The current pace in requests per second (`inf` once it no longer binds)."""
        with self._lock:
            self._ramp(self._clock())
            return math.inf if self._rate >= _UNLIMITED else self._rate

    def is_long(self, retry_after_s: float) -> bool:
        """Whether this `Retry-After` is a ban/quota window (everyone pauses) rather than the
        wait for the next token (only the throttled request waits)."""
        gap = 1.0 / self._rate if self._rate < _UNLIMITED else 0.0
        return retry_after_s > max(self.long_hint_s, self.long_hint_gaps * gap)

    def acquire(self) -> float:
        """Block until one request may start; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                if self._started is None:
                    self._started = self._stamp = now
                self._ramp(now)
                wait = max(0.0, self._paused_until - now)
                if wait == 0.0:
                    if self._rate >= _UNLIMITED:
                        self._local.at = now
                        return waited
                    self._refill(now)
                    if self._tokens >= 1.0 - 1e-9:  # tolerance: float refill can land at 0.99..
                        self._tokens = max(0.0, self._tokens - 1.0)
                        self._local.at = now
                        return waited
                    wait = max(1e-6, (1.0 - self._tokens) / self._rate)
            self._sleep(wait)
            waited += wait

    def on_success(self) -> None:
        with self._lock:
            now = self._clock()
            self._ok.append(self._granted_at(now))
            self._ok_total += 1
            if not self._slow_start:
                step = self.probe * (self.recovery if self._rate < self._ceiling else 1.0)
                self._rate = min(self.max_rate, self._rate + step)

    def on_throttle(self, retry_after_s: float | None = None) -> None:
        """A 429: the pace becomes `margin` x the measured rate; only a long hint pauses all."""
        with self._lock:
            now = self._clock()
            at = self._granted_at(now)
            self._ramp(now)
            self._refill(now)
            quiet_end = self._quiet_end  # measures start after the last long pause
            if retry_after_s and self.is_long(retry_after_s):
                self._quiet_end = max(self._quiet_end, now + retry_after_s)
                self._paused_until = max(self._paused_until, self._quiet_end)
            if self._cut_at is not None and (
                at < self._cut_at or (at == now and now < self._cut_at + self.cooldown_s)
            ):
                return  # started before the last cut (or unknown start, within the cooldown)
            first = self._slow_start
            since = self._empty_at if self._empty_at is not None else self._started
            since = max(since if since is not None else at, quiet_end, at - self.window_s)
            measured, count = self._count_since(at, since)
            new = self.margin * min(self._rate, measured)
            self._ceiling = new
            if first:
                pause = self.probe_pause_s if retry_after_s is None else retry_after_s
                pause = min(pause, self.probe_pause_s)
                self._paused_until = max(self._paused_until, now + pause)
                self._probe = (at, now + pause, self._ok_total)
            else:
                if count < 3:  # a handful of successes measures nothing: cut by `max_cut`
                    new = max(new, self.max_cut * self._rate)
                if self._probe is not None:
                    self._ceiling = self._probe_ceiling(measured, new)
                    self._probe = None
            self._rate = min(self.max_rate, max(self.min_rate, new))
            self._slow_start = False
            self._tokens = 0.0
            self._cut_at = now
            self._empty_at = at
            self.episodes += 1

    def _granted_at(self, now: float) -> float:
        """When this thread's request was granted (`now` if unknown); forgotten once used."""
        at: float = self._local.__dict__.pop("at", now)
        return min(now, at)

    def _probe_ceiling(self, measured: float, new: float) -> float:
        """After the probe pause: `new` when its measure is exact, else a bound to climb to.

        The bucket held `ok_before - rate x start` at the start (all successes before the first
        429 came from it and its refill); if the pause was longer than that over `measured`, it
        overflowed and `measured` missed tokens: the pace that then emptied the bucket bounds it.
        """
        if self._probe is None or self._started is None:
            return new
        start, end, ok_before = self._probe
        bucket = ok_before - measured * (start - self._started)
        if measured * (end - start) <= bucket:
            return new
        return self.margin * self._rate

    def _count_since(self, now: float, since: float) -> tuple[float, int]:
        """Successes per second in (since, now] (the current pace when that span is empty) and
        their count."""
        since = max(since, self._started if self._started is not None else now)
        ok = self._ok
        while ok and ok[0] <= now - self.window_s - 1.0:
            ok.popleft()
        count = sum(1 for t in ok if since < t <= now)  # stamps are request starts: unsorted
        span = now - since
        # The bucket held [0, 1) token at both ends: count - 0.5 leans to the safe side.
        return (max(0.0, count - 0.5) / span if span > 0 else self._rate), count

    def _ramp(self, now: float) -> None:
        """Slow start: the pace doubles every `ramp_s` since the first request."""
        if self._slow_start and self._started is not None and self._rate < self.max_rate:
            doublings = (now - self._stamp) / self.ramp_s
            if doublings > 0:
                self._refill(now)
                self._rate = min(self.max_rate, self._rate * 2.0 ** min(doublings, 64.0))

    def _refill(self, now: float) -> None:
        if self._rate < _UNLIMITED:
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self._rate)
        else:
            self._tokens = self.burst
        self._stamp = now


class NoLimit(RateLimiter):
    """A limiter that never waits (tests, benchmarks against the local emulator)."""

    def __init__(self) -> None:
        super().__init__(max_rate=math.inf, initial_rate=_UNLIMITED)
        self._slow_start = False

    def acquire(self) -> float:
        return 0.0

    def on_success(self) -> None:
        return None

    def on_throttle(self, retry_after_s: float | None = None) -> None:
        return None

    def pace(self) -> tuple[float, bool] | None:
        return None  # it learns nothing, and must not make a later limiter skip slow start

    def resume(self, pace: float, learned: bool) -> None:
        return None
