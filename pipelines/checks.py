"""Asset checks on `scenario_assets`, evaluated after every sync (they ride in the same run).

The queries live in `warehouse.quality`; this module only chooses severities: duplicated ids or
a watermark going backwards are errors (the sync's guarantees are broken), dangling lineage
(a parent in another project), a stale stream or rejected records are warnings a person
should look at.
"""

from collections.abc import Callable
from datetime import timedelta

import dagster as dg

from pipelines.assets import scenario_assets
from pipelines.resources import WarehouseResource
from warehouse import quality

FRESHNESS_MAX_LAG = timedelta(hours=36)


def _result(outcome: quality.CheckOutcome, severity: dg.AssetCheckSeverity) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=outcome.passed, severity=severity, metadata=outcome.details)


def _run(
    warehouse: WarehouseResource, check: Callable[..., quality.CheckOutcome]
) -> quality.CheckOutcome:
    with warehouse.reader() as reader:
        return quality.evaluate(reader.connection, check)


@dg.asset_check(
    asset=scenario_assets, description="One current row per id, one version per (id, updated_at)."
)
def unique_ids(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    return _result(_run(warehouse, quality.unique_ids), dg.AssetCheckSeverity.ERROR)


@dg.asset_check(asset=scenario_assets, description="No successful run moved a watermark backwards.")
def monotonic_watermarks(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    return _result(_run(warehouse, quality.monotonic_watermarks), dg.AssetCheckSeverity.ERROR)


@dg.asset_check(asset=scenario_assets, description="Parent and root ids resolve to synced assets.")
def lineage_resolvable(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    return _result(_run(warehouse, quality.lineage_resolvable), dg.AssetCheckSeverity.WARN)


@dg.asset_check(asset=scenario_assets, description="Every stream's watermark is under 36 h old.")
def freshness(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    def check(con: object) -> quality.CheckOutcome:
        return quality.freshness(con, FRESHNESS_MAX_LAG)  # type: ignore[arg-type]

    return _result(_run(warehouse, check), dg.AssetCheckSeverity.WARN)


@dg.asset_check(
    asset=scenario_assets, description="The last run of each stream rejected no record."
)
def rejected_records(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    return _result(_run(warehouse, quality.rejected_records), dg.AssetCheckSeverity.WARN)


scenario_asset_checks = [
    unique_ids,
    monotonic_watermarks,
    lineage_resolvable,
    freshness,
    rejected_records,
]
