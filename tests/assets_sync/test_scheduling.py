"""SliceScheduler: planned slices first, then splits of running ones; pieces cover exactly once."""

from __future__ import annotations

import random
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assets_sync.scheduling import SliceScheduler, split_point
from assets_sync.sink import SliceState


def fresh(lo: int, hi: int) -> SliceState:
    return SliceState(f"{lo}-{hi}", lo, hi, lo)


def instants(s: SliceState) -> set[int]:
    """The updatedAt instants a slice covers: (lo, hi), both exclusive."""
    return set(range(s.lo_ms + 1, s.hi_ms))


@given(st.integers(-(10**12), 10**12), st.integers(0, 10**6))
def test_split_point_is_strictly_inside_the_rest(cursor: int, width: int) -> None:
    hi = cursor + width
    m = split_point(cursor, hi)
    if hi - 1 - cursor < 2:
        assert m is None
    else:
        assert m is not None and cursor < m < hi - 1


def test_planned_slices_come_first_in_order_then_none() -> None:
    a, b = fresh(0, 100), fresh(100, 200)
    sched = SliceScheduler([a, b])
    assert sched.take() == a and sched.take() == b
    sched.advance(a.slice_id, 99, True, 0)
    sched.advance(b.slice_id, 199, True, 0)
    assert sched.take() is None  # nothing pending, nothing running
    assert sched.splits == 0


def test_an_idle_thread_splits_the_slice_with_most_work_left() -> None:
    small, big = fresh(0, 1_000), fresh(1_000, 101_000)
    sched = SliceScheduler([small, big], page_size=100, min_split_pages=4)
    assert sched.take() == small and sched.take() == big
    sched.advance(small.slice_id, 100, False, 100)  # 100 records / 100 ms: 9 pages left
    sched.advance(big.slice_id, 2_000, False, 100)  # 100 records / 1000 ms: 99 pages left
    piece = sched.take()
    assert piece is not None and sched.splits == 1
    m = 2_000 + (101_000 - 1 - 2_000) // 2
    assert piece == SliceState(f"{m}-101000", m, 101_000, m)
    assert sched.bound(big.slice_id) == m + 1
    shrunk = SliceState(big.slice_id, big.lo_ms, m + 1, 2_000)
    assert instants(shrunk) | instants(piece) == instants(big)
    assert not instants(shrunk) & instants(piece)


def test_no_split_below_min_pages_or_without_a_density() -> None:
    a = fresh(0, 10_000)
    sched = SliceScheduler([a], page_size=100, min_split_pages=4)
    assert sched.take() == a
    stop = threading.Event()
    stop.set()
    assert sched.take(stop) is None  # no page back yet: density unknown, and stopping
    sched.advance(a.slice_id, 9_000, False, 300)  # 300 per 9000 ms: 1000 ms left = 0.3 pages
    assert sched.take(stop) is None and sched.splits == 0


def test_split_disabled_keeps_the_plan() -> None:
    a = fresh(0, 100_000)
    sched = SliceScheduler([a], split=False)
    assert sched.take() == a
    sched.advance(a.slice_id, 1_000, False, 100)
    assert sched.take() is None


def test_advance_clamps_a_cursor_past_a_shrunk_bound_and_finishes() -> None:
    a = fresh(0, 100_000)
    sched = SliceScheduler([a], min_split_pages=1)
    sched.take()
    sched.advance(a.slice_id, 10_000, False, 100)
    piece = sched.take()
    assert piece is not None
    bound = sched.bound(a.slice_id)
    # A page asked before the split went past the new bound: A's progress stops at its end.
    state = sched.advance(a.slice_id, bound + 500, False, 100)
    assert state.cursor_ms == bound - 1 and state.done and state.hi_ms == bound
    with pytest.raises(KeyError):
        sched.bound(a.slice_id)  # finished slices are no longer running


def test_a_cursor_never_moves_back() -> None:
    a = fresh(0, 1_000)
    sched = SliceScheduler([a])
    sched.take()
    sched.advance(a.slice_id, 500, False, 10)
    assert sched.advance(a.slice_id, 400, False, 0).cursor_ms == 500


def test_a_waiting_thread_gets_a_piece_once_density_is_known() -> None:
    a = fresh(0, 100_000)
    sched = SliceScheduler([a], page_size=100, min_split_pages=4)
    assert sched.take() == a
    got: list[SliceState | None] = []
    waiter = threading.Thread(target=lambda: got.append(sched.take()))
    waiter.start()
    waiter.join(0.3)
    assert waiter.is_alive()  # waiting: A runs, but nothing is known of its density yet
    sched.advance(a.slice_id, 1_000, False, 100)
    waiter.join(5)
    assert not waiter.is_alive() and got and got[0] is not None and got[0].lo_ms > 1_000


def test_a_waiting_thread_ends_when_the_last_slice_finishes() -> None:
    a = fresh(0, 100_000)
    sched = SliceScheduler([a])
    sched.take()
    got: list[SliceState | None] = []
    waiter = threading.Thread(target=lambda: got.append(sched.take()))
    waiter.start()
    sched.advance(a.slice_id, 99_999, True, 0)
    waiter.join(5)
    assert not waiter.is_alive() and got == [None]


def test_split_at_a_tie_group_queues_the_rest_first_and_keeps_the_group() -> None:
    a, b = fresh(0, 1_000), fresh(1_000, 2_000)
    sched = SliceScheduler([a, b])
    assert sched.take() == a
    sched.advance(a.slice_id, 100, False, 50)
    piece = sched.split_at(a.slice_id, 400)  # a's paginator met a group at 400
    assert piece == SliceState("400-1000", 400, 1_000, 400) and sched.splits == 1
    assert sched.bound(a.slice_id) == 401  # a lists the group, then ends
    assert sched.take() == piece  # before the planned b: it is work a would have done next
    assert sched.take() == b
    shrunk = SliceState(a.slice_id, a.lo_ms, 401, 100)
    assert instants(shrunk) | instants(piece) == instants(a)
    assert not instants(shrunk) & instants(piece)
    assert sched.advance(a.slice_id, 400, False, 0).done  # the group settled: a is done


def test_split_at_refuses_what_would_hand_over_nothing() -> None:
    a = fresh(0, 1_000)
    sched = SliceScheduler([a])
    assert sched.split_at(a.slice_id, 500) is None  # not running yet
    sched.take()
    sched.advance(a.slice_id, 300, False, 10)
    assert sched.split_at(a.slice_id, 300) is None  # not past the cursor
    assert sched.split_at(a.slice_id, 999) is None  # the group is the last instant
    assert sched.bound(a.slice_id) == 1_000 and sched.splits == 0
    off = SliceScheduler([fresh(0, 1_000)], split=False)
    off.take()
    assert off.split_at("0-1000", 500) is None and off.take() is None


def test_no_piece_takes_the_id_of_a_live_slice() -> None:
    """After a crash the ledger can hold a slice's old bound beside the piece cut from it;
    cutting the resumed slice at the same instant again would give a second live slice with
    the piece's id (one ledger row for two slices): the slice is then left whole."""
    a, b = fresh(0, 1_000), SliceState("400-1000", 400, 1_000, 650)  # b: resumed piece
    sched = SliceScheduler([a, b], page_size=10, min_split_pages=1)
    assert sched.take() == a
    sched.advance(a.slice_id, 100, False, 50)
    assert sched.split_at(a.slice_id, 400) is None  # b is pending
    assert sched.take() == b
    assert sched.split_at(a.slice_id, 400) is None  # b is running
    assert sched.bound(a.slice_id) == 1_000 and sched.splits == 0
    # the same for an idle thread's split: c at cursor 1 would be cut at 500
    c, d = fresh(0, 1_000), SliceState("500-1000", 500, 1_000, 700)
    sched = SliceScheduler([c, d], page_size=10, min_split_pages=1)
    assert sched.take() == c and sched.take() == d
    sched.advance(c.slice_id, 1, False, 100)  # dense: ~100k records left, far over a page
    stop = threading.Event()
    stop.set()
    assert sched.take(stop) is None and sched.bound(c.slice_id) == 1_000


def test_a_split_off_rest_inherits_its_parents_density() -> None:
    a = fresh(0, 10_000)
    sched = SliceScheduler([a], page_size=100)
    sched.take()
    sched.advance(a.slice_id, 1_000, False, 100)  # 0.1 record per ms
    sched.split_at(a.slice_id, 5_000)
    # a: 4,000 ms left (400 records); the queued rest: 4,999 ms (~500 records)
    assert sched.rows_left() == pytest.approx(0.1 * (4_000 + 4_999))


def test_release_wakes_waiters_and_stops_splitting_that_slice() -> None:
    a = fresh(0, 100_000)
    sched = SliceScheduler([a])
    sched.take()
    sched.advance(a.slice_id, 1_000, False, 100)
    sched.release(a.slice_id)
    assert sched.take() is None


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(1, 50_000), min_size=1, max_size=5),
    st.integers(0, 2**32 - 1),
)
def test_any_interleaving_covers_every_instant_exactly_once(widths: list[int], seed: int) -> None:
    """Random takes (splits), splits at tie groups and cursor advances, one step at a time,
    until every slice is done: the final slices partition the planned windows, and every
    instant was committed."""
    rng = random.Random(seed)
    planned, lo = [], 0
    for w in widths:
        planned.append(fresh(lo, lo + w + 1))
        lo += w
    sched = SliceScheduler(planned, page_size=10, min_split_pages=rng.choice([0.5, 2, 4]))
    final: dict[str, SliceState] = {}
    running: dict[str, SliceState] = {}
    stop = threading.Event()
    stop.set()  # take() must not wait in a single-threaded simulation
    for _ in range(10_000):
        if not running or rng.random() < 0.3:
            state = sched.take() if not running else sched.take(stop)
            if state is None and not running:
                break
            if state is not None:
                assert state.slice_id not in running and state.slice_id not in final
                running[state.slice_id] = state
            continue
        sid = rng.choice(sorted(running))
        cur = running[sid]
        bound = sched.bound(sid)
        if rng.random() < 0.1:  # its paginator meets a tie group somewhere ahead
            sched.split_at(sid, rng.randint(cur.cursor_ms, bound))
            continue
        step = rng.randint(0, max(1, (bound - cur.cursor_ms) // 2 + 5))  # may overshoot
        target = cur.cursor_ms + step
        done = target >= bound - 1 and rng.random() < 0.5
        state = sched.advance(sid, target, done, rng.randint(0, 20))
        assert state.lo_ms <= state.cursor_ms <= state.hi_ms - 1
        running[sid] = state
        if state.done:
            final[sid] = running.pop(sid)
    else:
        pytest.fail("the simulation did not finish")
    covered: list[int] = []
    for s in final.values():
        covered.extend(instants(s))
        assert s.done and s.cursor_ms == s.hi_ms - 1
    expected = set().union(*(instants(p) for p in planned))
    assert sorted(covered) == sorted(expected)  # every instant, exactly once
    assert len(final) == len(planned) + sched.splits
