"""Software-defined assets: thin calls into the engine and the warehouse.

- `scenario_assets`: the synced tables (assets, asset_versions, asset_lineage,
  rejected_assets), advanced by one incremental run of a stream.
- `scenario_history`: the same tables seen as daily partitions of `updatedAt`; materializing a
  range of partitions is a backfill of those days, run as ONE Dagster run (single-run backfill
  policy) that the engine cuts into concurrent, individually resumable slices.
- `parquet_exports`: the Parquet datasets dashboards read, swapped in atomically.

Every asset that writes the warehouse is in the `warehouse` concurrency pool, whose limit is 1
in `dagster.yaml`: Dagster never runs two writers on one warehouse at once (and the warehouse
itself refuses a second writer, for runs started outside Dagster).

(No `from __future__ import annotations` in the modules with Dagster decorators: Dagster reads
the parameter annotations at definition time to find config and resources.)
"""

import warnings
from datetime import UTC, datetime
from typing import Any

import dagster as dg

from assets_sync.engine import run_sync
from assets_sync.progress import ProgressEvent
from pipelines.config import SyncRunConfig
from pipelines.metadata import sync_metadata
from pipelines.resources import ProgressResource, ScenarioApiResource, WarehouseResource

# We use `backfill_policy` (beta in Dagster) on purpose; its warning would only be noise on
# every run. Every module that defines or runs a job imports this one first.
warnings.filterwarnings("ignore", category=dg.BetaWarning)

WAREHOUSE_POOL = "warehouse"
HISTORY_START = "2023-01-01"

history_partitions = dg.DailyPartitionsDefinition(start_date=HISTORY_START, timezone="UTC")


def _progress(context: Any, progress: ProgressResource) -> Any:
    def on_event(event: ProgressEvent) -> None:
        progress.event(context, event)

    return on_event


@dg.asset(
    group_name="scenario",
    pool=WAREHOUSE_POOL,
    kinds={"duckdb"},
    description="Current state, version history and lineage of the stream's assets (DuckDB).",
)
def scenario_assets(
    context: dg.AssetExecutionContext,
    config: SyncRunConfig,
    scenario_api: ScenarioApiResource,
    warehouse: WarehouseResource,
    progress: ProgressResource,
) -> dg.MaterializeResult[None]:
    stream = config.stream()
    return _sync(
        context,
        config,
        scenario_api,
        warehouse,
        progress,
        f"incremental sync of {stream.stream_id}",
    )


def _sync(
    context: dg.AssetExecutionContext,
    config: SyncRunConfig,
    scenario_api: ScenarioApiResource,
    warehouse: WarehouseResource,
    progress: ProgressResource,
    title: str,
    window: tuple[int, int] | None = None,
) -> dg.MaterializeResult[None]:
    """One engine run into the warehouse: incremental (no window) or a backfill of `window`."""
    progress.start(context, title)
    try:
        with scenario_api.client() as client, warehouse.sink() as sink:
            report = run_sync(
                client,
                sink,
                config.stream(),
                config.sync_config(),
                mode="sync" if window is None else "backfill",
                window=window,
                progress=_progress(context, progress),
                run_id=context.run.run_id,
            )
    finally:
        progress.stop()
    return dg.MaterializeResult(metadata=sync_metadata(report))


def _ms(dt: datetime) -> int:
    return int(dt.astimezone(UTC).timestamp() * 1000)


@dg.asset(
    group_name="scenario",
    pool=WAREHOUSE_POOL,
    kinds={"duckdb"},
    partitions_def=history_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    description=(
        "Backfill of history by day of updatedAt: a partition range is one run, cut into "
        "concurrent resumable slices. Writes the same tables as scenario_assets."
    ),
)
def scenario_history(
    context: dg.AssetExecutionContext,
    config: SyncRunConfig,
    scenario_api: ScenarioApiResource,
    warehouse: WarehouseResource,
    progress: ProgressResource,
) -> dg.MaterializeResult[None]:
    window = context.partition_time_window
    # The API's bounds are exclusive: (start - 1 ms, end) covers [start, end).
    lo_ms, hi_ms = _ms(window.start) - 1, _ms(window.end)
    title = (
        f"backfill of {config.stream().stream_id} {window.start:%Y-%m-%d}..{window.end:%Y-%m-%d}"
    )
    return _sync(context, config, scenario_api, warehouse, progress, title, (lo_ms, hi_ms))


@dg.asset(
    group_name="scenario",
    deps=[scenario_assets],
    pool=WAREHOUSE_POOL,
    kinds={"parquet"},
    description="Parquet datasets assets/, asset_versions/, asset_lineage/ for dashboards.",
)
def parquet_exports(warehouse: WarehouseResource) -> dg.MaterializeResult[None]:
    # Imported here: the export's pyarrow.compute, .parquet and .fs are ~13 MB of RSS that a
    # sync's process (`assets-sync sync`, whose peak is the sync's) would otherwise carry.
    from warehouse.export import export_parquet

    dest = warehouse.parquet_destination()
    with warehouse.reader() as reader:
        result = export_parquet(reader.connection, dest)
    md: dict[str, Any] = {"destination": dg.MetadataValue.path(dest)}
    for name, rows in result.rows.items():
        md[f"rows_{name}"] = dg.MetadataValue.int(rows)
    md["snapshot"] = result.snapshot
    return dg.MaterializeResult(metadata=md)
