"""Jobs and schedules.

- `nightly_sync`: incremental sync of a stream, then the Parquet export. The nightly schedule
  launches one run per configured project (`ASSETS_SYNC_PROJECTS`, read at tick time, comma
  separated; empty = one stream over everything the credentials see). The runs queue behind
  each other: the `warehouse` pool admits one writer at a time.
- `backfill`: the daily-partitioned `scenario_history` asset; launch a backfill over a range of
  days from the UI or `dagster job backfill`; each range is a single run.
- `reconcile` (see `pipelines.reconcile`): weekly full reconciliation and a nightly rolling one.
"""

import os
from collections.abc import Iterator

import dagster as dg

from pipelines.assets import parquet_exports, scenario_assets, scenario_history
from pipelines.reconcile import reconcile
from pipelines.report_asset import analytics_report

RUN_TAGS = {"assets-sync/writer": "warehouse"}

nightly_sync = dg.define_asset_job(
    "nightly_sync",
    selection=dg.AssetSelection.assets(scenario_assets, parquet_exports, analytics_report),
    description="Incremental sync of one stream, then the Parquet export and the HTML report.",
    tags=RUN_TAGS,
)

backfill = dg.define_asset_job(
    "backfill",
    selection=dg.AssetSelection.assets(scenario_history),
    description="Backfill history by day of updatedAt (one run per partition range).",
    tags=RUN_TAGS,
)


def configured_projects() -> list[str | None]:
    """Projects to sync, from `ASSETS_SYNC_PROJECTS` at tick time (never at import time)."""
    raw = os.environ.get("ASSETS_SYNC_PROJECTS", "")
    projects = [p.strip() for p in raw.split(",") if p.strip()]
    return list(projects) if projects else [None]


def _stream_run_config(op_name: str, project: str | None, **extra: object) -> dict[str, object]:
    cfg: dict[str, object] = {"project_id": project, **extra}
    key = "ops"
    return {key: {op_name: {"config": cfg}}}


def _per_project(
    prefix: str, op_name: str, context: dg.ScheduleEvaluationContext, **extra: object
) -> Iterator[dg.RunRequest]:
    """One run request per configured project, keyed by day so a tick never launches twice."""
    day = context.scheduled_execution_time.strftime("%Y-%m-%d")
    for project in configured_projects():
        yield dg.RunRequest(
            run_key=f"{prefix}-{project or 'all'}-{day}",
            run_config=_stream_run_config(op_name, project, **extra),
            tags={"assets-sync/stream": project or "*"},
        )


@dg.schedule(
    job=nightly_sync,
    cron_schedule="0 2 * * *",
    execution_timezone="UTC",
    description="Every night at 02:00 UTC: one incremental sync run per project.",
)
def nightly_sync_schedule(context: dg.ScheduleEvaluationContext) -> Iterator[dg.RunRequest]:
    yield from _per_project("sync", "scenario_assets", context)


@dg.schedule(
    job=reconcile,
    cron_schedule="30 3 * * *",
    execution_timezone="UTC",
    description="Every night at 03:30 UTC: rolling reconciliation of 1/7 of history per project.",
)
def rolling_reconcile_schedule(context: dg.ScheduleEvaluationContext) -> Iterator[dg.RunRequest]:
    yield from _per_project("reconcile", "reconcile_deletes", context, rolling_parts=7)


@dg.schedule(
    job=reconcile,
    cron_schedule="0 4 * * 0",
    execution_timezone="UTC",
    description="Sundays at 04:00 UTC: full reconciliation of every project.",
)
def weekly_reconcile_schedule(context: dg.ScheduleEvaluationContext) -> Iterator[dg.RunRequest]:
    yield from _per_project("full-reconcile", "reconcile_deletes", context)
