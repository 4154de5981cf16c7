"""The writer's wall beside a thread that holds the GIL: what the fetch thread costs the writer.

    python benchmarks/bench_writer_gil.py --assets 200000 --label writer-gil-200k
    python benchmarks/bench_writer_gil.py --quick     # 5,000 assets, CI smoke (a few seconds)

In a sync the one DuckDB writer is the critical path, and its writes take ~20 % more wall than
the writer's CPU (benchmarks/RESULTS.md, seventeenth session). DuckDB releases the GIL while a
statement runs, but the duckdb Python client takes it back several times per statement to
check for Ctrl-C, and while a fetch thread decodes and normalizes a page it holds the GIL.

This script writes the same pages (an emulator's, fetched and normalized once, in this
process) several times, each time into a fresh warehouse through the engine's `WriteBuffer`
and `DuckDBSink.write`, as the engine's writer does. Beside each write runs a Python thread
that holds the GIL a given share of the time (busy `share` ms, then asleep `1 - share` ms;
share 0: no such thread). The shares alternate, round after round, so that a noisy minute
touches them all. Reported per share: the writes' wall and the writer's CPU (the process's
CPU minus the holder thread's), medians over the rounds. A wall that grows with the share
while the writer's CPU does not is time spent waiting for the GIL.
Output: `<out-dir>/<label>.json` and `.md`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assets_sync.memory import keep_numpy_out_of_pyarrow

keep_numpy_out_of_pyarrow()  # before anything imports pyarrow

import httpx  # noqa: E402
import orjson  # noqa: E402
from bench_compare import log  # noqa: E402
from harness import AUTH, EmulatorProcess, machine, machine_line, output_dir, publish  # noqa: E402

from assets_sync.batching import WriteBuffer  # noqa: E402
from assets_sync.engine import SyncConfig  # noqa: E402
from assets_sync.memory import keep_pandas_out_of_pyarrow, prefer_system_allocator  # noqa: E402
from assets_sync.normalize import normalize  # noqa: E402
from assets_sync.records import decode_page  # noqa: E402
from assets_sync.sink import PageBatch, SliceState, StreamKey  # noqa: E402
from warehouse import open_warehouse  # noqa: E402

STREAM = StreamKey(None)
PERIOD_S = 0.001  # the holder's cycle: busy share x 1 ms, then asleep for the rest


def fetch_pages(base_url: str, page_size: int) -> list[PageBatch]:
    """Every page of the emulator (token-following, as the floor), normalized as a fetch thread
    normalizes, one `PageBatch` per page."""
    out: list[PageBatch] = []
    token: str | None = None
    with httpx.Client(base_url=base_url, auth=AUTH, timeout=60) as client:
        while True:
            params = {"pageSize": str(page_size), "sortBy": "updatedAt", "sortDirection": "asc"}
            if token:
                params["paginationToken"] = token
            body = client.get("/assets", params=params).raise_for_status().content
            typed = decode_page(body)
            if typed is None:  # a page the typed decoding leaves to orjson, as the client does
                doc = orjson.loads(body)
                records, token = doc["assets"], doc.get("nextPaginationToken")
            else:
                records, token = typed
            batch, rejects = normalize(records, STREAM.project_id)
            progress = SliceState("gil", 0, 4_000_000_000_000, len(out) + 1)
            out.append(PageBatch("bench-gil", STREAM, batch, rejects, progress))
            if not token:
                return out


class GilHolder:
    """A thread that holds the GIL `share` of the time, in cycles of PERIOD_S."""

    def __init__(self, share: float) -> None:
        self.share = share
        self.stop = threading.Event()
        self.cpu_s = 0.0
        self._thread = threading.Thread(target=self._run, name="gil-holder", daemon=True)

    def _run(self) -> None:
        busy, idle = self.share * PERIOD_S, (1.0 - self.share) * PERIOD_S
        start = time.thread_time()
        while not self.stop.is_set():
            until = time.perf_counter() + busy
            while time.perf_counter() < until:  # pure Python: holds the GIL
                pass
            if idle > 0:
                time.sleep(idle)
        self.cpu_s = time.thread_time() - start

    def __enter__(self) -> GilHolder:
        if self.share > 0:
            self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        if self.share > 0:
            self._thread.join()


def write_once(pages: list[PageBatch], path: str, share: float) -> dict[str, float]:
    """All pages into a fresh warehouse at `path`, beside a GIL holder of `share`."""
    cfg = SyncConfig()
    with open_warehouse(path) as wh:
        writer = WriteBuffer(
            wh.write,  # type: ignore[arg-type]
            cfg.max_rows_per_write,
            cfg.max_write_delay_s,
            coalesce_rows=cfg.coalesce_rows,
        )
        with GilHolder(share) as holder:
            cpu0, t0 = time.process_time(), time.perf_counter()
            try:
                for page in pages:
                    writer.add(page)
                writer.flush()
            finally:
                writer.close()
            wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        return {"wall_s": wall, "writer_cpu_s": cpu - holder.cpu_s}


def summarize(runs: dict[float, list[dict[str, float]]]) -> list[dict[str, Any]]:
    """Medians per share, and each share's wall over the wall with no holder."""
    rows = []
    base = statistics.median(r["wall_s"] for r in runs[0.0]) if 0.0 in runs else None
    for share, rs in sorted(runs.items()):
        wall = statistics.median(r["wall_s"] for r in rs)
        cpu = statistics.median(r["writer_cpu_s"] for r in rs)
        rows.append(
            {
                "share": share,
                "rounds": len(rs),
                "wall_s": round(wall, 3),
                "writer_cpu_s": round(cpu, 3),
                "wall_over_cpu": round(wall / cpu, 2) if cpu else None,
                "wall_over_no_holder": round(wall / base, 2) if base else None,
                "walls_s": [round(r["wall_s"], 3) for r in rs],
            }
        )
    return rows


def markdown(res: dict[str, Any]) -> str:
    lines = [
        f"### {res['label']}: the writer beside a GIL holder, {res['assets']:,} assets",
        "",
        machine_line(res["machine"]),
        "",
        "| GIL held by the other thread | writes' wall s (median) | writer CPU s | wall / CPU "
        "| wall / no holder | walls s |",
        "|---|---|---|---|---|---|",
    ]
    for r in res["rows"]:
        walls = ", ".join(str(w) for w in r["walls_s"])
        lines.append(
            f"| {r['share']:.0%} | {r['wall_s']} | {r['writer_cpu_s']} | {r['wall_over_cpu']} "
            f"| {r['wall_over_no_holder']} | {walls} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--assets", type=int, default=200_000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--shares", default="0,0.5,0.9", help="comma-separated GIL shares, 0-1")
    p.add_argument("--quick", action="store_true", help="5,000 assets, 1 round: the CI smoke")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out-dir", default=None, help="default benchmarks/results (quick: a tmp dir)")
    p.add_argument("--label", default=None)
    args = p.parse_args()
    shares = sorted({float(s) for s in args.shares.split(",")})
    if not all(0.0 <= s < 1.0 for s in shares):
        p.error("--shares: each share must be in [0, 1)")
    n, rounds = (5_000, 1) if args.quick else (args.assets, args.rounds)
    label = args.label or f"writer-gil-{n}"
    out_dir = output_dir(args.out_dir, args.quick, "bench-writer-gil-")
    prefer_system_allocator()  # as the CLI and the engine do
    keep_pandas_out_of_pyarrow()
    log(f"emulator with {n} assets")
    with EmulatorProcess(n, seed=args.seed) as emu:
        pages = fetch_pages(emu.base_url, SyncConfig.page_size)
    fetched = sum(pg.assets.num_rows for pg in pages)
    if fetched != n:
        log(f"FAILED: fetched {fetched} of {n} assets")
        sys.exit(1)
    runs: dict[float, list[dict[str, float]]] = {s: [] for s in shares}
    with tempfile.TemporaryDirectory(prefix="bench-writer-gil-work-") as work:
        for r in range(rounds):
            for share in shares:
                path = str(Path(work) / f"w-{r}-{share}.duckdb")
                result = write_once(pages, path, share)
                runs[share].append(result)
                log(f"round {r + 1}, GIL share {share:.0%}: wall {result['wall_s']:.2f} s, "
                    f"writer CPU {result['writer_cpu_s']:.2f} s")  # fmt: skip
                for f in Path(work).glob(f"w-{r}-{share}.duckdb*"):
                    f.unlink()
    res = {"label": label, "assets": n, "machine": machine(), "rows": summarize(runs)}
    publish(out_dir, label, res, markdown(res))


if __name__ == "__main__":
    main()
