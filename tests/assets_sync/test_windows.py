"""Window arithmetic: exclusive bounds, exact coverage, watermark edges (Hypothesis)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from assets_sync.planning import committed_upto, frontier, plan_new_slices
from assets_sync.sink import SliceState
from assets_sync.windows import (
    MAX_MS,
    Window,
    format_iso_ms,
    parse_iso_ms,
    run_window,
    split,
    subtract,
)

instant = st.integers(0, MAX_MS)
small = st.integers(-50, 400)


def instants(w: Window) -> set[int]:
    return set(range(w.lo_ms + 1, w.hi_ms))


@given(instant)
def test_iso_round_trip(ms: int) -> None:
    text = format_iso_ms(ms)
    assert len(text) == 24 and text.endswith("Z")
    assert parse_iso_ms(text) == ms


def test_iso_examples() -> None:
    assert format_iso_ms(0) == "1970-01-01T00:00:00.000Z"
    assert parse_iso_ms("2024-05-01T12:00:00.123Z") == 1714564800123
    assert parse_iso_ms("2024-05-01T14:00:00.123+02:00") == 1714564800123
    assert parse_iso_ms("2024-05-01T12:00:00.123999Z") == 1714564800123  # floored
    assert parse_iso_ms("2024-05-01T12:00:00.123") == 1714564800123  # naive = UTC


@given(lo=small, size=st.integers(0, 300), n=st.integers(1, 12), min_size=st.integers(1, 50))
def test_split_covers_exactly_once(lo: int, size: int, n: int, min_size: int) -> None:
    w = Window(lo, lo + size + 1)
    parts = split(w, n, min_size)
    covered = [t for p in parts for t in instants(p)]
    assert sorted(covered) == sorted(instants(w))  # union exact, no overlap
    assert len(parts) <= n
    assert all(p.size >= min(min_size, w.size) for p in parts)


@given(
    lo=small,
    size=st.integers(0, 300),
    covered=st.lists(st.tuples(small, st.integers(0, 100)), max_size=6),
)
def test_subtract_leaves_exactly_the_uncovered(
    lo: int, size: int, covered: list[tuple[int, int]]
) -> None:
    w = Window(lo, lo + size + 1)
    cws = [Window(a, a + b) for a, b in covered]
    gaps = subtract(w, cws)
    expected = instants(w) - set().union(*(instants(c) for c in cws))
    got = [t for g in gaps for t in instants(g)]
    assert sorted(got) == sorted(expected)


@given(
    watermark=st.one_of(st.none(), small),
    lookback=st.integers(0, 100),
    start=st.integers(0, 1000),
    lag=st.integers(0, 100),
)
def test_consecutive_runs_leave_no_gap(
    watermark: int | None, lookback: int, start: int, lag: int
) -> None:
    """After a complete run the watermark is hi - 1; the next run starts at or before it."""
    w1 = run_window(watermark, lookback, start, lag, start_lo_ms=-1)
    new_wm = max(w1.hi_ms - 1, watermark if watermark is not None else -1)
    w2 = run_window(new_wm, 0, start + 500, lag, start_lo_ms=-1)
    assert w2.lo_ms <= new_wm  # the first instant after the watermark is in the next run
    assert new_wm + 1 in instants(w2) or w2.size == 0


@given(
    stamps=st.lists(st.tuples(st.integers(0, 200), st.integers(0, 60), st.booleans()), max_size=8)
)
def test_frontier_only_crosses_committed_instants(stamps: list[tuple[int, int, bool]]) -> None:
    slices = [
        SliceState(f"s{i}", lo, lo + 61, lo + c, done) for i, (lo, c, done) in enumerate(stamps)
    ]
    f = frontier(10, slices)
    committed = set(range(-5, 11))
    for s in slices:
        committed |= set(range(s.lo_ms + 1, committed_upto(s) + 1))
    assert all(t in committed for t in range(-5, f + 1))


def test_plan_fills_only_gaps_between_ledger_slices() -> None:
    ledger = [SliceState("a", 100, 200, 150), SliceState("b", 300, 400, 300, done=True)]
    fresh = plan_new_slices(Window(50, 500), ledger, max_slices=1, min_slice_ms=1)
    assert [(s.lo_ms, s.hi_ms) for s in fresh] == [(50, 101), (199, 301), (399, 500)]
    all_instants = set().union(*(instants(Window(s.lo_ms, s.hi_ms)) for s in [*ledger, *fresh]))
    assert instants(Window(50, 500)) <= all_instants
