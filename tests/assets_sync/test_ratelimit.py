"""The shared limiter: no cap until a 429, slow start, learned pace, per-request and global
hints, thread safety."""

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
    """`ok` requests, one every `dt`, each granted then answered 200."""
    for _ in range(ok):
        clock.now += dt
        lim.acquire()
        lim.on_success()


def throttled(lim: RateLimiter, clock: FakeClock, hint: float | None) -> float:
    """One request granted now and answered 429; returns the seconds its grant waited."""
    waited = lim.acquire()
    lim.on_throttle(hint)
    return waited


def test_the_first_429_pauses_everyone_for_the_probe_and_bounds_the_rate() -> None:
    lim, clock = limiter(initial_rate=1000.0, margin=0.9, probe=0.0, probe_pause_s=1.0)
    lim.acquire()  # the first request starts the clock at t=0
    drive(lim, clock, 40, 0.025)  # 40 ok in 1 s, the server's initial burst included
    throttled(lim, clock, 1.0)
    assert lim.episodes == 1 and lim.rate == pytest.approx(0.9 * 39.5, rel=1e-3)
    before = clock.now
    lim.acquire()  # nothing is learned yet: everyone waits for the bucket to refill
    assert clock.now == pytest.approx(before + 1.0)


def test_a_short_hint_delays_only_the_throttled_request() -> None:
    lim, clock = limiter(initial_rate=1000.0, margin=0.9, probe=0.0, probe_pause_s=1.0)
    lim.acquire()  # the first request starts the clock at t=0
    drive(lim, clock, 40, 0.025)
    throttled(lim, clock, 1.0)  # t=1: the bucket is empty, probe pause until t=2
    drive(lim, clock, 1, 1.0)
    drive(lim, clock, 9, 0.05)  # 10 ok in (1, 2.45]
    clock.now += 0.05
    throttled(lim, clock, 1.0)  # t=2.5: empty again: 10 tokens refilled in 1.5 s
    assert lim.episodes == 2 and lim.rate == pytest.approx(0.9 * 9.5 / 1.5)
    before = clock.now
    lim.acquire()  # another thread: paced at the learned rate, not held for the 1 s hint
    assert clock.now - before == pytest.approx(1.0 / lim.rate)
    # A request granted before that cut and throttled after it was in flight: same episode.
    lim._local.at = before - 0.01
    lim.on_throttle(1.0)
    assert lim.episodes == 2


def test_a_long_hint_pauses_everyone_and_is_capped_by_the_caller() -> None:
    lim, clock = limiter(initial_rate=1000.0, probe_pause_s=1.0, long_hint_s=2.0)
    lim.acquire()
    drive(lim, clock, 40, 0.025)
    throttled(lim, clock, 30.0)  # a quota window, even before anything is learned
    before = clock.now
    lim.acquire()
    assert clock.now == pytest.approx(before + 30.0)
    assert lim.is_long(2.5) and not lim.is_long(1.0)
    lim2, _ = limiter(initial_rate=1.0, long_hint_s=2.0, long_hint_gaps=4.0)
    assert not lim2.is_long(3.0)  # at 1 req/s a 3 s hint is the next token, not a ban


def test_never_above_the_throttled_pace_nor_below_min_rate() -> None:
    lim, clock = limiter(max_rate=10.0, min_rate=1.0, margin=0.5, probe_pause_s=0.0)
    drive(lim, clock, 100, 0.01)  # the pace was capped at 10
    throttled(lim, clock, None)
    first = lim.rate
    assert 4.5 < first <= 5.0  # margin x the measured rate, never above margin x the pace
    clock.now += 10.0  # nothing succeeded since: at most a `max_cut` cut
    throttled(lim, clock, None)
    assert lim.rate == pytest.approx(first / 2)
    for _ in range(3):
        clock.now += 10.0
        throttled(lim, clock, None)
    assert lim.rate == 1.0


def test_probe_after_an_episode_is_slow_and_capped() -> None:
    lim, clock = limiter(max_rate=12.0, probe=0.02, recovery=1.0, margin=1.0, probe_pause_s=0.0)
    drive(lim, clock, 10, 0.1)
    throttled(lim, clock, None)
    learned = lim.rate
    assert 8.0 < learned <= 10.0
    drive(lim, clock, 50, 0.1)
    assert lim.rate == pytest.approx(learned + 1.0)  # +0.02 per success
    drive(lim, clock, 500, 0.1)
    assert lim.rate == 12.0


def test_an_overflowed_probe_pause_recovers_fast_to_the_pace_that_emptied_the_bucket() -> None:
    lim, clock = limiter(initial_rate=40.0, margin=0.9, probe=0.02, recovery=10.0)
    lim.acquire()
    drive(lim, clock, 20, 0.025)  # 20 ok in 0.5 s: bucket 10 + 20/s refill
    throttled(lim, clock, 1.0)  # pace 0.9 x 39 = 35, probe pause 1 s
    clock.now += 1.0
    drive(lim, clock, 25, 1 / 35)  # the bucket held only 10 of the 20 tokens of the pause
    throttled(lim, clock, 1.0)
    slow = lim.rate
    assert slow < 0.9 * 20
    drive(lim, clock, 10, 0.05)
    assert lim.rate == pytest.approx(slow + 10 * 0.02 * 10.0)  # below the bound: fast


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


# -- carrying the pace from one run to the next --------------------------------------------


def test_a_learned_pace_resumes_past_slow_start() -> None:
    """A run that learned the server's limit (a 429) hands it on: the next limiter starts at
    that pace instead of slow start's, and does not ramp past it."""
    first, clock = limiter(initial_rate=20.0, ramp_s=0.25, probe=0.0)
    for _ in range(5):
        first.acquire()
    first.on_throttle(0.0)
    rate, learned = first.pace() or (0.0, False)
    assert learned and 0 < rate < 20 * 2 ** (clock.now / 0.25)
    nxt, clock2 = limiter(initial_rate=20.0, ramp_s=0.25, probe=0.0)
    nxt.resume(rate, learned)
    assert nxt.pace() == (rate, True)
    for _ in range(11):
        nxt.acquire()
    assert clock2.now == pytest.approx(10 / rate)  # 1 free, then the learned pace, no ramp


def test_an_unlearned_pace_goes_on_ramping_from_where_it_was() -> None:
    first, clock = limiter(initial_rate=20.0, ramp_s=0.25)
    first.acquire()
    clock.now = 1.0  # four doublings without a 429
    assert first.pace() == pytest.approx((320.0, False))
    nxt, clock2 = limiter(initial_rate=20.0, ramp_s=0.25)
    nxt.resume(320.0, False)
    nxt.acquire()
    clock2.now = 0.25
    assert nxt.pace() == pytest.approx((640.0, False))
    nxt.on_throttle(0.0)  # and its first 429 is slow start's first, as without resume
    assert nxt.pace() is not None and nxt.pace()[1] is True  # type: ignore[index]


def test_resume_is_clamped_and_ignored_once_requests_started() -> None:
    lim, _ = limiter(initial_rate=20.0, max_rate=50.0, min_rate=0.5)
    lim.resume(1000.0, True)
    assert lim.pace() == (50.0, True)
    low, _ = limiter(initial_rate=20.0, min_rate=0.5)
    low.resume(0.01, True)
    assert low.pace() == (0.5, True)
    for bad in (0.0, -1.0, math.inf, math.nan):
        fresh, _ = limiter(initial_rate=20.0)
        fresh.resume(bad, True)
        assert fresh.pace() == (20.0, False)
    started, _ = limiter(initial_rate=20.0)
    started.acquire()
    started.resume(300.0, True)
    assert started.pace() == (20.0, False)
    unlearned, _ = limiter(initial_rate=20.0)
    unlearned.resume(5.0, False)  # below where slow start begins: nothing to skip
    assert unlearned.pace() == (20.0, False)


def test_no_limit_hands_nothing_on() -> None:
    """`NoLimit` learned nothing: recording its pace would make the next real limiter skip
    slow start."""
    assert NoLimit().pace() is None
    nolimit = NoLimit()
    nolimit.resume(5.0, True)
    assert nolimit.acquire() == 0.0
