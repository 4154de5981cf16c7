"""The shared limiter: steady rate, multiplicative decrease on 429, recovery, pauses."""

from __future__ import annotations

import threading

from assets_sync.ratelimit import RateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def limiter(**kw: float) -> tuple[RateLimiter, FakeClock]:
    clock = FakeClock()
    return RateLimiter(clock=clock, sleep=clock.sleep, **kw), clock  # type: ignore[arg-type]


def test_steady_rate_after_the_burst() -> None:
    lim, clock = limiter(max_rate=10.0, burst=1.0)
    for _ in range(21):
        lim.acquire()
    assert abs(clock.now - 2.0) < 1e-6  # 1 free + 20 at 10/s


def test_throttle_halves_once_per_cooldown_and_recovers() -> None:
    lim, clock = limiter(max_rate=10.0, min_rate=1.0, increase=1.0, cooldown_s=1.0)
    lim.on_throttle()
    lim.on_throttle()  # same burst of 429s: counted once
    assert lim.rate == 5.0
    clock.now += 2
    lim.on_throttle()
    assert lim.rate == 2.5
    for _ in range(20):
        lim.on_success()
    assert lim.rate == 10.0
    for _ in range(10):
        clock.now += 2
        lim.on_throttle()
    assert lim.rate == 1.0  # floor


def test_retry_after_pauses_everyone() -> None:
    lim, clock = limiter(max_rate=100.0)
    lim.on_throttle(retry_after_s=5.0)
    lim.acquire()
    assert clock.now >= 5.0


def test_thread_safe_token_accounting() -> None:
    lim = RateLimiter(max_rate=2000.0, burst=50.0)
    granted = []

    def worker() -> None:
        for _ in range(50):
            lim.acquire()
            granted.append(1)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(granted) == 200
