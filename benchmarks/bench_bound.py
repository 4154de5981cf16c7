"""How fast a full sync could be on this machine: the CPU of its parts, against the floor.

    python benchmarks/bench_bound.py --assets 1000000 --label bound-1m
    python benchmarks/bench_bound.py --quick      # 5,000 assets, CI smoke (a few seconds)

Target 1 of issue 7 asks a full sync to take at most 1.3x the floor's time. On a box where
the emulator shares the client's cores, that is a question of CPU: the cores can do at most
`cores x wall` seconds of work. Against one emulator (its own process, loopback HTTP), in one
run, each in its own process:

1. floor: `contenders/floor.py` (requests, JSON parsed and discarded), and the emulator's
   CPU while it served them;
2. engine: `contenders/assets_sync_run.py` into a fresh warehouse, the same way, with its
   writer's time split (`--writer-timeline`: writing, on its CPU, waiting for a core or
   blocked, and waiting for pages between writes);
3. parts: `contenders/parts.py`, the engine's work in sequence, each part's CPU alone
   (fetch, parse, parse + normalize, write through the engine's `WriteBuffer` and
   `DuckDBSink`).

The least CPU any pipeline of this design needs for the sync is the floor's work (requests and
parsing, measured in `parts` without a process's start-up), plus what normalizing adds to
parsing, plus the writer's, plus the emulator's CPU for the floor's pages;
divided by the cores, it is a lower bound of the wall, reached only if both cores were busy
from the first request to the last commit. `bound_ratio` is that bound over the floor's
time. A second bound does not depend on the cores: the sync has ONE writer (one DuckDB
connection, one transaction at a time), so it cannot end before the writer's own work is
done, and that work alone (`parts`' write, on an otherwise idle box) takes `writer_ratio`
times the floor; `least_ratio` is the larger of the two. `overhead_cpu_s` is what the
engine's run used beyond the sum of its parts (threads, their hand-offs, pagination's
bookkeeping, the page faults of concurrent allocation, the parts slowed down by running side
by side, and the process's start-up).
Output: `<out-dir>/<label>.json` and `.md`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_compare import log, measure
from harness import EmulatorProcess, machine, machine_line, output_dir, publish, python_cmd

TARGET_RATIO = 1.3


def bound(rows: dict[str, dict[str, Any]], cores: int) -> dict[str, Any]:
    """The lower bound of the sync's wall from the parts' CPU, and the engine's overhead."""
    floor, engine, parts = rows["floor"], rows["engine"], rows["parts"]["result"]
    floor_work = floor["work_s"]
    fetch = parts["fetch"]["cpu_s"]  # the floor's work, without its process's start-up
    normalize_extra = max(0.0, parts["normalize"]["cpu_s"] - parts["parse"]["cpu_s"])
    writer = parts["write"]["cpu_s"]
    client = fetch + normalize_extra + writer
    needed = client + floor["emulator_cpu_s"]
    least_wall = needed / cores
    writer_wall = parts["write"]["wall_s"]  # the one writer's path, whatever the cores
    out = {
        "cores": cores,
        "floor_work_s": floor_work,
        "fetch_cpu_s": fetch,
        "floor_emulator_cpu_s": floor["emulator_cpu_s"],
        "normalize_extra_cpu_s": round(normalize_extra, 2),
        "writer_cpu_s": writer,
        "client_cpu_needed_s": round(client, 2),
        "cpu_needed_s": round(needed, 2),
        "least_wall_s": round(least_wall, 2),
        "bound_ratio": round(least_wall / floor_work, 2) if floor_work else None,
        "writer_wall_s": writer_wall,
        "writer_ratio": round(writer_wall / floor_work, 2) if floor_work else None,
        "least_ratio": (
            round(max(least_wall, writer_wall) / floor_work, 2) if floor_work else None
        ),
        "target_ratio": TARGET_RATIO,
        "cpu_budget_at_target_s": round(TARGET_RATIO * floor_work * cores, 2),
        "engine_work_s": engine["work_s"],
        "engine_ratio": round(engine["work_s"] / floor_work, 2) if floor_work else None,
        "engine_cpu_s": engine["cpu_s"],
        "engine_emulator_cpu_s": engine["emulator_cpu_s"],
        "overhead_cpu_s": round(engine["cpu_s"] - client, 2),
        "engine_writer": (engine.get("result") or {}).get("writer"),
        "engine_busy_cores": (
            round((engine["cpu_s"] + engine["emulator_cpu_s"]) / engine["work_s"], 2)
            if engine["work_s"]
            else None
        ),
    }
    return out


def markdown(res: dict[str, Any]) -> str:
    b, rows = res["bound"], res["rows"]
    p = rows["parts"]["result"]
    lines = [
        f"### {res['label']}: {res['assets']:,} assets",
        "",
        machine_line(res["machine"]),
        "",
        "| process | work s | CPU s (sys) | minor faults | emulator CPU s | load |",
        "|---|---|---|---|---|---|",
    ]
    for name in ("floor", "engine", "parts"):
        r = rows[name]
        lines.append(
            f"| {name} | {r['work_s'] if r['work_s'] is not None else '-'} | {r['cpu_s']} "
            f"({r['sys_s']}) | {r['minor_faults']:,} | {r['emulator_cpu_s']} "
            f"| {r['load_avg_1m']} |"
        )
    lines += ["", "| part (alone) | wall s | CPU s (sys) | minor faults |", "|---|---|---|---|"]
    for name in ("fetch", "parse", "normalize", "write"):
        r = p[name]
        lines.append(
            f"| {name} | {r['wall_s']} | {r['cpu_s']} ({r['sys_s']}) | {r['minor_faults']:,} |"
        )
    lines += [
        "",
        f"- CPU a sync needs at least: the floor's requests and parsing {b['fetch_cpu_s']} s + "
        f"normalizing beyond parsing {b['normalize_extra_cpu_s']} s + the writer "
        f"{b['writer_cpu_s']} s + the emulator {b['floor_emulator_cpu_s']} s "
        f"= **{b['cpu_needed_s']} s**;",
        f"- on {b['cores']} cores, at best {b['least_wall_s']} s: **{b['bound_ratio']}x** the "
        f"floor's {b['floor_work_s']} s (target {b['target_ratio']}x: "
        f"{b['cpu_budget_at_target_s']} s of CPU for the whole box);",
        f"- the one writer alone, on an idle box: {b['writer_wall_s']} s, "
        f"**{b['writer_ratio']}x** the floor: no schedule of the parts ends before it (the "
        f"larger bound: **{b['least_ratio']}x**);",
        f"- the engine: {b['engine_work_s']} s, **{b['engine_ratio']}x** the floor, with "
        f"{b['engine_cpu_s']} s of CPU (**{b['overhead_cpu_s']} s** more than its parts alone) "
        f"and the emulator's {b['engine_emulator_cpu_s']} s; {b['engine_busy_cores']} cores busy "
        "on average.",
    ]
    w = b.get("engine_writer")
    if w and w.get("writes"):
        lines.append(
            f"- the engine's one writer: {w['writes']} writes, the first {w['first_write_at_s']} s "
            f"into the sync, then {w['span_s']} s to the last commit: **{w['writing_s']} s "
            f"writing** ({w['writing_cpu_s']} s of its CPU, {w['writing_core_wait_s']} s waiting "
            f"for a core, {w['writing_blocked_s']} s blocked: the GIL, fsync, locks) and "
            f"**{w['between_writes_s']} s waiting for pages**; {w['after_last_write_s']} s after "
            "the last commit."
        )
    lines.append("")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--assets", type=int, default=1_000_000)
    p.add_argument("--quick", action="store_true", help="5,000 assets: the CI smoke")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--timeout", type=float, default=3600.0, help="per contender process")
    p.add_argument("--out-dir", default=None, help="default benchmarks/results (quick: a tmp dir)")
    p.add_argument("--label", default=None)
    args = p.parse_args()
    n = 5_000 if args.quick else args.assets
    label = args.label or f"bound-{n}"
    out_dir = output_dir(args.out_dir, args.quick, "bench-bound-")
    work = Path(tempfile.mkdtemp(prefix="bench-bound-work-"))
    cores = os.cpu_count() or 1
    res: dict[str, Any] = {"label": label, "assets": n, "machine": machine()}
    rows: dict[str, dict[str, Any]] = {}
    t0 = time.perf_counter()
    try:
        log(f"emulator with {n} assets")
        with EmulatorProcess(n, seed=args.seed) as emu:
            rows["floor"] = measure(emu, "floor", python_cmd("floor.py"), args.timeout, {})
            engine_wh = str(work / "engine.duckdb")
            cmd = python_cmd("assets_sync_run.py", "--warehouse", engine_wh, "--writer-timeline")
            rows["engine"] = measure(emu, "engine", cmd, args.timeout, {})
            cmd = python_cmd("parts.py", "--warehouse", str(work / "parts.duckdb"))
            rows["parts"] = measure(emu, "parts", cmd, args.timeout, {})
    finally:
        shutil.rmtree(work, ignore_errors=True)
    failed = [name for name, row in rows.items() if not row["ok"]]
    if failed:
        log(f"FAILED: {failed}")
        sys.exit(1)
    parts = rows["parts"]["result"]
    if parts["assets"] != n or rows["floor"]["result"]["assets"] != n:
        log(f"FAILED: parts read {parts['assets']} and the floor {rows['floor']['result']} of {n}")
        sys.exit(1)
    res["rows"] = rows
    res["bound"] = bound(rows, cores)
    res["total_s"] = round(time.perf_counter() - t0, 1)
    publish(out_dir, label, res, markdown(res))


if __name__ == "__main__":
    main()
