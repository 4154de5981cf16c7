"""`WriterTimeline`: where the engine's one writer spends a sync (`assets_sync_run.py
--writer-timeline`, reported by `bench_bound.py`)."""

from __future__ import annotations

import time
from typing import Any


def _schedstat() -> tuple[float, float] | None:
    """(CPU s, s spent runnable but waiting for a core) of the calling thread (Linux)."""
    try:
        with open("/proc/thread-self/schedstat") as f:
            on_cpu, waited = f.read().split()[:2]
    except (OSError, ValueError):
        return None
    return int(on_cpu) / 1e9, int(waited) / 1e9


class WriterTimeline:
    """The sink, with each `write()` timed in the thread that calls it (the commit thread).

    Splits the writer's time from its first write to the end of the sync into: writing (its
    own CPU, waiting for a core, and blocked: the GIL, fsync, locks) and waiting for pages
    (between writes). The engine's sync cannot end before its one writer, so this is where
    the full sync's wall goes beyond the writer's own CPU.
    """

    def __init__(self, sink: Any) -> None:
        self._sink = sink
        self.writes: list[tuple[float, float, float, float | None]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sink, name)

    def write(self, *args: Any, **kwargs: Any) -> Any:
        t0, c0, s0 = time.perf_counter(), time.thread_time(), _schedstat()
        try:
            return self._sink.write(*args, **kwargs)
        finally:
            s1 = _schedstat()
            waited = s1[1] - s0[1] if s0 is not None and s1 is not None else None
            self.writes.append((t0, time.perf_counter(), time.thread_time() - c0, waited))

    def summary(self, t_open: float, t_done: float) -> dict[str, Any]:
        w = self.writes
        if not w:
            return {"writes": 0}
        wall = sum(end - start for start, end, _, _ in w)
        cpu = sum(c for _, _, c, _ in w)
        known = [q for _, _, _, q in w if q is not None]
        waited = sum(known) if len(known) == len(w) else None
        return {
            "writes": len(w),
            "first_write_at_s": round(w[0][0] - t_open, 3),
            "span_s": round(w[-1][1] - w[0][0], 3),
            "writing_s": round(wall, 3),
            "writing_cpu_s": round(cpu, 3),
            "writing_core_wait_s": round(waited, 3) if waited is not None else None,
            "writing_blocked_s": round(wall - cpu - waited, 3) if waited is not None else None,
            "between_writes_s": round(w[-1][1] - w[0][0] - wall, 3),
            "after_last_write_s": round(t_done - w[-1][1], 3),
        }
