"""Parquet export benchmark: assets-sync's export vs DuckDB's own sorted, partitioned COPY.

    python benchmarks/bench_export.py --assets 1000000 --out-dir benchmarks/results   # ~5 min
    python benchmarks/bench_export.py --assets 100000                                 # ~1 min
    python benchmarks/bench_export.py --quick        # 20k assets, CI smoke (~20 s)

1. A warehouse of N emulator assets is built by the engine (`contenders/assets_sync_run.py`
   against `python -m assets_sync.emulator`, both in their own processes), unless
   `--warehouse` names an existing one.
2. Each contender exports it in its own process (`contenders/export_run.py`): wall time, CPU
   and peak RSS from `harness.run_process`.
   - `assets-sync`: `export_parquet` (DuckDB only scans; rows wait on disk by partition and
     are sorted one partition, or one bucket of at most 128 MB, at a time);
   - `duckdb-copy`: `COPY (... ORDER BY partition, keys) TO ... (PARTITION_BY ...)`, the same
     partitions and order from DuckDB alone (how the export worked until this change).
3. Row counts must agree. Output: a markdown table (stdout, and `<out-dir>/<label>.md` with
   `<label>.json` when `--out-dir` is given).
4. `--with-cli`: also the nightly run as a user runs it, `python -m pipelines sync` (the sync
   then the export, Dagster in-process) against a fresh emulator of N assets: its wall time
   and peak RSS, the export included.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    EmulatorProcess,
    Measurement,
    contender_env,
    machine,
    machine_line,
    python_cmd,
    run_process,
)

CONTENDERS = ("assets-sync", "duckdb-copy")


def build(assets: int, path: Path) -> float:
    """Sync `assets` emulator assets into a new warehouse at `path`; returns the seconds."""
    with EmulatorProcess(assets) as emu:
        m = run_process(
            "build",
            python_cmd("assets_sync_run.py", "--warehouse", str(path)),
            env=contender_env(emu.base_url),
        )
    # `new`, not `rows`: a page in flight when its slice was split may list a few assets of
    # the split-off piece too; they are stored once and counted as unchanged.
    if not m.ok or m.result.get("counts", {}).get("new") != assets:
        raise SystemExit(
            f"building the warehouse failed (rc {m.returncode}, result {m.result}): "
            f"{m.stderr_tail[-1500:]}"
        )
    return m.wall_s


def export(how: str, warehouse: Path, dest: Path) -> Measurement:
    m = run_process(
        how,
        python_cmd(
            "export_run.py", "--warehouse", str(warehouse), "--dest", str(dest), "--how", how
        ),
        env=contender_env("http://127.0.0.1:9/unused"),
    )
    if not m.ok:
        raise SystemExit(f"{how} failed: {m.stderr_tail[-1500:]}")
    return m


def cli_run(assets: int, work: Path) -> Measurement:
    """`assets-sync sync` (sync + Parquet export) of a fresh emulator, as the schedule runs it."""
    with EmulatorProcess(assets) as emu:
        cmd = [sys.executable, "-m", "pipelines", "sync", "--warehouse", str(work / "cli.duckdb")]
        cmd += ["--parquet-dir", str(work / "cli-parquet"), "--quiet", "--settle-lag-seconds", "0"]
        m = run_process("cli sync + export", cmd, env=contender_env(emu.base_url))
    if not m.ok:
        raise SystemExit(f"the CLI run failed: {m.stderr_tail[-1500:]}")
    return m


def table(rows: dict[str, Measurement], header: str) -> str:
    base = rows["assets-sync"]
    lines = [
        header,
        "",
        "| contender | wall s | export s | CPU s | peak RSS MB | RSS vs assets-sync | load 1m |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, m in rows.items():
        ratio = m.peak_rss_mb / base.peak_rss_mb if base.peak_rss_mb else float("nan")
        work = m.result.get("work_s")
        lines.append(
            f"| {name} | {m.wall_s:.2f} | {'-' if work is None else f'{work:.2f}'} | "
            f"{m.cpu_s:.1f} | {m.peak_rss_mb:.0f} | {ratio:.2f}x | {m.load_avg_1m:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--assets", type=int, default=100_000)
    p.add_argument("--quick", action="store_true", help="20k assets (CI smoke)")
    p.add_argument("--warehouse", default=None, help="export this warehouse instead of building")
    p.add_argument("--contenders", default=",".join(CONTENDERS))
    p.add_argument("--with-cli", action="store_true", help="also `assets-sync sync` + export")
    p.add_argument("--out-dir", default=None)
    p.add_argument("--label", default=None)
    args = p.parse_args()
    assets = 20_000 if args.quick else args.assets
    chosen = [c for c in args.contenders.split(",") if c]
    unknown = set(chosen) - set(CONTENDERS)
    if unknown or "assets-sync" not in chosen:
        raise SystemExit(f"--contenders: assets-sync plus any of {CONTENDERS}, not {unknown}")
    work = Path(tempfile.mkdtemp(prefix="bench-export-"))
    result: dict[str, Any] = {"machine": machine(), "assets": assets}
    try:
        if args.warehouse:
            warehouse = Path(args.warehouse)
        else:
            warehouse = work / "warehouse.duckdb"
            print(f"building a warehouse of {assets:,} assets ...", flush=True)
            result["build_s"] = build(assets, warehouse)
        rows: dict[str, Measurement] = {}
        for how in chosen:
            print(f"exporting with {how} ...", flush=True)
            rows[how] = export(how, warehouse, work / how)
            shutil.rmtree(work / how, ignore_errors=True)
        counts = {how: m.result.get("rows") for how, m in rows.items()}
        if args.with_cli:
            print(f"assets-sync sync (+ export) of {assets:,} assets ...", flush=True)
            rows["cli sync + export"] = cli_run(assets, work)
        if len({json.dumps(c, sort_keys=True) for c in counts.values()}) != 1:
            raise SystemExit(f"the contenders disagree on row counts: {counts}")
        label = args.label or f"export-{assets}"
        header = f"### {label}\n\n{machine_line(result['machine'])}; rows {counts['assets-sync']}"
        md = table(rows, header)
        print(md)
        result.update(label=label, rows=counts)
        result["contenders"] = {k: m.as_dict() for k, m in rows.items()}
        if args.out_dir:
            out = Path(args.out_dir)
            out.mkdir(parents=True, exist_ok=True)
            (out / f"{label}.json").write_text(json.dumps(result, indent=2, default=str))
            (out / f"{label}.md").write_text(md + "\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"done at {time.strftime('%H:%M:%S')}")


if __name__ == "__main__":
    main()
