"""FetchGate: never more threads inside than the limit; narrows when the writer holds the run
back, widens when threads wait and the writer does not; the engine uses it end to end."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assets_sync.engine import SyncConfig, run_sync
from assets_sync.gate import FetchGate, next_limit
from assets_sync.latency import LatencySizer, RecentDurations
from assets_sync.memory_sink import MemorySink
from assets_sync.sink import PageBatch, StreamKey
from tests.assets_sync.fakeapi import FakeApi
from tests.assets_sync.test_engine import client_for, dataset

NOW = 2_000_000


class _Occupancy:
    """Counts the threads in a block and records, at each entry, how far over the gate's
    limit they were."""

    def __init__(self, gate: FetchGate) -> None:
        self.gate = gate
        self.inside = 0
        self.excess: list[int] = []
        self._lock = threading.Lock()

    def stay(self, seconds: float) -> None:
        with self._lock:
            self.inside += 1
            self.excess.append(self.inside - self.gate.limit)
        time.sleep(seconds)
        with self._lock:
            self.inside -= 1


@given(
    st.integers(1, 64),
    st.floats(0, 1),
    st.integers(0, 64),
    st.integers(1, 8),
    st.integers(0, 56),
)
def test_next_limit_moves_the_right_way_and_stays_in_bounds(
    limit: int, share: float, waiting: int, lo: int, extra: int
) -> None:
    hi = lo + extra
    limit = max(lo, min(hi, limit))
    new = next_limit(limit, share, waiting, lo, hi)
    assert lo <= new <= hi
    if share > 0.25:
        assert new < limit or new == lo
    elif share < 0.05 and waiting:
        assert new > limit or new == hi
    else:
        assert new == limit


def test_never_more_threads_inside_than_the_limit_even_while_it_moves() -> None:
    gate = FetchGate(2, 8)
    stop = threading.Event()
    room = _Occupancy(gate)

    def worker() -> None:
        while not stop.is_set():
            with gate:
                room.stay(0.001)

    threads = [threading.Thread(target=worker) for _ in range(12)]
    for t in threads:
        t.start()
    for share in (0.9,) * 3 + (0.0,) * 10 + (0.9,) * 3:  # narrow to 2, widen, narrow again
        time.sleep(0.02)
        gate.adjust(share)
    time.sleep(0.05)
    stop.set()
    for t in threads:
        t.join(5)
    # Threads already inside when the limit drops finish their page: only NEW entries obey
    # the lower limit at once, so the excess is bounded by what was inside before.
    assert max(room.excess) <= 8 - 2
    assert gate.lowest == 2 and gate.changes >= 3  # it went down, up, and down again


def test_a_wider_limit_wakes_the_waiting_threads() -> None:
    gate = FetchGate(1, 4)
    for _ in range(3):
        gate.adjust(1.0)  # the moving average passes busy_share: down to 1
    assert gate.limit == 1
    entered = threading.Event()
    with gate:
        waiter = threading.Thread(target=lambda: [entered.set() for _ in [gate.__enter__()]])
        waiter.start()
        time.sleep(0.05)
        assert not entered.is_set() and gate.waiting == 1
        for _ in range(10):
            gate.adjust(0.0)  # idle writer, a thread waiting: widen
        waiter.join(5)
        assert entered.is_set() and gate.limit > 1
    gate.__exit__(None, None, None)


def test_bad_bounds_are_refused() -> None:
    with pytest.raises(ValueError, match="lo <= hi"):
        FetchGate(3, 2)
    with pytest.raises(ValueError, match="min_active_fetchers"):
        SyncConfig(min_active_fetchers=0)


def _config(**kw: object) -> SyncConfig:
    base = dict(
        lookback_ms=100, settle_lag_ms=10, slices=8, concurrency=6, page_size=5,
        min_slice_ms=1, max_pages_in_flight=2, max_rows_per_write=20,
    )  # fmt: skip
    return SyncConfig(**(base | kw))  # type: ignore[arg-type]


def _distant(api: FakeApi, n: int) -> None:
    time.sleep(0.03)  # every answer takes 30 ms, however many are in flight


def test_a_slow_writer_narrows_the_gate_and_everything_still_arrives() -> None:
    # A distant server: the request times alone would keep every thread (next test).
    api = FakeApi(dataset(450), on_request=_distant)  # every timestamp before NOW
    sink = MemorySink()

    def slow(pages: Sequence[PageBatch]) -> None:
        time.sleep(0.3)  # the writer is the bottleneck

    sink.before_write = slow
    with client_for(api) as client:
        report = run_sync(client, sink, StreamKey("proj_test"), _config(), run_start_ms=NOW)
    assert set(sink.current) == set(api.assets)
    assert report.counts.fetchers_max == 6
    assert report.counts.fetchers_min == 1  # narrowed down to min_active_fetchers


def test_a_distant_server_gets_every_thread_and_a_fixed_gate_never_moves() -> None:
    for config, low in ((_config(initial_fetchers=2), 2), (_config(min_active_fetchers=6), 6)):
        api = FakeApi(dataset(200), on_request=_distant)
        sink = MemorySink()
        with client_for(api) as client:
            report = run_sync(client, sink, StreamKey("proj_test"), config, run_start_ms=NOW)
        assert set(sink.current) == set(api.assets)
        assert report.counts.fetchers_max == 6  # from initial_fetchers (2) up to concurrency
        assert report.counts.fetchers_min == low  # a fixed gate (lo == hi) never moved


def test_a_server_that_queues_gets_fewer_threads_and_everything_still_arrives() -> None:
    inflight = 0
    lock = threading.Lock()

    def queueing(api: FakeApi, n: int) -> None:
        nonlocal inflight
        with lock:
            inflight += 1
            mine = inflight
        time.sleep(0.002 * mine * mine)  # a server whose answers slow down with the load
        with lock:
            inflight -= 1

    api = FakeApi(dataset(450), on_request=queueing)
    sink = MemorySink()
    with client_for(api) as client:
        config = _config(initial_fetchers=4)
        report = run_sync(client, sink, StreamKey("proj_test"), config, run_start_ms=NOW)
    assert set(sink.current) == set(api.assets)
    assert report.counts.fetchers_max == 4  # never widened past initial_fetchers
    assert report.counts.fetchers_min < 4  # narrowed: more than 3 requests were queueing


def test_never_more_threads_hold_a_slice_than_the_limit() -> None:
    gate = FetchGate(1, 8, start=3)
    stop = threading.Event()
    room = _Occupancy(gate)

    def worker() -> None:
        while gate.seat(stop):
            room.stay(0.002)
            gate.unseat()

    threads = [threading.Thread(target=worker) for _ in range(10)]
    for t in threads:
        t.start()
    for cap in (3, 5, 2, 8, 1):
        time.sleep(0.03)
        gate.set_cap(cap)
    time.sleep(0.03)
    stop.set()
    for t in threads:
        t.join(5)
        assert not t.is_alive()  # `stop` releases the threads waiting for a seat
    # A lower cap binds new seats at once; seats taken before it are kept until left.
    assert max(room.excess) <= 8 - 1
    assert gate.lowest == 1 and gate.highest == 8
    assert gate.set_cap(99) == 8 and gate.set_cap(0) == 1  # clamped to [lo, hi]


def test_the_writer_narrows_from_the_limit_in_force_not_from_a_bound_above_it() -> None:
    gate = FetchGate(1, 12, start=4)
    assert gate.limit == 4
    for _ in range(3):
        gate.adjust(1.0)  # the writer holds the run back: halve what is in force (4), not 12
    assert gate.limit == 1
    gate.set_cap(12)
    assert gate.limit == 1  # the writer's bound still holds


def _sizer(throttled: bool) -> tuple[FetchGate, LatencySizer]:
    """A sizer over a gate of 6 threads (of 12) after one round of loopback-like numbers:
    answers in 1.0-1.2 ms, pages that take 3 ms of a fetch thread's CPU."""
    times, work = RecentDurations(), RecentDurations()
    gate = FetchGate(1, 12, start=6)
    sizer = LatencySizer(times, work, gate, lambda: throttled, 6)
    for i in range(6):
        times.add(0.0010 + 0.0002 * (i % 2))
        work.add(0.003)
    sizer.update()
    return gate, sizer


def test_pages_that_take_longer_than_the_answers_leave_one_fetcher() -> None:
    gate, _ = _sizer(throttled=False)
    assert gate.limit == 1  # no answer is long enough to hide a second page's work


def test_a_throttling_server_keeps_the_threads_the_request_times_ask_for() -> None:
    # The same numbers once the server has throttled: its limit is the bottleneck, and one
    # thread would stall the whole sync for each 429's backoff. Vegas alone: ~1 queued of 6.
    gate, _ = _sizer(throttled=True)
    assert gate.limit == 6


def test_the_first_429_reopens_the_gate_at_once() -> None:
    # One thread over a fast link; then the server throttles. Before the next round of
    # request times, the cap is back to its start, so that no lone thread's backoff skews
    # what the rate limiter measures after its probe pause. It happens once.
    times, work = RecentDurations(), RecentDurations()
    gate = FetchGate(1, 12, start=6)
    throttled = False
    sizer = LatencySizer(times, work, gate, lambda: throttled, 6)
    for _ in range(6):
        times.add(0.001)
        work.add(0.003)
    sizer.update()
    assert gate.limit == 1
    throttled = True
    sizer.update()  # no new request time: only the reopening
    assert gate.limit == 6 and sizer.reopened
    gate.set_cap(2)  # later rounds move it as usual
    sizer.update()
    assert gate.limit == 2
