"""Contender "parts": a full sync's work done one part at a time, each part's CPU measured alone.

The engine overlaps fetching, normalizing and writing on several threads. This script does the
same work in sequence, in one thread (the warehouse's DuckDB threads aside), a chunk of pages
at a time (`--chunk-pages`, 328: four of the engine's writes), so that the CPU of each part is
known without the others competing for the cores, and memory is reused as in a sync:

1. fetch: exactly the floor's work (`sortBy=updatedAt`, `pageSize=100`, `paginationToken`,
   one keep-alive connection, each body parsed with orjson for its token), the bodies kept;
2. parse: `orjson.loads` of every body again, alone (fetch minus parse is the HTTP's CPU);
3. normalize: `records.decode_page` (the typed decoding; `orjson.loads` for a body it leaves)
   + `normalize()` of every body, as a fetch thread does: beyond parse, this part is what the
   engine's page work adds to the floor's;
4. write: the normalized pages through the engine's `WriteBuffer` (its default write size and
   coalescing) into `DuckDBSink.write` on a fresh warehouse opened with `open_warehouse`,
   as the engine's writer does: rows, versions, one transaction per write.

Like the engine contender, it keeps NumPy and pandas out of pyarrow and uses the system
allocator. URL and credentials from SCENARIO_API_URL / SCENARIO_API_KEY / SCENARIO_API_SECRET.

    python benchmarks/contenders/parts.py --warehouse W

Prints one JSON line: work_s (fetch, normalize and write one after the other); per part, wall
seconds, CPU seconds (the whole process: DuckDB's threads count) and minor page faults; plus
assets and pages.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from assets_sync.memory import keep_numpy_out_of_pyarrow

keep_numpy_out_of_pyarrow()  # before anything imports pyarrow

import httpx  # noqa: E402
import orjson  # noqa: E402

from assets_sync.batching import WriteBuffer  # noqa: E402
from assets_sync.engine import SyncConfig  # noqa: E402
from assets_sync.memory import keep_pandas_out_of_pyarrow, prefer_system_allocator  # noqa: E402
from assets_sync.normalize import normalize  # noqa: E402
from assets_sync.records import decode_page  # noqa: E402
from assets_sync.sink import PageBatch, SliceState, StreamKey  # noqa: E402
from warehouse import open_warehouse  # noqa: E402

STREAM = StreamKey(None)
RUN_ID = "parts"


class Parts:
    """Wall, CPU (the whole process) and minor faults of each part, summed over the chunks."""

    def __init__(self) -> None:
        self.totals: dict[str, dict[str, float]] = {}

    @contextmanager
    def part(self, name: str) -> Iterator[None]:
        ru0 = resource.getrusage(resource.RUSAGE_SELF)
        cpu0, t0 = time.process_time(), time.perf_counter()
        yield
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        ru1 = resource.getrusage(resource.RUSAGE_SELF)
        t = self.totals.setdefault(name, {"wall_s": 0, "cpu_s": 0, "sys_s": 0, "minor_faults": 0})
        t["wall_s"] += wall
        t["cpu_s"] += cpu
        t["sys_s"] += ru1.ru_stime - ru0.ru_stime
        t["minor_faults"] += ru1.ru_minflt - ru0.ru_minflt

    def as_dict(self) -> dict[str, dict[str, float]]:
        return {
            name: {k: (v if k == "minor_faults" else round(v, 3)) for k, v in t.items()}
            for name, t in self.totals.items()
        }


class Pages:
    """The floor's requests, a chunk of bodies at a time, over one keep-alive connection."""

    def __init__(self, page_size: int) -> None:
        base = os.environ["SCENARIO_API_URL"].rstrip("/")
        auth = (os.environ["SCENARIO_API_KEY"], os.environ["SCENARIO_API_SECRET"])
        self.client = httpx.Client(base_url=base, auth=auth, timeout=60)
        self.page_size = page_size
        self.token: str | None = None
        self.done = False

    def chunk(self, pages: int) -> list[bytes]:
        bodies: list[bytes] = []
        while not self.done and len(bodies) < pages:
            params = {"pageSize": str(self.page_size), "sortBy": "updatedAt"}
            params["sortDirection"] = "asc"
            if self.token:
                params["paginationToken"] = self.token
            r = self.client.get("/assets", params=params)
            r.raise_for_status()
            bodies.append(r.content)
            self.token = orjson.loads(r.content).get("nextPaginationToken")
            self.done = not self.token
        return bodies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--warehouse", required=True)
    parser.add_argument("--page-size", type=int, default=SyncConfig.page_size)
    parser.add_argument("--chunk-pages", type=int, default=328, help="pages per round of parts")
    args = parser.parse_args()
    prefer_system_allocator()  # as the CLI and the engine contender do
    keep_pandas_out_of_pyarrow()
    cfg = SyncConfig()
    parts = Parts()
    source = Pages(args.page_size)
    assets = pages = 0
    with open_warehouse(args.warehouse) as wh:
        write: Callable[[list[PageBatch]], None] = wh.write  # type: ignore[assignment]
        writer = WriteBuffer(
            write, cfg.max_rows_per_write, cfg.max_write_delay_s, coalesce_rows=cfg.coalesce_rows
        )
        try:
            while not source.done:
                with parts.part("fetch"):
                    bodies = source.chunk(args.chunk_pages)
                with parts.part("parse"):
                    for body in bodies:
                        orjson.loads(body)
                batches: list[PageBatch] = []
                with parts.part("normalize"):
                    for body in bodies:
                        typed = decode_page(body)
                        records = orjson.loads(body)["assets"] if typed is None else typed[0]
                        batch, rejects = normalize(records, STREAM.project_id)
                        pages += 1
                        progress = SliceState("parts", 0, 4_000_000_000_000, pages)
                        batches.append(PageBatch(RUN_ID, STREAM, batch, rejects, progress))
                        assets += batch.num_rows
                del bodies
                with parts.part("write"):
                    for page in batches:
                        writer.add(page)
                    writer.flush()
                del batches
        finally:
            writer.close()
        source.client.close()
        out: dict[str, Any] = parts.as_dict()
        out["fresh_writes"] = wh.fresh_writes
    work = sum(out[name]["wall_s"] for name in ("fetch", "normalize", "write"))
    out.update(assets=assets, pages=pages, work_s=round(work, 3))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
