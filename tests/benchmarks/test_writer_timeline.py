"""`WriterTimeline`: the engine's writer's time split, as `bench_bound.py` reports it."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks" / "contenders"))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from bench_bound import bound, markdown
from writer_timeline import WriterTimeline


class _Sink:
    """A sink whose writes burn `cpu_s` of CPU, then sleep `sleep_s` (blocked, not runnable)."""

    def __init__(self, cpu_s: float, sleep_s: float) -> None:
        self.cpu_s, self.sleep_s = cpu_s, sleep_s
        self.calls: list[tuple[Any, ...]] = []
        self.name = "the sink"

    def write(self, pages: Any, complete: Any = None) -> str:
        self.calls.append((pages, complete))
        end = time.thread_time() + self.cpu_s
        while time.thread_time() < end:
            pass
        time.sleep(self.sleep_s)
        return "result"


def test_the_writers_time_is_split_into_cpu_blocked_and_waiting_for_pages() -> None:
    sink = _Sink(cpu_s=0.05, sleep_s=0.05)
    timeline = WriterTimeline(sink)
    results: list[str] = []

    def writer() -> None:  # the engine's commit thread: writes with pauses between them
        for i in range(3):
            results.append(timeline.write([i], complete=None))
            time.sleep(0.1)

    t_open = time.perf_counter()
    thread = threading.Thread(target=writer)
    thread.start()
    thread.join()
    s = timeline.summary(t_open, time.perf_counter())

    assert results == ["result"] * 3 and sink.calls == [([0], None), ([1], None), ([2], None)]
    assert timeline.name == "the sink"  # everything but write() is the sink's own
    assert s["writes"] == 3
    assert s["writing_cpu_s"] >= 0.15
    assert s["writing_s"] >= 0.3  # CPU + sleeps
    assert 0.2 <= s["between_writes_s"] < 1.0  # two pauses of 0.1 s between the writes
    assert s["after_last_write_s"] >= 0.1
    assert s["span_s"] == pytest.approx(s["writing_s"] + s["between_writes_s"], abs=0.002)
    if s["writing_core_wait_s"] is not None:  # Linux: the rest of the wall is blocked
        assert s["writing_blocked_s"] >= 0.1
        total = s["writing_cpu_s"] + s["writing_core_wait_s"] + s["writing_blocked_s"]
        assert total == pytest.approx(s["writing_s"], abs=0.002)


def test_a_sync_with_no_write_says_so() -> None:
    assert WriterTimeline(_Sink(0, 0)).summary(0.0, 1.0) == {"writes": 0}


def test_bench_bound_reports_the_writers_split() -> None:
    part = {"wall_s": 1.0, "cpu_s": 1.0, "sys_s": 0.1, "minor_faults": 10}
    writer = {
        "writes": 122,
        "first_write_at_s": 1.0,
        "span_s": 26.5,
        "writing_s": 23.8,
        "writing_cpu_s": 17.7,
        "writing_core_wait_s": 3.8,
        "writing_blocked_s": 2.3,
        "between_writes_s": 2.7,
        "after_last_write_s": 0.1,
    }
    proc = {"cpu_s": 1.0, "sys_s": 0.1, "minor_faults": 1, "emulator_cpu_s": 4.0}
    rows: dict[str, Any] = {
        "floor": {**proc, "work_s": 10.0, "load_avg_1m": 1.0},
        "engine": {**proc, "work_s": 20.0, "load_avg_1m": 1.0, "result": {"writer": writer}},
        "parts": {
            **proc,
            "work_s": 30.0,
            "load_avg_1m": 1.0,
            "result": {"fetch": part, "parse": part, "normalize": part, "write": part},
        },
    }
    res = {
        "label": "t",
        "assets": 1000,
        "machine": {
            "cores": 2,
            "memory_gib": 24,
            "python": "3.11",
            "load_avg_1_5_15": [1.0, 1.0, 1.0],
            "time_utc": "2026-11-30T00:00:00Z",
        },
        "rows": rows,
        "bound": bound(rows, cores=2),
    }
    md = markdown(res)
    assert "122 writes" in md and "**23.8 s writing** (17.7 s of its CPU, 3.8 s waiting" in md
    assert "2.3 s blocked" in md and "**2.7 s waiting for pages**" in md
