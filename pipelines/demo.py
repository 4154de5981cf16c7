"""`assets-sync demo`: the whole pipeline on a fresh machine, against the embedded emulator.

Story: an emulated team with a few tens of thousands of assets (lineage trees, inference
batches, a bulk import sharing one millisecond). The nightly job pulls everything into
`./assets-sync-demo/` (DuckDB + Parquet); then the team works (updates, new assets, deletions);
the incremental sync picks up the changes, reconciliation finds the deletions, and a few SQL
answers show what the copy is for. The demo's own folder is recreated on each run.
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from assets_sync.auth import BasicAuth, SecretStr
from assets_sync.config import ApiSettings
from assets_sync.emulator import Emulator, EmulatorConfig
from assets_sync.engine import SyncConfig
from pipelines.job_commands import print_sync_summary, run_reconcile_job, run_sync_job
from pipelines.report import write_report
from warehouse import open_warehouse

EXAMPLE_QUERIES: list[tuple[str, str]] = [
    (
        "Assets per model (top 5)",
        """SELECT model_id, count(*) AS assets
FROM live_assets WHERE model_id IS NOT NULL
GROUP BY model_id ORDER BY assets DESC, model_id LIMIT 5""",
    ),
    (
        "Lineage depth: how many edits deep assets are",
        """WITH RECURSIVE chain(id, parent_id, depth) AS (
    SELECT id, parent_id, 0 FROM live_assets WHERE parent_id IS NULL
    UNION ALL
    SELECT a.id, a.parent_id, c.depth + 1
    FROM live_assets a JOIN chain c ON a.parent_id = c.id
)
SELECT depth, count(*) AS assets FROM chain GROUP BY depth ORDER BY depth""",
    ),
    (
        "Assets by kind, with how many were deleted upstream",
        """SELECT kind, count(*) AS assets, count(deleted_at) AS deleted
FROM assets GROUP BY kind ORDER BY assets DESC""",
    ),
    (
        "Assets that changed in the incremental sync (versions > 1)",
        """SELECT count(*) AS assets_with_history FROM (
    SELECT id FROM asset_versions GROUP BY id HAVING count(*) > 1)""",
    ),
]


def _args(workdir: Path, quiet: bool, **overrides: object) -> argparse.Namespace:
    values: dict[str, object] = {
        "api_url": "",
        "warehouse": str(workdir / "warehouse.duckdb"),
        "parquet_dir": str(workdir / "parquet"),
        "project_id": None,
        "filter": [],
        "lookback_minutes": 15.0,
        "settle_lag_seconds": 0.0,
        "slices": SyncConfig.slices,
        "concurrency": SyncConfig.concurrency,
        "since": None,
        "until": None,
        "no_export": False,
        "quiet": quiet,
        "rolling_parts": 1,
        "part": None,
    }
    values.update(overrides)
    return argparse.Namespace(**values)


def _print_query(console: Console, con: object, title: str, sql: str) -> None:
    cursor = con.execute(sql)  # type: ignore[attr-defined]
    rows = cursor.fetchall()
    table = Table(title=title, title_justify="left")
    for column in cursor.description:
        table.add_column(str(column[0]))
    for row in rows:
        table.add_row(
            *("" if v is None else f"{v:,}" if isinstance(v, int) else str(v) for v in row)
        )
    console.print(table)
    console.print(f"[dim]{sql}[/dim]\n")


def run_demo(args: argparse.Namespace, console: Console) -> int:
    workdir = Path(args.dir).resolve()
    for stale in ("warehouse.duckdb", "warehouse.duckdb.wal", "parquet"):
        target = workdir / stale
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    workdir.mkdir(parents=True, exist_ok=True)
    key, secret = "demo-key", secrets.token_urlsafe(16)
    config = EmulatorConfig(
        assets=args.assets, seed=args.seed, projects=1, api_key=key, api_secret=secret
    )
    started = time.monotonic()
    console.rule("[bold]assets-sync demo")
    console.print(f"starting the emulator with {args.assets:,} assets ...")
    with Emulator(config) as emu:
        settings = ApiSettings(
            base_url=emu.base_url, credentials=BasicAuth(SecretStr(key), SecretStr(secret))
        )
        console.print(f"emulator at {emu.base_url}; warehouse {workdir / 'warehouse.duckdb'}\n")

        console.rule("1. nightly sync (first run: everything)")
        first = run_sync_job(_args(workdir, args.quiet), settings)
        print_sync_summary(console, first, "first sync")

        console.rule("2. the team works: updates, new assets, deletions")
        updated = emu.update(n=max(10, args.assets // 100))
        parent = emu.truth()[0]["id"]
        added = emu.add(n=max(5, args.assets // 200)) + emu.add(n=3, parent_id=parent)
        deleted = emu.delete(n=max(5, args.assets // 300))
        console.print(
            f"updated {len(updated):,}, added {len(added):,} (3 of them edits of {parent}), "
            f"deleted {len(deleted):,}\n"
        )
        time.sleep(0.05)  # let the emulator's clock pass the last mutation

        console.rule("3. incremental sync")
        second = run_sync_job(_args(workdir, args.quiet), settings)
        print_sync_summary(console, second, "incremental sync")

        console.rule("4. delete reconciliation")
        md = run_reconcile_job(_args(workdir, args.quiet), settings)
        console.print(
            f"listed {int(md.get('listed', 0)):,} ids; "
            f"marked deleted {int(md.get('deleted', 0)):,}; revived {int(md.get('revived', 0)):,}\n"
        )
        truth_ids = {a["id"] for a in emu.truth()}

    console.rule("5. what the copy answers")
    with open_warehouse(str(workdir / "warehouse.duckdb"), read_only=True) as reader:
        con = reader.connection
        live = {r[0] for r in con.execute("SELECT id FROM live_assets").fetchall()}
        for title, sql in EXAMPLE_QUERIES:
            _print_query(console, con, title, sql)
    report = write_report(str(workdir / "warehouse.duckdb"), str(workdir / "report.html"))
    console.print(f"HTML report (opens offline): {report}")
    verdict = "equals" if live == truth_ids else "DIFFERS FROM"
    console.print(
        f"[bold]the warehouse's live assets ({len(live):,}) {verdict} the emulator's truth "
        f"({len(truth_ids):,})[/bold]"
    )
    console.print(
        f"done in {time.monotonic() - started:.0f} s. "
        f"Explore: duckdb {workdir / 'warehouse.duckdb'} | Parquet in {workdir / 'parquet'} | "
        f"assets-sync status --warehouse {workdir / 'warehouse.duckdb'}"
    )
    return 0 if live == truth_ids else 1
