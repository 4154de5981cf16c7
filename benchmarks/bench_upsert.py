"""Upsert throughput of the warehouse writer, against a plain insert measured in the same run.

    python benchmarks/bench_upsert.py            # 1M-asset warehouse, 100k changed assets
    python benchmarks/bench_upsert.py --quick    # 100k / 10k, CI smoke (a few seconds)

1. Load N assets through `DuckDBSink.write` (100k rows per call).
2. Upsert: one `write()` of C changed assets (existing ids, newer updatedAt): replaces C
   current rows, appends C versions, in one transaction.
3. Plain insert: the same C rows inserted into an empty table with the same columns, in one
   transaction. Ratio = upsert time / plain insert time (both include the commit; the
   checkpoint each one causes is timed separately and reported too).
4. Sustained writes: pages of 100 assets coalesced into calls of 1k, 5k and 10k rows (90%
   updates, 10% new), default DuckDB checkpointing included: rows/s.

Synthetic rows come from `tests/warehouse/factory.py` (about 800 bytes of raw JSON each).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assets_sync.schema import empty_rejects
from assets_sync.sink import PageBatch, SliceState, StreamKey
from tests.warehouse.factory import BASE_MS, make_assets
from warehouse import DuckDBSink, open_warehouse
from warehouse.columns import select_list

STREAM = StreamKey("proj_bench")
SLICE = SliceState("bench", 0, 4_000_000_000_000, 0)


def pages(batch: pa.RecordBatch, page_size: int) -> list[PageBatch]:
    return [
        PageBatch("bench", STREAM, batch.slice(i, page_size), empty_rejects(), SLICE)
        for i in range(0, batch.num_rows, page_size)
    ]


CPU: dict[str, float] = {}  # CPU seconds (all DuckDB threads) of the last timed() call


def timed(fn: object) -> float:
    """Wall seconds of fn(); its process CPU seconds go to CPU["last"] (the box is shared)."""
    cpu = time.process_time()
    start = time.perf_counter()
    fn()  # type: ignore[operator]
    CPU["last"] = time.process_time() - cpu
    return time.perf_counter() - start


def load(wh: DuckDBSink, n: int) -> float:
    chunk = 100_000
    total = 0.0
    for lo in range(0, n, chunk):
        numbers = np.arange(lo, min(n, lo + chunk))
        batch = make_assets(numbers, BASE_MS + numbers)
        total += timed(lambda b=batch: wh.write(pages(b, b.num_rows)))
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--assets", type=int, default=1_000_000)
    ap.add_argument("--changed", type=int, default=100_000)
    ap.add_argument("--sustained-rows", type=int, default=60_000)
    ap.add_argument("--quick", action="store_true", help="100k assets, 10k changed")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()
    if args.quick:
        args.assets, args.changed, args.sustained_rows = 100_000, 10_000, 10_000
    rng = np.random.default_rng(42)
    results: dict[str, object] = {
        "assets": args.assets,
        "changed": args.changed,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }
    with tempfile.TemporaryDirectory() as tmp, open_warehouse(Path(tmp) / "bench.duckdb") as wh:
        con = wh.connection
        results["load_s"] = round(load(wh, args.assets), 2)
        con.execute("CHECKPOINT")

        ids = rng.choice(args.assets, args.changed, replace=False)
        changed = make_assets(ids, BASE_MS + 10 * args.assets + ids)
        t_upsert = timed(lambda: wh.write(pages(changed, changed.num_rows)))
        cpu_upsert = CPU["last"]
        t_upsert_ckpt = timed(lambda: con.execute("CHECKPOINT"))

        con.execute("CREATE TABLE bench_plain AS SELECT * FROM assets LIMIT 0")
        plain = pa.Table.from_batches([changed])
        con.register("bench_rows", plain)

        def insert() -> None:
            con.execute("BEGIN TRANSACTION")
            con.execute(
                f"INSERT INTO bench_plain SELECT {select_list()}, NULL, now(), now()"
                " FROM bench_rows"
            )
            con.execute("COMMIT")

        t_plain = timed(insert)
        cpu_plain = CPU["last"]
        t_plain_ckpt = timed(lambda: con.execute("CHECKPOINT"))
        con.unregister("bench_rows")
        results.update(
            upsert_s=round(t_upsert, 3),
            upsert_checkpoint_s=round(t_upsert_ckpt, 3),
            plain_insert_s=round(t_plain, 3),
            plain_insert_checkpoint_s=round(t_plain_ckpt, 3),
            ratio=round(t_upsert / t_plain, 2),
            upsert_cpu_s=round(cpu_upsert, 3),
            plain_insert_cpu_s=round(cpu_plain, 3),
            cpu_ratio=round(cpu_upsert / cpu_plain, 2),
            ratio_with_checkpoints=round((t_upsert + t_upsert_ckpt) / (t_plain + t_plain_ckpt), 2),
            upsert_rows_per_s=round(args.changed / t_upsert),
        )

        sustained: dict[str, int] = {}
        sustained_cpu: dict[str, int] = {}
        next_new = args.assets
        for call_rows in (1_000, 5_000, 10_000):
            elapsed = cpu = 0.0
            calls = max(1, args.sustained_rows // call_rows)
            for _ in range(calls):
                upd = rng.choice(args.assets, call_rows * 9 // 10, replace=False)
                new = np.arange(next_new, next_new + call_rows - len(upd))
                next_new += len(new)
                numbers = np.concatenate([upd, new])
                batch = make_assets(numbers, BASE_MS + 20 * args.assets + next_new + numbers)
                elapsed += timed(lambda b=batch: wh.write(pages(b, 100)))
                cpu += CPU["last"]
            sustained[f"{call_rows}"] = round(calls * call_rows / elapsed)
            sustained_cpu[f"{call_rows}"] = round(calls * call_rows / cpu)
        results["sustained_rows_per_s_by_call_rows"] = sustained
        results["sustained_rows_per_cpu_s_by_call_rows"] = sustained_cpu

    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
