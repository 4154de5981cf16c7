"""Benchmark of the source side: a full first sync from the emulator, and normalization alone.

    python benchmarks/bench_sync.py sync --assets 200000 [--concurrency 4] [--token-mode offset]
    python benchmarks/bench_sync.py normalize [--pages 2000]

`sync` serves the emulator from a SEPARATE process (so its memory is not ours), runs
`run_sync` in this process into a `CountingSink` (keeps the ledger, not the rows: the sink's
storage is the warehouse's business), and prints one JSON line: assets, seconds, assets/s,
requests, and this process's peak RSS (ru_maxrss), which is what "memory bounded by pages in
flight" is about. `normalize` times `normalize()` on emulator-rendered pages.
"""

from __future__ import annotations

import argparse
import json
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assets_sync.auth import BasicAuth, SecretStr
from assets_sync.client import AssetsClient
from assets_sync.config import ApiSettings
from assets_sync.engine import SyncConfig, run_sync
from assets_sync.ratelimit import NoLimit
from assets_sync.retry import FAST_RETRY
from assets_sync.sink import (
    Completion,
    PageBatch,
    ReconcileResult,
    RunRecord,
    SliceState,
    StreamKey,
    StreamState,
    WriteResult,
)

KEY, SECRET = "bench-key", "bench-secret"


class CountingSink:
    """A Sink that keeps the ledger and counts rows, storing none of them. It keeps only the
    `id` column of each page (~2 KB per 100 assets) to count the distinct assets at the end:
    the engine may read an asset twice (a page asked just before its slice was split), so
    the rows written can exceed the assets, and replaying a row is harmless."""

    def __init__(self) -> None:
        self.rows = 0
        self.ids: list[pa.Array] = []
        self.rejects = 0
        self.writes = 0
        self.watermark: int | None = None
        self.ledger: dict[str, SliceState] = {}

    def stream_state(self, stream: StreamKey) -> StreamState:
        return StreamState(stream, self.watermark, tuple(self.ledger.values()))

    def plan_slices(self, stream: StreamKey, slices: Sequence[SliceState]) -> None:
        self.ledger.update({s.slice_id: s for s in slices})

    def write(self, pages: Sequence[PageBatch], complete: Completion | None = None) -> WriteResult:
        self.writes += 1
        n = sum(p.assets.num_rows for p in pages)
        self.rows += n
        self.ids.extend(p.assets.column("id") for p in pages if p.assets.num_rows)
        self.rejects += sum(p.rejects.num_rows for p in pages)
        for p in pages:
            self.ledger[p.progress.slice_id] = p.progress
        if complete is not None:
            self.complete_slices(complete.stream, complete.slice_ids, complete.watermark_ms)
        return WriteResult(new=n)

    def distinct(self) -> int:
        """How many distinct asset ids were written."""
        if not self.ids:
            return 0
        return len(pa.chunked_array(self.ids).unique())

    def complete_slices(
        self, stream: StreamKey, slice_ids: Sequence[str], watermark_ms: int | None
    ) -> None:
        for i in slice_ids:
            self.ledger.pop(i, None)
        if watermark_ms is not None:
            self.watermark = max(self.watermark or watermark_ms, watermark_ms)

    def reconcile(
        self,
        stream: StreamKey,
        run_id: str,
        listed_ids: pa.Array,
        created_lo_ms: int | None,
        created_hi_ms: int | None,
        complete: bool,
        *,
        max_deleted_fraction: float | None = None,
    ) -> ReconcileResult:
        return ReconcileResult(listed=len(listed_ids))

    def begin_run(self, run: RunRecord) -> None:
        pass

    def end_run(self, run: RunRecord) -> None:
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def emulator_process(assets: int, token_mode: str = "offset") -> Iterator[str]:
    """An emulator in its own process; yields its base URL once it answers."""
    port = _free_port()
    cmd = [sys.executable, "-m", "assets_sync.emulator", "--port", str(port)]
    cmd += ["--assets", str(assets), "--seed", "1", "--token-mode", token_mode]
    cmd += ["--api-key", KEY, "--api-secret", SECRET]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=Path(__file__).parents[1]
    )
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                r = httpx.get(base + "/assets?pageSize=1", auth=(KEY, SECRET), timeout=5)
                if r.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                err = proc.stderr.read().decode() if proc.stderr else ""
                raise RuntimeError(f"emulator did not start: {err[-2000:]}")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def bench_sync(assets: int, concurrency: int = 4, token_mode: str = "offset") -> dict[str, float]:
    rss_start = peak_rss_mb()
    with emulator_process(assets, token_mode) as base:
        settings = ApiSettings(
            base_url=base, credentials=BasicAuth(SecretStr(KEY), SecretStr(SECRET))
        )
        sink = CountingSink()
        config = SyncConfig(settle_lag_ms=0, slices=concurrency, concurrency=concurrency)
        with AssetsClient(settings, retry=FAST_RETRY, limiter=NoLimit()) as client:
            t0, c0 = time.perf_counter(), time.process_time()
            report = run_sync(client, sink, StreamKey(None), config)
            seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {
        "assets": assets,
        "stored": sink.distinct(),  # distinct assets; "rows": what the sink was handed
        "rows": sink.rows,
        "rejects": sink.rejects,
        "seconds": round(seconds, 2),
        "assets_per_s": round(sink.rows / seconds),
        "client_cpu_s": round(cpu, 2),  # this process only; the emulator has its own
        "requests": report.counts.requests,
        "writes": sink.writes,
        "tie_groups": report.counts.tie_groups,
        "peak_rss_mb_before": round(rss_start, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def bench_normalize(pages: int = 2000) -> dict[str, float]:
    from assets_sync.normalize import normalize

    with emulator_process(10_000) as base:
        settings = ApiSettings(
            base_url=base, credentials=BasicAuth(SecretStr(KEY), SecretStr(SECRET))
        )
        with AssetsClient(settings, retry=FAST_RETRY, limiter=NoLimit()) as client:
            sample = [client.list_page({"pageSize": "100"}).assets]
            token = None
            for _ in range(19):
                params = {"pageSize": "100"} | ({"paginationToken": token} if token else {})
                page = client.list_page(params)
                sample.append(page.assets)
                token = page.next_token
    rows = 0
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(pages):
        assets, _ = normalize(sample[i % len(sample)])
        rows += assets.num_rows
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {
        "rows": rows,
        "seconds": round(seconds, 2),
        "rows_per_s": round(rows / seconds),
        "rows_per_cpu_s": round(rows / cpu),  # per core: fair on a shared machine
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="what", required=True)
    s = sub.add_parser("sync")
    s.add_argument("--assets", type=int, default=200_000)
    s.add_argument("--concurrency", type=int, default=4)
    s.add_argument("--token-mode", default="offset", choices=["offset", "keyset"])
    n = sub.add_parser("normalize")
    n.add_argument("--pages", type=int, default=2000)
    args = parser.parse_args()
    if args.what == "sync":
        print(json.dumps(bench_sync(args.assets, args.concurrency, args.token_mode)))
    else:
        print(json.dumps(bench_normalize(args.pages)))


if __name__ == "__main__":
    main()
