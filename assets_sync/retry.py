"""The retry policy, as data: what is retried, how long we wait, when we give up.

One request is retried when it fails with a `RetriableError` (429, 5xx, network errors, invalid
bodies) and never when it fails with a `FatalError`. Two budgets bound it:

- attempts: `max_attempts` for failures, counted separately from `max_throttled` for 429s,
  because throttling is the API asking us to wait, not the API being broken;
- time: no retry starts after `max_elapsed_s` since the first attempt, and a wait that would end
  past that deadline gives up at once rather than sleeping for nothing.

The wait before attempt n+1 is the server's hint when it gives one (`Retry-After`, then the
body's `remainingSeconds`), but never less than an exponential floor
`min(max_delay_s, base_delay_s * 2**(n-1))` with full jitter on top. So `Retry-After: 0` repeated
forever still backs off (0.25 s, 0.5 s, 1 s, ...) instead of spending the budget in a burst.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from assets_sync.errors import RetriableError, ThrottledError


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6  # failed attempts (non-429) before giving up
    max_throttled: int = 20  # 429 answers before giving up
    max_elapsed_s: float = 300.0
    base_delay_s: float = 0.25
    max_delay_s: float = 30.0
    max_server_hint_s: float = 120.0  # a larger Retry-After is capped to this
    jitter: float = 1.0  # fraction of the floor added at random, 0 = deterministic

    def should_retry(self, error: Exception, failures: int, throttles: int) -> bool:
        """Whether another attempt is allowed after `error` (counts include this failure)."""
        if not isinstance(error, RetriableError):
            return False
        if isinstance(error, ThrottledError):
            return throttles < self.max_throttled
        return failures < self.max_attempts

    def delay_s(
        self, error: Exception, consecutive: int, rng: random.Random | None = None
    ) -> float:
        """Seconds to wait after the `consecutive`-th failure in a row (1-based)."""
        floor = min(self.max_delay_s, self.base_delay_s * 2.0 ** max(0, consecutive - 1))
        draw: float = rng.random() if rng is not None else random.random()
        jitter = draw * floor * self.jitter
        hint = error.retry_after_s if isinstance(error, ThrottledError) else None
        if hint is not None:
            return max(min(hint, self.max_server_hint_s), floor) + jitter
        return floor + jitter


#: For tests and benchmarks against the local emulator: the same rules, tiny waits.
FAST_RETRY = RetryPolicy(base_delay_s=0.001, max_delay_s=0.01, max_server_hint_s=0.01)
