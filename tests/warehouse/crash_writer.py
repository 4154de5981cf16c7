"""A sync-shaped writer for the kill -9 test: `python -m tests.warehouse.crash_writer DB N`.

Writes a deterministic stream through `DuckDBSink` exactly like the engine does: plan slices,
write pages (two coalesced per call) each carrying its slice's new cursor, complete the slices
and raise the watermark at the end. On restart it resumes from `stream_state()` and, like the
engine's seek pagination, re-reads the page holding the cursor (a replay the upsert absorbs).
Prints "ready" once the warehouse is open, "done" when the stream is complete.

The data: `slices` windows of `pages` pages of `page_size` assets each; updatedAt strictly
increases through the stream; asset numbers wrap around `universe`, so later pages update
assets written earlier; every 7th page carries a reject.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np

from assets_sync.schema import empty_rejects
from assets_sync.sink import PageBatch, RunRecord, SliceState, StreamKey
from tests.warehouse.factory import BASE_MS, make_assets, make_rejects
from warehouse import open_warehouse

STREAM = StreamKey("proj_crash")


@dataclass(frozen=True)
class Plan:
    slices: int = 4
    pages: int = 25
    page_size: int = 40
    universe: int = 2_500

    @property
    def span(self) -> int:  # ms per slice: one ms per row, plus room at both ends
        return self.pages * self.page_size + 10

    def window(self, s: int) -> SliceState:
        lo = BASE_MS + s * self.span
        return SliceState(f"slice_{s:03d}", lo, lo + self.span, lo)

    def rows(self, s: int, p: int) -> tuple[np.ndarray, np.ndarray]:
        """(asset numbers, updatedAt ms) of page p of slice s."""
        k = (s * self.pages + p) * self.page_size + np.arange(self.page_size)
        updated = self.window(s).lo_ms + 1 + p * self.page_size + np.arange(self.page_size)
        return (k * 7919) % self.universe, updated

    def reject_ids(self, s: int, p: int) -> list[str | None]:
        return [f"bad_{s}_{p}"] if (s * self.pages + p) % 7 == 0 else []

    @property
    def final_watermark(self) -> int:
        return self.window(self.slices - 1).hi_ms - 1

    def expected(self) -> tuple[dict[str, int], set[tuple[str, int]], set[str]]:
        """(id -> latest updatedAt, every (id, updatedAt), reject ids) of the whole stream."""
        latest: dict[str, int] = {}
        versions: set[tuple[str, int]] = set()
        rejects: set[str] = set()
        for s in range(self.slices):
            for p in range(self.pages):
                numbers, updated = self.rows(s, p)
                for n, u in zip(numbers.tolist(), updated.tolist(), strict=True):
                    latest[f"asset_{n}"] = max(u, latest.get(f"asset_{n}", u))
                    versions.add((f"asset_{n}", u))
                rejects.update(str(r) for r in self.reject_ids(s, p))
        return latest, versions, rejects


def page(plan: Plan, s: int, p: int, run_id: str) -> PageBatch:
    numbers, updated = plan.rows(s, p)
    ids = plan.reject_ids(s, p)
    window = plan.window(s)
    last = p == plan.pages - 1
    progress = SliceState(window.slice_id, window.lo_ms, window.hi_ms,
                          window.hi_ms - 1 if last else int(updated[-1]), done=last)  # fmt: skip
    rejects = make_rejects(ids) if ids else empty_rejects()
    return PageBatch(run_id, STREAM, make_assets(numbers, updated, "proj_crash"), rejects, progress)


def run(path: str, plan: Plan) -> None:
    with open_warehouse(path) as sink:
        print("ready", flush=True)
        state = sink.stream_state(STREAM)
        if state.watermark_ms == plan.final_watermark:
            print("done", flush=True)
            return
        run_id = f"run_{len(sink.connection.execute('SELECT 1 FROM sync_runs').fetchall())}"
        sink.begin_run(RunRecord(run_id, STREAM, "backfill", 0))
        if not state.slices:
            sink.plan_slices(STREAM, [plan.window(s) for s in range(plan.slices)])
            state = sink.stream_state(STREAM)
        for sl in state.slices:
            if sl.done:
                continue
            s = int(sl.slice_id.split("_")[1])
            # The page holding the cursor is read again (seek pagination overlaps by design).
            first = max(0, (sl.cursor_ms - sl.lo_ms - 1) // plan.page_size)
            todo = [page(plan, s, p, run_id) for p in range(first, plan.pages)]
            for i in range(0, len(todo), 2):
                sink.write(todo[i : i + 2])
        sink.complete_slices(
            STREAM, [sl.slice_id for sl in sink.stream_state(STREAM).slices], plan.final_watermark
        )
        sink.end_run(RunRecord(run_id, STREAM, "backfill", 0, 1, "success"))
        print("done", flush=True)


if __name__ == "__main__":
    scale = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    run(sys.argv[1], Plan(slices=4 * scale, pages=25, page_size=40, universe=2_500 * scale))
