"""Contender "assets-sync, engine alone": `run_sync` / `run_reconcile` into a DuckDB warehouse,
without Dagster, so that process start-up and Dagster's own cost are told apart from the sync.

Builds exactly what the CLI's job builds (an `AssetsClient` with its default retry policy and
rate limiter, `open_warehouse(path)`, `SyncConfig` from the CLI's defaults) and calls the engine
once: the README's "From Python, without Dagster" block. It starts as that block does, with
`assets_sync.memory.lean_sync_process()` before any import of pyarrow: NumPy and pandas kept
out of pyarrow and Arrow on the system allocator, what the CLI's `sync` sets:

    python benchmarks/contenders/assets_sync_run.py --warehouse W [--mode sync|reconcile]
        [--slices 16] [--concurrency 8] [--settle-lag-seconds 0] [--lookback-minutes 15]
        [--max-rate R]    # client limiter's max_rate (default: the client's own default)
        [--max-rows-per-write N]  # the engine's write batch (default: SyncConfig's)
        [--cprofile OUT]  # cProfile of every thread (fetchers + writer) -> OUT (pstats)
        [--duckdb-memory] # add DuckDB's duckdb_memory() by tag at the end of the run
        [--writer-timeline]  # add where the writer's time went ("writer": WriterTimeline)

URL and credentials from SCENARIO_API_URL / SCENARIO_API_KEY / SCENARIO_API_SECRET. Prints one
JSON line: work_s (the engine call alone), import_s, the run's counts and client stats.
"""

from __future__ import annotations

import time

T_START = time.perf_counter()

import argparse  # noqa: E402 - imports are part of what is timed
import contextlib  # noqa: E402
import cProfile  # noqa: E402
import json  # noqa: E402
import threading  # noqa: E402
from dataclasses import asdict  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from assets_sync.memory import lean_sync_process  # noqa: E402

lean_sync_process()  # before anything imports pyarrow, as the README's Python block

from writer_timeline import WriterTimeline  # noqa: E402

import assets_sync  # noqa: E402
from assets_sync.client import AssetsClient  # noqa: E402
from assets_sync.config import ApiSettings  # noqa: E402
from assets_sync.engine import SyncConfig, run_sync  # noqa: E402
from assets_sync.ratelimit import RateLimiter  # noqa: E402
from assets_sync.reconcile import run_reconcile  # noqa: E402
from assets_sync.sink import StreamKey  # noqa: E402
from warehouse import open_warehouse  # noqa: E402

IMPORT_S = time.perf_counter() - T_START


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--warehouse", required=True)
    parser.add_argument("--mode", choices=("sync", "reconcile"), default="sync")
    parser.add_argument("--slices", type=int, default=SyncConfig.slices)
    parser.add_argument("--concurrency", type=int, default=SyncConfig.concurrency)
    parser.add_argument("--settle-lag-seconds", type=float, default=0.0)
    parser.add_argument("--lookback-minutes", type=float, default=15.0)
    parser.add_argument("--max-rate", type=float, default=None)
    parser.add_argument("--max-rows-per-write", type=int, default=SyncConfig.max_rows_per_write)
    parser.add_argument("--cprofile", default=None)
    parser.add_argument("--duckdb-memory", action="store_true", help="report duckdb_memory()")
    parser.add_argument(
        "--writer-timeline", action="store_true", help="time the writer's writes (WriterTimeline)"
    )
    args = parser.parse_args()
    config = SyncConfig(
        lookback_ms=round(args.lookback_minutes * 60_000),
        settle_lag_ms=round(args.settle_lag_seconds * 1000),
        slices=args.slices,
        concurrency=args.concurrency,
        max_rows_per_write=args.max_rows_per_write,
    )
    settings = ApiSettings.from_env()
    limiter = RateLimiter(max_rate=args.max_rate) if args.max_rate else None
    profiles: list[cProfile.Profile] = []
    if args.cprofile:
        # cProfile follows one thread: give every thread (fetchers, writer) its own profiler.
        lock = threading.Lock()

        def per_thread(*_: Any) -> None:
            prof = cProfile.Profile()
            with lock:
                profiles.append(prof)
            threading.setprofile(None)
            prof.enable()

        threading.setprofile(per_thread)
        main_prof = cProfile.Profile()
        profiles.append(main_prof)
        main_prof.enable()
    out: dict[str, Any] = {"mode": args.mode, "import_s": round(IMPORT_S, 3)}
    out["source"] = str(Path(assets_sync.__file__).resolve().parents[1])  # the tree measured
    t0 = time.perf_counter()
    with AssetsClient(settings, limiter=limiter) as client, open_warehouse(args.warehouse) as wh:
        t_open = time.perf_counter()
        stream = StreamKey(None)
        timeline = WriterTimeline(wh) if args.writer_timeline else None
        if args.mode == "sync":
            report = run_sync(client, timeline or wh, stream, config)  # type: ignore[arg-type]
            out.update(
                rows=report.counts.fetched,
                counts=report.counts.as_dict(),
                engine_s=round(report.duration_s, 3),
            )
        else:
            rec = run_reconcile(client, wh, stream, config)
            out.update(
                listed=rec.listed,
                deleted=rec.deleted,
                complete=rec.complete,
                engine_s=round(rec.duration_s, 3),
            )
        t_done = time.perf_counter()
        if timeline is not None:
            out["writer"] = timeline.summary(t_open, t_done)
        out["client"] = asdict(client.stats)
        out["fresh_writes"] = wh.fresh_writes  # writes classified without reading `assets`
        if args.duckdb_memory:  # where DuckDB's memory is at the end of the run, by tag
            rows = wh.connection.execute(
                "SELECT tag, memory_usage_bytes FROM duckdb_memory() WHERE memory_usage_bytes > 0"
            ).fetchall()
            out["duckdb_memory_mb"] = {t: round(b / 2**20, 1) for t, b in rows}
            limit = wh.connection.execute("SELECT current_setting('memory_limit')").fetchone()
            out["duckdb_memory_limit"] = limit[0] if limit else None
    t_closed = time.perf_counter()
    if args.cprofile:
        for prof in profiles:
            prof.disable()
        import pstats

        stats = pstats.Stats(profiles[0])
        for prof in profiles[1:]:
            with contextlib.suppress(TypeError):  # a thread's profiler that recorded nothing
                stats.add(prof)
        stats.dump_stats(args.cprofile)
    out.update(
        open_s=round(t_open - t0, 3),
        work_s=round(t_done - t_open, 3),
        close_s=round(t_closed - t_done, 3),
    )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
