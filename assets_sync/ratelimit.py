"""A client-side rate limiter shared by every concurrent request of a client.

The API does not publish its limits, so the limiter learns them, and it does not cap anything
the server does not ask it to cap (a server that never throttles is never slowed down):

- slow start: the pace starts at `initial_rate` and doubles every `ramp_s` until the first 429
  (or `max_rate`, unlimited by default). A handful of requests are in flight when the server's
  burst runs out, not every thread's worth, and the rate at the first 429 is a real bound;
- a 429 opens an episode (the 429s of requests already in flight within `cooldown_s` or the
  pause belong to the same one). Everyone pauses for the server's `Retry-After` (capped by the
  caller) and the pace becomes `margin` x the successful rate measured since the previous
  episode (its pause included) over at most `window_s`, never above `margin` x the pace that was
  throttled. Measured across a pause, that rate is the server's refill rate whenever the pause
  did not overflow the server's bucket; it is a lower bound otherwise;
- between episodes the pace grows by `probe` req/s per success (`probe` x rate per second when
  it binds: a slow additive probe), `recovery` times faster while it is below both the measured
  rate and `margin` x the rate achieved just before the 429, so the next 429 comes late and with few
  requests in flight.

Thread-safe: one lock around a few float updates and an append; waiting happens outside it.
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
        recovery: float = 5.0,
        window_s: float = 2.0,
        cooldown_s: float = 0.5,
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
        self.ramp_s = ramp_s
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._rate = min(max_rate, max(min_rate, initial_rate))
        self._slow_start = True
        self._tokens = burst
        self._stamp = clock()
        self._started: float | None = None  # first acquire: slow start and measures count from it
        self._paused_until = -math.inf
        self._episode_at: float | None = None  # start of the last 429 episode
        self._episode_until = -math.inf
        self._paused_until_prev = -math.inf  # end of the last episode's pause
        self._ok: deque[float] = deque(maxlen=100_000)  # success times, for the measured rate
        self._ceiling = math.inf  # `margin` x the pace last throttled: recover fast up to it
        self.episodes = 0

    @property
    def rate(self) -> float:
        """The current pace in requests per second (`inf` once it no longer binds)."""
        with self._lock:
            self._ramp(self._clock())
            return math.inf if self._rate >= _UNLIMITED else self._rate

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
                        return waited
                    self._refill(now)
                    if self._tokens >= 1.0 - 1e-9:  # tolerance: float refill can land at 0.99..
                        self._tokens = max(0.0, self._tokens - 1.0)
                        return waited
                    wait = max(1e-6, (1.0 - self._tokens) / self._rate)
            self._sleep(wait)
            waited += wait

    def on_success(self) -> None:
        with self._lock:
            now = self._clock()
            self._ok.append(now)
            if not self._slow_start:
                step = self.probe * (self.recovery if self._rate < self._ceiling else 1.0)
                self._rate = min(self.max_rate, self._rate + step)

    def on_throttle(self, retry_after_s: float | None = None) -> None:
        """A 429: pause everyone for the server's hint and, once per episode, re-learn the pace."""
        with self._lock:
            now = self._clock()
            self._ramp(now)
            self._refill(now)
            if retry_after_s:
                self._paused_until = max(self._paused_until, now + retry_after_s)
            if now < self._episode_until:
                return  # a request that was already in flight when the episode began
            measured = self._measured(now)
            resumed = max(self._paused_until_prev, now - 1.0)
            recent = self._count_since(now, resumed)
            self._ceiling = min(measured, self.margin * min(self._rate, recent))
            new = self.margin * min(self._rate, measured)
            self._rate = min(self.max_rate, max(self.min_rate, new))
            self._slow_start = False
            self._tokens = 0.0
            self._episode_at = now
            self._episode_until = max(self._paused_until, now + self.cooldown_s)
            self._paused_until_prev = self._paused_until
            self.episodes += 1

    def _measured(self, now: float) -> float:
        """Successes per second since the last episode (or the start), over at most `window_s`."""
        since = self._episode_at if self._episode_at is not None else self._started
        return self._count_since(now, max(now - self.window_s, since if since is not None else now))

    def _count_since(self, now: float, since: float) -> float:
        """Successes per second in (since, now]; the current pace when that span is empty."""
        since = max(since, self._started if self._started is not None else now)
        ok = self._ok
        while ok and ok[0] <= now - self.window_s:
            ok.popleft()
        count = 0
        for t in reversed(ok):
            if t <= since:
                break
            count += 1
        span = now - since
        return count / span if span > 0 else self._rate

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
