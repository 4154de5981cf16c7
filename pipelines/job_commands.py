"""The CLI's commands that run a Dagster job (`sync`, `reconcile`, `export`): build the
resources from flags and env, run the job in-process, print a summary.

Only these import Dagster (`pipelines.commands` imports this module when one of them runs):
`status`, `report` and `--help` answer in a third of the time without it.
"""

from __future__ import annotations

import argparse
from datetime import UTC, date, datetime
from typing import Any

import dagster as dg
from rich.console import Console
from rich.table import Table

from assets_sync.config import ApiSettings
from pipelines.metadata import SYNC_COUNTS
from pipelines.progress import RichProgressResource
from pipelines.resources import ScenarioApiResource, WarehouseResource
from pipelines.runner import JobOutcome, run_job


def parse_filters(items: list[str]) -> dict[str, str]:
    filters: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise argparse.ArgumentTypeError(f"--filter takes KEY=VALUE, got {item!r}")
        filters[key.strip()] = value.strip()
    return filters


def api_resource(settings: ApiSettings) -> ScenarioApiResource:
    """The Dagster resource for these settings; the secret stays an in-memory object."""
    from assets_sync.auth import BasicAuth, BearerAuth

    creds = settings.credentials
    key = secret = token = None
    if isinstance(creds, BasicAuth):
        key, secret = creds.key.get_secret_value(), creds.secret.get_secret_value()
    elif isinstance(creds, BearerAuth):
        token = creds.token.get_secret_value()
    return ScenarioApiResource(
        base_url=settings.base_url, api_key=key, api_secret=secret, bearer_token=token
    )


def resources(args: argparse.Namespace, settings: ApiSettings | None = None) -> dict[str, object]:
    res: dict[str, object] = {
        "warehouse": WarehouseResource(path=args.warehouse, parquet_dir=args.parquet_dir),
        "progress": RichProgressResource(quiet=bool(getattr(args, "quiet", False))),
    }
    if hasattr(args, "api_url"):
        res["scenario_api"] = api_resource(settings or ApiSettings.from_env(base_url=args.api_url))
    else:
        res["scenario_api"] = ScenarioApiResource()
    return res


def stream_config(args: argparse.Namespace, **extra: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "project_id": args.project_id,
        "filters": parse_filters(args.filter),
        "lookback_minutes": args.lookback_minutes,
        "settle_lag_seconds": args.settle_lag_seconds,
        "slices": args.slices,
        "concurrency": args.concurrency,
    }
    cfg.update(extra)
    return cfg


def _day(text: str, flag: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{flag} takes a day as YYYY-MM-DD, got {text!r}"
        ) from None


def run_sync_job(
    args: argparse.Namespace, settings: ApiSettings | None = None, **extra: Any
) -> JobOutcome:
    res = resources(args, settings)
    if args.since:
        since = _day(args.since, "--since")
        until = _day(args.until, "--until") if args.until else datetime.now(tz=UTC).date()
        if until < since:
            raise argparse.ArgumentTypeError("--until is before --since")
        return run_job(
            "backfill",
            res,
            {"ops": {"scenario_history": {"config": stream_config(args, **extra)}}},
            tags={
                "dagster/asset_partition_range_start": since.isoformat(),
                "dagster/asset_partition_range_end": until.isoformat(),
            },
        )
    selection = [dg.AssetKey("scenario_assets")]
    if not args.no_export:
        selection.append(dg.AssetKey("parquet_exports"))
    return run_job(
        "nightly_sync",
        res,
        {"ops": {"scenario_assets": {"config": stream_config(args, **extra)}}},
        asset_selection=selection,
    )


def print_sync_summary(console: Console, outcome: JobOutcome, title: str = "sync") -> None:
    md = outcome.metadata.get("scenario_assets") or outcome.metadata.get("scenario_history") or {}
    table = Table(title=f"{title}: {md.get('stream', '')}", show_header=False, box=None)
    for name in SYNC_COUNTS:
        table.add_row(name, f"{int(md.get(name, 0)):,}")
    table.add_row(
        "watermark", f"{md.get('watermark_before', '-')} -> {md.get('watermark_after', '-')}"
    )
    table.add_row("duration", f"{float(md.get('duration_s', 0.0)):.1f} s")
    exports = outcome.metadata.get("parquet_exports")
    if exports:
        table.add_row("parquet", str(exports.get("destination", "")))
    console.print(table)


def sync(args: argparse.Namespace, console: Console) -> int:
    outcome = run_sync_job(args)
    print_sync_summary(console, outcome, "backfill" if args.since else "sync")
    return 0


def run_reconcile_job(
    args: argparse.Namespace, settings: ApiSettings | None = None
) -> dict[str, Any]:
    extra: dict[str, Any] = {"rolling_parts": args.rolling_parts, "rolling_index": args.part}
    if getattr(args, "allow_mass_delete", False):
        extra["max_deleted_fraction"] = 1.0
    outcome = run_job(
        "reconcile",
        resources(args, settings),
        {"ops": {"reconcile_deletes": {"config": stream_config(args, **extra)}}},
    )
    return outcome.metadata.get("scenario_assets", {})


def reconcile(args: argparse.Namespace, console: Console) -> int:
    md = run_reconcile_job(args)
    console.print(
        f"reconcile {md.get('stream', '')}: listed {int(md.get('listed', 0)):,}, "
        f"marked deleted {int(md.get('deleted', 0)):,}, revived {int(md.get('revived', 0)):,} "
        f"({float(md.get('duration_s', 0.0)):.1f} s)"
    )
    return 0


def export(args: argparse.Namespace, console: Console) -> int:
    outcome = run_job(
        "nightly_sync", resources(args), asset_selection=[dg.AssetKey("parquet_exports")]
    )
    md = outcome.metadata.get("parquet_exports", {})
    rows = ", ".join(f"{k[5:]} {int(v):,}" for k, v in md.items() if k.startswith("rows_"))
    console.print(f"exported to {md.get('destination', '')}: {rows}")
    return 0
