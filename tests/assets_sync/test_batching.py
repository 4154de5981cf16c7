"""WriteBuffer: big batches, one write in flight, order kept, errors surfaced, memory bounded."""

from __future__ import annotations

import threading
import time

import pytest

from assets_sync.batching import WriteBuffer
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
    """`ending()` true: a buffer of max_rows // 10 rows is written without waiting to fill,
    so the write left after the last page is small; false: the row limit applies."""
    ending = {"now": False}
    rec = Recorder()
    buf = WriteBuffer(rec, max_rows=100, max_delay_s=60, ending=lambda: ending["now"])
    buf.add(page(5))
    buf.add(page(4, 5))
    assert rec.writes == []  # not ending, 9 rows of 100: keep filling
    ending["now"] = True
    buf.poll()
    assert rec.writes == []  # under 10 rows: still waits...
    buf.add(page(1, 9))  # ...10 rows = max_rows // 10: handed over at once
    buf.flush()
    buf.close()
    assert [len(w) for w in rec.writes] == [3]
