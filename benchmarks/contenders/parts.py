"""Contender "parts": a full sync's work done one part at a time, each part's CPU measured alone.

The engine overlaps fetching, normalizing and writing on several threads. This script does the
same work in sequence, in one thread (the warehouse's DuckDB threads aside), so that the CPU
of each part is known without the others competing for the cores:

1. fetch: exactly the floor's work (`sortBy=updatedAt`, `pageSize=100`, `paginationToken`,
   one keep-alive connection, each body parsed with orjson for its token), the bodies kept;
2. parse: `orjson.loads` of every body again, alone (fetch minus parse is the HTTP's CPU);
3. normalize: `orjson.loads` + `normalize()` of every body, as a fetch thread does;
4. write: the normalized pages through the engine's `WriteBuffer` (its default write size and
   coalescing) into `DuckDBSink.write` on a fresh warehouse opened with `open_warehouse`,
   as the engine's writer does: rows, versions, one transaction per write.

Like the engine contender, it keeps NumPy and pandas out of pyarrow and uses the system
allocator. URL and credentials from SCENARIO_API_URL / SCENARIO_API_KEY / SCENARIO_API_SECRET.

    python benchmarks/contenders/parts.py --warehouse W

Prints one JSON line: work_s (fetch, normalize and write one after the other); per part, wall
seconds, CPU seconds (the whole process: DuckDB's threads count) and minor page faults; plus
assets and pages. Holds every body and every normalized
page in memory at once (~3 GB at 1M assets): its memory is not a figure of the sync's.
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
from assets_sync.sink import PageBatch, SliceState, StreamKey  # noqa: E402
from warehouse import open_warehouse  # noqa: E402

STREAM = StreamKey(None)
RUN_ID = "parts"


@contextmanager
def part(out: dict[str, Any], name: str) -> Iterator[None]:
    """Record the wall, the process's CPU and its minor faults over the block as out[name]."""
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    cpu0, t0 = time.process_time(), time.perf_counter()
    yield
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    out[name] = {
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "sys_s": round(ru1.ru_stime - ru0.ru_stime, 3),
        "minor_faults": ru1.ru_minflt - ru0.ru_minflt,
    }


def fetch_bodies(page_size: int) -> list[bytes]:
    base = os.environ["SCENARIO_API_URL"].rstrip("/")
    auth = (os.environ["SCENARIO_API_KEY"], os.environ["SCENARIO_API_SECRET"])
    bodies: list[bytes] = []
    token: str | None = None
    with httpx.Client(base_url=base, auth=auth, timeout=60) as client:
        while True:
            params = {"pageSize": str(page_size), "sortBy": "updatedAt", "sortDirection": "asc"}
            if token:
                params["paginationToken"] = token
            r = client.get("/assets", params=params)
            r.raise_for_status()
            bodies.append(r.content)
            token = orjson.loads(r.content).get("nextPaginationToken")
            if not token:
                return bodies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--warehouse", required=True)
    parser.add_argument("--page-size", type=int, default=SyncConfig.page_size)
    args = parser.parse_args()
    prefer_system_allocator()  # as the CLI and the engine contender do
    keep_pandas_out_of_pyarrow()
    cfg = SyncConfig()
    out: dict[str, Any] = {}

    with part(out, "fetch"):
        bodies = fetch_bodies(args.page_size)
    with part(out, "parse"):
        for body in bodies:
            orjson.loads(body)
    pages: list[PageBatch] = []
    assets = 0
    with part(out, "normalize"):
        for i, body in enumerate(bodies):
            records = orjson.loads(body)["assets"]
            batch, rejects = normalize(records, STREAM.project_id)
            assets += batch.num_rows
            progress = SliceState("parts", 0, 4_000_000_000_000, i)
            pages.append(PageBatch(RUN_ID, STREAM, batch, rejects, progress))
    del bodies

    with open_warehouse(args.warehouse) as wh:
        write: Callable[[list[PageBatch]], None] = wh.write  # type: ignore[assignment]
        writer = WriteBuffer(
            write, cfg.max_rows_per_write, cfg.max_write_delay_s, coalesce_rows=cfg.coalesce_rows
        )
        with part(out, "write"):
            try:
                for page in pages:
                    writer.add(page)
                writer.flush()
            finally:
                writer.close()
        out["fresh_writes"] = wh.fresh_writes
    work = sum(out[name]["wall_s"] for name in ("fetch", "normalize", "write"))
    out.update(assets=assets, pages=len(pages), work_s=round(work, 3))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
