"""`pipelines.definitions:defs`: what `dagster dev` loads.

Secrets reach the resources only through `dagster.EnvVar`: Dagster resolves them when a run
starts, so they never appear in run config or the event log. At load time we only look at
WHETHER a credential variable is set (never at its value) so that a deployment with public
access or a bearer token does not fail on an unset key pair.
"""

from __future__ import annotations

import os

import dagster as dg

from assets_sync.config import DEFAULT_API_URL
from assets_sync.memory import prefer_system_allocator
from pipelines.assets import parquet_exports, scenario_assets, scenario_history
from pipelines.checks import scenario_asset_checks
from pipelines.jobs import (
    backfill,
    nightly_sync,
    nightly_sync_schedule,
    rolling_reconcile_schedule,
    weekly_reconcile_schedule,
)
from pipelines.reconcile import reconcile
from pipelines.report_asset import analytics_report
from pipelines.resources import ProgressResource, ScenarioApiResource, WarehouseResource


def _env(name: str, *aliases: str) -> dg.EnvVar | None:
    for candidate in (name, *aliases):
        if candidate in os.environ:
            return dg.EnvVar(candidate)
    return None


def default_resources() -> dict[str, object]:
    return {
        "scenario_api": ScenarioApiResource(
            base_url=_env("SCENARIO_API_URL") or DEFAULT_API_URL,
            api_key=_env("SCENARIO_API_KEY", "SCENARIO_SDK_API_KEY"),
            api_secret=_env("SCENARIO_API_SECRET", "SCENARIO_SDK_API_SECRET"),
            bearer_token=_env("SCENARIO_API_TOKEN"),
        ),
        "warehouse": WarehouseResource(
            path=_env("ASSETS_SYNC_WAREHOUSE") or "assets-sync.duckdb",
            parquet_dir=_env("ASSETS_SYNC_PARQUET_DIR"),
        ),
        "progress": ProgressResource(),
    }


def build_definitions(resources: dict[str, object]) -> dg.Definitions:
    """Everything, bound to `resources`. The CLI binds its own; `dagster dev` loads `defs`."""
    return dg.Definitions(
        assets=[scenario_assets, scenario_history, parquet_exports, analytics_report],
        asset_checks=scenario_asset_checks,
        jobs=[nightly_sync, backfill, reconcile],
        schedules=[nightly_sync_schedule, rolling_reconcile_schedule, weekly_reconcile_schedule],
        resources=resources,
    )


prefer_system_allocator()  # this module is the code location: the program's start
defs = build_definitions(default_resources())
