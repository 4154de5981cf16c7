"""A client-side rate limiter shared by every concurrent request of a client.

Token bucket (`rate` requests per second, `burst` at most) with AIMD control: each 429 halves the
rate (at most once per `cooldown_s`, so the dozen requests in flight that hit the same limit
count as one signal) and pauses everyone for the server's `Retry-After`; each success adds
`increase` back, up to `max_rate`. The API does not publish its limits, so the limiter learns
them. Thread-safe; waiting happens outside the lock.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable


class RateLimiter:
    def __init__(
        self,
        max_rate: float = 20.0,
        *,
        min_rate: float = 1.0,
        burst: float | None = None,
        decrease: float = 0.5,
        increase: float = 0.2,
        cooldown_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not (0 < min_rate <= max_rate):
            raise ValueError("need 0 < min_rate <= max_rate")
        self.max_rate = max_rate
        self.min_rate = min_rate
        self.burst = burst if burst is not None else max(1.0, max_rate)
        self.decrease = decrease
        self.increase = increase
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._rate = max_rate
        self._tokens = self.burst
        self._stamp = clock()
        self._paused_until = -math.inf
        self._last_decrease = -math.inf

    @property
    def rate(self) -> float:
        with self._lock:
            return self._rate

    def acquire(self) -> float:
        """Block until one request may start; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                self._refill(now)
                wait = max(0.0, self._paused_until - now)
                if wait == 0.0:
                    if self._tokens >= 1.0 - 1e-9:  # tolerance: float refill can land at 0.99..
                        self._tokens = max(0.0, self._tokens - 1.0)
                        return waited
                    wait = max(1e-6, (1.0 - self._tokens) / self._rate)
            self._sleep(wait)
            waited += wait

    def on_success(self) -> None:
        with self._lock:
            self._rate = min(self.max_rate, self._rate + self.increase)

    def on_throttle(self, retry_after_s: float | None = None) -> None:
        """A 429: slow down multiplicatively and, with a server hint, pause every request."""
        with self._lock:
            now = self._clock()
            self._refill(now)
            if now - self._last_decrease >= self.cooldown_s:
                self._rate = max(self.min_rate, self._rate * self.decrease)
                self._tokens = min(self._tokens, 1.0)
                self._last_decrease = now
            if retry_after_s:
                self._paused_until = max(self._paused_until, now + retry_after_s)

    def _refill(self, now: float) -> None:
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now


class NoLimit(RateLimiter):
    """A limiter that never waits (tests, benchmarks against the local emulator)."""

    def __init__(self) -> None:
        super().__init__(max_rate=math.inf, min_rate=1.0)

    def acquire(self) -> float:
        return 0.0

    def on_throttle(self, retry_after_s: float | None = None) -> None:
        return None
