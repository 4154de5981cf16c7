"""latency.py: the Vegas-style thread count stays in bounds and moves the right way; the
request-time window keeps the right quantile and the least of the longer window."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assets_sync.latency import (
    ALPHA,
    BETA,
    HIDE_MARGIN,
    RecentDurations,
    next_fetchers,
    queued_requests,
    useful_fetchers,
)

seconds = st.floats(0.0, 10.0, allow_nan=False)


@given(st.integers(1, 64), seconds, seconds, st.integers(1, 16), st.integers(0, 48))
def test_next_fetchers_stays_in_bounds_and_moves_with_the_queue(
    n: int, least: float, now: float, lo: int, extra: int
) -> None:
    hi = lo + extra
    n = max(lo, min(hi, n))
    new = next_fetchers(n, least, now, lo, hi)
    assert lo <= new <= hi
    queued = queued_requests(n, least, now)
    assert 0.0 <= queued <= n
    if queued > BETA:
        assert new < n or new == lo
    elif queued < ALPHA:
        assert new > n or new == hi
    else:
        assert new == n


@given(st.integers(1, 64), seconds, seconds, seconds)
def test_slower_answers_never_ask_for_more_threads(
    n: int, least: float, now: float, slower: float
) -> None:
    assert next_fetchers(n, least, now + slower, 1, 64) <= next_fetchers(n, least, now, 1, 64)


def test_the_two_cases_it_was_built_for() -> None:
    # Loopback, measured: 4 threads, answers in 22 ms from a server at its best in 4.5 ms.
    assert next_fetchers(4, 0.0045, 0.0220, 2, 12) == 3
    assert next_fetchers(3, 0.0045, 0.0120, 2, 12) == 3  # ~1.9 queued: stays
    # 100 ms per request: 105 ms against a best of 103 ms queues nothing: all the threads.
    assert next_fetchers(4, 0.103, 0.105, 2, 12) == 8
    assert next_fetchers(8, 0.103, 0.105, 2, 12) == 12


@given(seconds, seconds, st.floats(1e-6, 1.0), st.floats(0.0, 1.0))
def test_useful_fetchers_grow_with_the_wait_and_shrink_with_the_work(
    least: float, more: float, work: float, extra: float
) -> None:
    n = useful_fetchers(least, work)
    assert n >= 1
    assert useful_fetchers(least + more, work) >= n  # a slower server: never fewer threads
    assert useful_fetchers(least, work + extra) <= n  # more work per page: never more
    # One thread per page's work (with the margin) that one answer hides, plus the first.
    step = work * HIDE_MARGIN
    assert (n - 1) * step <= least * (1 + 1e-9) and least < n * step * (1 + 1e-9)
    assert useful_fetchers(least, 0.0) > 1_000  # no work measured: no bound


def test_useful_fetchers_in_the_cases_measured() -> None:
    # Loopback: the first round among 6 threads (1M emulator assets: the fastest answer
    # 3.1 ms, a page's work 3.4 ms of CPU), then one thread (200k: 1.6 ms against 2.2 ms).
    assert useful_fetchers(0.0031, 0.0034) == 1
    assert useful_fetchers(0.0016, 0.0022) == 1
    # 3 ms away: 4.6 ms against 3.4 ms in the first round, 3.8 ms against 2.0 ms later.
    assert useful_fetchers(0.0046, 0.0034) == 2
    assert useful_fetchers(0.0038, 0.0020) == 2
    # 100 ms per request, ~2.5 ms of work per page: far more than the 12 threads.
    assert useful_fetchers(0.103, 0.0025) == 36


def test_bad_bounds_are_refused() -> None:
    with pytest.raises(ValueError, match="lo <= hi"):
        next_fetchers(2, 0.1, 0.1, 3, 2)
    with pytest.raises(ValueError, match="size"):
        RecentDurations(size=0)
    with pytest.raises(ValueError, match="within"):
        RecentDurations().quantile(1.5)


@given(st.lists(st.floats(0.0, 5.0, allow_nan=False), max_size=80), st.floats(0.0, 1.0))
def test_quantile_is_the_nearest_rank_of_the_last_ones_and_least_spans_the_long_window(
    values: list[float], q: float
) -> None:
    times = RecentDurations(size=8, long_size=32)
    for v in values:
        times.add(v)
    assert times.count == len(values)
    for last, latest in ((None, sorted(values[-8:])), (5, sorted(values[-5:]))):
        got = times.quantile(q, last=last)
        if len(latest) < 4:
            assert got is None
        else:
            assert got == latest[round(q * (len(latest) - 1))]
    assert times.least() == (min(values[-32:]) if values else None)


def test_durations_from_many_threads_are_all_counted() -> None:
    times = RecentDurations()

    def add() -> None:
        for i in range(500):
            times.add(i / 1000)

    threads = [threading.Thread(target=add) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    least = times.least()
    assert times.count == 4000 and least is not None and 0.0 <= least < 0.5
