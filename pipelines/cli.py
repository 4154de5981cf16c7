"""`assets-sync`: the command line. It runs the same Dagster jobs as `dagster dev`, in-process.

Exit codes: 0 success, 1 a failure explained in one line on stderr, 2 bad flags (argparse),
130 interrupted. Credentials come only from the environment (`SCENARIO_API_KEY` and
`SCENARIO_API_SECRET`, or `SCENARIO_API_TOKEN`; none = public access), never from flags, so
they cannot leak through shell history or `ps`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence

from rich.console import Console

from assets_sync.config import DEFAULT_API_URL, ApiSettings
from assets_sync.engine import SyncConfig
from assets_sync.memory import keep_pandas_out_of_pyarrow, prefer_system_allocator
from pipelines import commands
from pipelines.errors import describe_error

Handler = Callable[[argparse.Namespace, Console], int]


def _common(parser: argparse.ArgumentParser, *, api: bool = True, warehouse: bool = True) -> None:
    if api:
        parser.add_argument(
            "--api-url",
            default=os.environ.get("SCENARIO_API_URL", DEFAULT_API_URL),
            help="API base URL (env SCENARIO_API_URL; default %(default)s)",
        )
        parser.add_argument(
            "--project-id",
            default=os.environ.get("SCENARIO_PROJECT_ID"),
            help="project to sync (env SCENARIO_PROJECT_ID; default: all the credentials see)",
        )
        parser.add_argument(
            "--filter",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="extra GET /v1/assets filter of the stream, e.g. type=upscale (repeatable)",
        )
    if warehouse:
        parser.add_argument(
            "--warehouse",
            default=os.environ.get("ASSETS_SYNC_WAREHOUSE", "assets-sync.duckdb"),
            help="DuckDB file (env ASSETS_SYNC_WAREHOUSE; default %(default)s)",
        )
        parser.add_argument(
            "--parquet-dir",
            default=os.environ.get("ASSETS_SYNC_PARQUET_DIR"),
            help="Parquet destination, a folder or s3://bucket/prefix "
            "(env ASSETS_SYNC_PARQUET_DIR; default: parquet/ beside the warehouse)",
        )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress display")


def _tuning(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lookback-minutes", type=float, default=15.0)
    parser.add_argument("--settle-lag-seconds", type=float, default=5.0)
    parser.add_argument(
        "--slices", type=int, default=SyncConfig.slices, help="time slices of a first sync"
    )
    parser.add_argument(
        "--concurrency", type=int, default=SyncConfig.concurrency, help="slices fetched at once"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="assets-sync",
        description="Keep an analytics copy of Scenario's assets in DuckDB and Parquet.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("sync", help="incremental sync (or a backfill with --since/--until)")
    _common(p)
    _tuning(p)
    p.add_argument("--since", help="backfill from this day (YYYY-MM-DD, UTC) instead")
    p.add_argument("--until", help="backfill up to and including this day (default: today)")
    p.add_argument("--no-export", action="store_true", help="skip the Parquet export")
    p.set_defaults(handler=commands.sync)

    p = sub.add_parser("reconcile", help="mark assets deleted upstream (complete listings only)")
    _common(p)
    _tuning(p)
    p.add_argument("--rolling-parts", type=int, default=1, help="reconcile 1/N of history")
    p.add_argument("--part", type=int, default=None, help="which part (default: by day)")
    p.add_argument(
        "--allow-mass-delete",
        action="store_true",
        help="mark assets deleted even when more than half of the stream's live assets are "
        "absent from the listing (refused by default: wrong-scope credentials look like that)",
    )
    p.set_defaults(handler=commands.reconcile)

    p = sub.add_parser("status", help="per stream: watermark, counts, last runs, lag")
    _common(p, api=False)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=commands.status)

    p = sub.add_parser("export", help="write the Parquet datasets (atomic swap)")
    _common(p, api=False)
    p.set_defaults(handler=commands.export)

    p = sub.add_parser("emulator", help="serve the offline emulator of the API")
    from assets_sync.emulator import cli as emulator_cli

    emulator_cli.add_arguments(p)
    p.set_defaults(handler=lambda args, console: emulator_cli.run(args))

    p = sub.add_parser("demo", help="the whole pipeline against the embedded emulator")
    p.add_argument("--dir", default="assets-sync-demo", help="output folder (default %(default)s)")
    p.add_argument("--assets", type=int, default=30_000, help="emulated assets")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress display")
    p.set_defaults(handler=commands.demo)

    p = sub.add_parser("report", help="a self-contained HTML report of the warehouse")
    _common(p, api=False)
    p.add_argument("--out", default="report.html")
    p.set_defaults(handler=commands.report)
    return parser


def api_settings(args: argparse.Namespace) -> ApiSettings:
    """Credentials from the environment, the URL from the flag."""
    return ApiSettings.from_env(base_url=args.api_url)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    prefer_system_allocator()
    keep_pandas_out_of_pyarrow()
    console = Console()
    handler: Handler = args.handler
    try:
        return handler(args, console)
    except KeyboardInterrupt:
        Console(stderr=True).print("interrupted: committed progress is kept; run again to resume")
        return 130
    except Exception as exc:  # noqa: BLE001 - the one place that turns any failure into a line
        message = " ".join(describe_error(exc).split())  # one line, whatever the cause said
        if getattr(args, "json", False):
            print(json.dumps({"error": message}), file=sys.stderr)
        else:
            print(f"error: {message}", file=sys.stderr)
        return 1
