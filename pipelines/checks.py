"""Asset checks on `scenario_assets`, evaluated after every sync (they ride in the same run).

The queries live in `warehouse.quality`; this module only chooses severities: duplicated ids or
a watermark going backwards are errors (the sync's guarantees are broken), dangling lineage
(a parent in another project), a stale stream or rejected records are warnings a person
should look at.

The five checks are one Dagster step (`multi_asset_check`, subsettable): one read-only open of
the warehouse for all of them instead of one each (a no-op `assets-sync sync` took 0.11 s
less: benchmarks/RESULTS.md, fourteenth session). Each is still its own check in the UI,
selectable alone.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta

import dagster as dg
import duckdb

from pipelines.assets import scenario_assets
from pipelines.resources import WarehouseResource
from warehouse import quality

FRESHNESS_MAX_LAG = timedelta(hours=36)


def _freshness(con: duckdb.DuckDBPyConnection) -> quality.CheckOutcome:
    return quality.freshness(con, FRESHNESS_MAX_LAG)


@dataclass(frozen=True)
class _Check:
    name: str
    description: str
    run: Callable[[duckdb.DuckDBPyConnection], quality.CheckOutcome]
    severity: dg.AssetCheckSeverity


CHECKS = (
    _Check(
        "unique_ids",
        "One current row per id, one version per (id, updated_at).",
        quality.unique_ids,
        dg.AssetCheckSeverity.ERROR,
    ),
    _Check(
        "monotonic_watermarks",
        "No successful run moved a watermark backwards.",
        quality.monotonic_watermarks,
        dg.AssetCheckSeverity.ERROR,
    ),
    _Check(
        "lineage_resolvable",
        "Parent and root ids resolve to synced assets.",
        quality.lineage_resolvable,
        dg.AssetCheckSeverity.WARN,
    ),
    _Check(
        "freshness",
        "Every stream's watermark is under 36 h old.",
        _freshness,
        dg.AssetCheckSeverity.WARN,
    ),
    _Check(
        "rejected_records",
        "The last run of each stream rejected no record.",
        quality.rejected_records,
        dg.AssetCheckSeverity.WARN,
    ),
)


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(c.name, asset=scenario_assets, description=c.description) for c in CHECKS
    ],
    can_subset=True,
    name="scenario_asset_checks",
)
def warehouse_checks(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> Iterator[dg.AssetCheckResult]:
    selected = {key.name for key in context.selected_asset_check_keys}
    with warehouse.reader() as reader:
        for check in CHECKS:
            if check.name not in selected:
                continue
            outcome = quality.evaluate(reader.connection, check.run)
            yield dg.AssetCheckResult(
                check_name=check.name,
                asset_key=scenario_assets.key,
                passed=outcome.passed,
                severity=check.severity,
                metadata=outcome.details,
            )


scenario_asset_checks = [warehouse_checks]
