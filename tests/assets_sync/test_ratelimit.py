"""The shared limiter: no cap until a 429, slow start, learned pace, pauses, thread safety."""

from __future__ import annotations

import math
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assets_sync.ratelimit import NoLimit, RateLimiter


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


def test_no_cap_without_throttling() -> None:
    """Slow start doubles the pace every `ramp_s`: after a few seconds nothing waits."""
    lim, clock = limiter(initial_rate=20.0, ramp_s=0.25)
    lim.acquire()
    clock.now += 5.0
    assert lim.rate == math.inf
    before = clock.now
    for _ in range(10_000):
        lim.acquire()
    assert clock.now == before


def test_slow_start_paces_the_first_requests() -> None:
    lim, clock = limiter(initial_rate=20.0, ramp_s=0.25)
    for _ in range(5):
        lim.acquire()
    assert 0.15 < clock.now < 0.25  # ~20/s at first, not all at once


def drive(lim: RateLimiter, clock: FakeClock, ok: int, dt: float) -> None:
    for _ in range(ok):
        clock.now += dt
        lim.on_success()


def test_a_429_learns_the_rate_achieved_since_the_last_episode() -> None:
    lim, clock = limiter(initial_rate=1000.0, margin=0.9, probe=0.0, window_s=2.0)
    lim.acquire()
    drive(lim, clock, 40, 0.025)  # 40 ok in 1 s
    lim.on_throttle(1.0)
    assert lim.rate == pytest.approx(0.9 * 40)  # margin x the measured 40/s
    lim.on_throttle(1.0)  # in flight when the episode began: the same episode
    assert lim.episodes == 1 and lim.rate == pytest.approx(36.0)
    # Across the pause: 10 ok in 1 s paused + 0.25 s = 8/s (the server's refill rate).
    clock.now += 1.0
    drive(lim, clock, 10, 0.025)
    lim.on_throttle(1.0)
    assert lim.episodes == 2 and lim.rate == pytest.approx(0.9 * 8.0)


def test_never_above_the_throttled_pace_nor_below_min_rate() -> None:
    lim, clock = limiter(max_rate=10.0, min_rate=1.0, margin=0.5)
    lim.acquire()
    drive(lim, clock, 100, 0.01)  # 100/s measured, but the pace was capped at 10
    lim.on_throttle()
    assert lim.rate == 5.0
    clock.now += 10.0  # nothing succeeded since: the measured rate is 0
    lim.on_throttle()
    assert lim.rate == 1.0


def test_probe_after_an_episode_is_slow_and_capped() -> None:
    lim, clock = limiter(max_rate=12.0, probe=0.02, recovery=1.0, margin=1.0)
    lim.acquire()
    drive(lim, clock, 10, 0.1)
    lim.on_throttle()
    assert lim.rate == pytest.approx(10.0)
    drive(lim, clock, 50, 0.1)
    assert lim.rate == pytest.approx(11.0)  # +0.02 per success
    drive(lim, clock, 500, 0.1)
    assert lim.rate == 12.0


def test_retry_after_pauses_everyone() -> None:
    lim, clock = limiter(max_rate=100.0)
    lim.on_throttle(retry_after_s=5.0)
    lim.acquire()
    assert clock.now >= 5.0


def test_no_limit_never_waits() -> None:
    lim = NoLimit()
    lim.on_throttle(100.0)
    assert lim.acquire() == 0.0


@settings(max_examples=200, deadline=None)
@given(
    events=st.lists(
        st.tuples(
            st.sampled_from(("ok", "429", "acquire")),
            st.floats(0.0, 2.0),
            st.one_of(st.none(), st.floats(0.0, 3.0)),
        ),
        max_size=60,
    ),
    max_rate=st.floats(1.0, 1e5),
)
def test_rate_stays_within_bounds(
    events: list[tuple[str, float, float | None]], max_rate: float
) -> None:
    lim, clock = limiter(max_rate=max_rate, min_rate=0.5)
    for kind, dt, hint in events:
        clock.now += dt
        if kind == "ok":
            lim.on_success()
        elif kind == "429":
            lim.on_throttle(hint)
        else:
            waited = lim.acquire()
            assert 0.0 <= waited <= 3.0 + 2.0 + 1e-6  # a pause, then at most 1/min_rate
        assert 0.5 <= lim.rate <= max_rate or (lim.rate == math.inf and max_rate >= 1e6)


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
