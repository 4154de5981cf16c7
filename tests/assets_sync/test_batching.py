"""WriteBuffer: big batches, one write in flight, order kept, errors surfaced, memory bounded."""

from __future__ import annotations

import math
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assets_sync.batching import WriteBuffer, coalesce
from assets_sync.normalize import normalize
from assets_sync.sink import PageBatch, SliceState, StreamKey
from tests.assets_sync.fakeapi import make_asset

STREAM = StreamKey(None)


def page(n: int, start: int = 0) -> PageBatch:
    assets, rejects = normalize([make_asset(start + i, 1000 + start + i) for i in range(n)])
    return PageBatch("run", STREAM, assets, rejects, SliceState("s", 0, 10**9, start + n, False))


class Recorder:
    def __init__(self, delay_s: float = 0.0, fail_on: int | None = None) -> None:
        self.writes: list[list[PageBatch]] = []
        self.delay_s = delay_s
        self.fail_on = fail_on
        self.concurrent = 0
        self.max_concurrent = 0
        self.lock = threading.Lock()

    def __call__(self, pages: list[PageBatch]) -> None:
        with self.lock:
            self.concurrent += 1
            self.max_concurrent = max(self.max_concurrent, self.concurrent)
        try:
            time.sleep(self.delay_s)
            if self.fail_on is not None and len(self.writes) + 1 == self.fail_on:
                raise OSError("disk full")
            self.writes.append(pages)
        finally:
            with self.lock:
                self.concurrent -= 1


def test_pages_are_batched_up_to_the_row_limit_and_kept_in_order() -> None:
    rec = Recorder()
    buf = WriteBuffer(rec, max_rows=25, max_delay_s=60)
    pages = [page(10, 10 * i) for i in range(10)]
    for p in pages:
        buf.add(p)
    buf.flush()
    buf.close()
    assert [len(w) for w in rec.writes] == [3, 3, 3, 1]
    assert [p for w in rec.writes for p in w] == pages


def test_a_slow_trickle_is_written_after_the_delay() -> None:
    rec = Recorder()
    buf = WriteBuffer(rec, max_rows=10_000, max_delay_s=0.05)
    buf.add(page(5))
    assert rec.writes == []
    time.sleep(0.08)
    buf.poll()
    buf.flush()
    buf.close()
    assert len(rec.writes) == 1 and len(rec.writes[0]) == 1


def test_one_write_in_flight_and_backpressure_bounds_memory() -> None:
    rec = Recorder(delay_s=0.02)
    buf = WriteBuffer(rec, max_rows=20, max_delay_s=60)
    for i in range(30):
        buf.add(page(10, 10 * i))
        # never more than the buffer filling plus the write in flight
        assert buf._rows < 20 + 10
    buf.flush()
    buf.close()
    assert rec.max_concurrent == 1
    assert sum(len(w) for w in rec.writes) == 30


def test_a_failed_write_is_raised_and_nothing_after_it_is_written() -> None:
    rec = Recorder(fail_on=2)
    buf = WriteBuffer(rec, max_rows=10, max_delay_s=60)
    with pytest.raises(OSError, match="disk full"):
        for i in range(10):
            buf.add(page(10, 10 * i))
        buf.flush()
    buf.close()
    assert len(rec.writes) == 1


def test_flush_of_an_empty_buffer_writes_nothing() -> None:
    rec = Recorder()
    buf = WriteBuffer(rec, max_rows=10, max_delay_s=0)
    buf.poll()
    buf.flush()
    buf.close()
    assert rec.writes == []


def test_when_the_fetch_is_ending_small_buffers_go_as_soon_as_the_writer_is_idle() -> None:
    """What is left to fetch fits in a buffer: a buffer of max_rows // 10 rows is written
    without waiting to fill, so the write left after the last page is small; nothing known
    of what is left: the row limit applies."""
    left = {"rows": math.inf}
    rec = Recorder()
    buf = WriteBuffer(rec, max_rows=100, max_delay_s=60, left=lambda: left["rows"])
    buf.add(page(5))
    buf.add(page(4, 5))
    assert rec.writes == []  # nothing known of what is left, 9 rows of 100: keep filling
    left["rows"] = 20
    buf.poll()
    assert rec.writes == []  # under 10 rows: still waits...
    buf.add(page(1, 9))  # ...10 rows = max_rows // 10: handed over at once
    buf.flush()
    buf.close()
    assert [len(w) for w in rec.writes] == [3]


def test_near_the_end_a_larger_buffer_is_filled_to_a_whole_write_or_to_the_end() -> None:
    """Over max_rows // 4 rows (pages arrive faster than the writer writes), a buffer is not
    handed over early: it is filled to a whole write (a row group appended straight to the
    file) or to the end of the fetch; a small one goes at once."""
    left = {"rows": 95.0}
    rec = Recorder()
    buf = WriteBuffer(rec, max_rows=100, max_delay_s=60, left=lambda: left["rows"])
    buf.add(page(12))  # 12 <= 25: handed over at once
    buf.flush()
    left["rows"] = 70
    buf.add(page(30, 12))  # 30 > 25: keep filling
    buf.poll()
    assert len(rec.writes) == 1
    left["rows"] = 11
    buf.add(page(70, 42))  # full: handed over
    left["rows"] = 0
    buf.add(page(11, 112))  # 11: handed over at once
    buf.flush()
    left["rows"] = 5
    buf.add(page(30, 123))  # 30 > 25 even with 5 left: written at the end, whole
    buf.poll()
    assert len(rec.writes) == 3
    buf.add(page(5, 153))
    buf.flush()
    buf.close()
    assert [sum(p.assets.num_rows for p in w) for w in rec.writes] == [12, 100, 11, 35]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 30), st.integers(0, 300)), min_size=1, max_size=30),
    st.booleans(),
)
def test_every_write_is_whole_small_and_near_the_end_or_the_last(
    shape: list[tuple[int, int]], slow_writer: bool
) -> None:
    """Whatever the page sizes, the estimates of what is left and whether a write is still in
    flight when the next page comes: every write but the last holds max_rows rows or more
    (full), or max_rows // 10 to max_rows // 4 rows handed over when what was left fit in a
    buffer; and every row is written once, in order."""
    max_rows = 100
    left = {"rows": 0.0}
    when: list[float] = []  # what was left at each write's hand-over

    rec = Recorder(delay_s=0.002 if slow_writer else 0.0)
    buf = WriteBuffer(rec, max_rows=max_rows, max_delay_s=60, left=lambda: left["rows"])
    submit = buf._submit

    def tracked() -> None:
        when.append(left["rows"])
        submit()

    buf._submit = tracked  # type: ignore[method-assign]
    pages, start = [], 0
    for n, rest in shape:
        left["rows"] = rest
        p = page(n, start)
        pages.append(p)
        start += n
        buf.add(p)
    buf.flush()
    buf.close()
    sizes = [sum(p.assets.num_rows for p in w) for w in rec.writes]
    assert sum(sizes) == start
    assert [r for w in rec.writes for p in w for r in p.assets.column("id").to_pylist()] == [
        r for p in pages for r in p.assets.column("id").to_pylist()
    ]
    for size, then in zip(sizes[:-1], when[:-1], strict=True):
        assert size >= max_rows or (max_rows // 10 <= size <= max_rows // 4 and then <= max_rows)


def test_nothing_goes_early_while_more_than_a_buffer_is_left() -> None:
    rec = Recorder()
    buf = WriteBuffer(rec, max_rows=100, max_delay_s=60, left=lambda: 101.0)
    buf.add(page(20))
    buf.poll()
    assert rec.writes == []
    buf.flush()
    buf.close()
    assert [sum(p.assets.num_rows for p in w) for w in rec.writes] == [20]


# -- coalescing ---------------------------------------------------------------------------


def sliced_page(n: int, start: int, slice_id: str, bad: int = 0, run: str = "run") -> PageBatch:
    records: list[object] = [make_asset(start + i, 1000 + start + i) for i in range(n)]
    records += [{"no": "id", "k": start + i} for i in range(bad)]
    assets, rejects = normalize(records)
    progress = SliceState(slice_id, 0, 10**9, start + n, False)
    return PageBatch(run, STREAM, assets, rejects, progress)


def written_rows(pages: list[PageBatch]) -> tuple[list[object], list[object]]:
    assets = [r for p in pages for r in p.assets.to_pylist()]
    rejects = [r for p in pages for r in p.rejects.to_pylist()]
    return assets, rejects


def last_progress(pages: list[PageBatch]) -> dict[str, SliceState]:
    return {p.progress.slice_id: p.progress for p in pages}


def buffered(pages: list[PageBatch], max_rows: int, coalesce_rows: int) -> list[list[PageBatch]]:
    """The writes a coalescing buffer makes of the pages."""
    rec = Recorder()
    buf = WriteBuffer(rec, max_rows=max_rows, max_delay_s=60, coalesce_rows=coalesce_rows)
    for p in pages:
        buf.add(p)
    buf.flush()
    buf.close()
    return rec.writes


def test_coalesced_pages_write_the_same_rows_and_progress_in_fewer_batches() -> None:
    pages = [sliced_page(10, 10 * i, f"s{i % 3}", bad=i % 2) for i in range(12)]
    writes = buffered(pages, max_rows=60, coalesce_rows=25)
    out = [p for w in writes for p in w]
    assert written_rows(out) == written_rows(pages)
    assert last_progress(out) == last_progress(pages)
    assert out[-1].progress == pages[-1].progress
    # Each write ends with the progress of its last page, and holds its rows in few batches.
    assert all(sum(p.assets.num_rows > 0 for p in w) <= 3 for w in writes)
    assert max(p.assets.num_rows for p in out) >= 25
    # The row-less carriers of progress do not keep their pages' buffers alive (a zero-row
    # slice of a page would: its buffers are the page's, ~1.3 KB of `raw` per row).
    markers = [p for p in out if p.assets.num_rows == 0]
    assert markers and all(p.assets.get_total_buffer_size() < 200 for p in markers)
    assert pages[0].assets.slice(0, 0).get_total_buffer_size() > 5_000


def test_pages_of_another_run_or_schema_are_not_merged_together() -> None:
    a = sliced_page(5, 0, "s0")
    b = sliced_page(5, 5, "s0", run="other")
    c = sliced_page(5, 10, "s0", run="other")
    narrow = PageBatch("other", STREAM, c.assets.select(["id"]), c.rejects, c.progress)
    out = coalesce([a, b, c, narrow])
    assert [(p.run_id, p.assets.num_rows) for p in out] == [("run", 5), ("other", 10), ("other", 5)]
    assert coalesce([a]) == [a] and coalesce([]) == []


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 4), st.integers(0, 12), st.integers(0, 2)), min_size=1, max_size=25
    ),
    st.integers(0, 40),
)
def test_coalescing_keeps_rows_and_each_slices_progress_in_order(
    shape: list[tuple[int, int, int]], coalesce_rows: int
) -> None:
    """Whatever the pages (empty ones, rejects, slices interleaved) and the merge size, the
    writes hold the same rows in the same order, every slice's progress appears in the same
    order as in the pages (so the last one of each slice, and of the whole, is the same)."""
    pages, start = [], 0
    for slice_no, n, bad in shape:
        pages.append(sliced_page(n, start, f"s{slice_no}", bad=bad))
        start += n + 1
    out = [p for w in buffered(pages, max_rows=30, coalesce_rows=coalesce_rows) for p in w]
    assert written_rows(out) == written_rows(pages)
    assert out[-1].progress == pages[-1].progress
    for s in {p.progress.slice_id for p in pages}:
        seen = [p.progress for p in out if p.progress.slice_id == s]
        full = [p.progress for p in pages if p.progress.slice_id == s]
        assert seen[-1] == full[-1]
        it = iter(full)
        assert all(any(x == y for y in it) for x in seen), "progress out of order"
