"""`analytics_report`: the HTML report, refreshed after each sync.

It only reads the warehouse, but it is in the `warehouse` pool anyway: DuckDB refuses a
read-only open while another process writes, so the report waits its turn behind a sync
instead of failing beside it.

(No `from __future__ import annotations`: Dagster reads the annotations at definition time.)
"""

import os
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
from pydantic import Field

from pipelines.assets import WAREHOUSE_POOL, scenario_assets
from pipelines.report import render_report, write_atomically
from pipelines.resources import WarehouseResource
from warehouse import analytics


class ReportConfig(dg.Config):
    out: str | None = Field(
        default=None, description="Where to write the HTML report (default: report.html beside "
        "the warehouse file).",
    )  # fmt: skip


def report_path(warehouse: WarehouseResource, out: str | None) -> str:
    if out:
        return out
    return os.path.join(os.path.dirname(os.path.abspath(warehouse.path)), "report.html")


@dg.asset(
    group_name="scenario",
    deps=[scenario_assets],
    pool=WAREHOUSE_POOL,
    kinds={"html"},
    description="Self-contained HTML report (charts of activity, models, lineage, sync health).",
)
def analytics_report(
    config: ReportConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult[None]:
    path = report_path(warehouse, config.out)
    with warehouse.reader() as reader:
        con = reader.connection
        page = render_report(con, warehouse.path, datetime.now(UTC))
        overview = analytics.overview(con)
    written = str(write_atomically(Path(path), page))
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(written),
            "bytes": dg.MetadataValue.int(len(page.encode())),
            "live_assets": dg.MetadataValue.int(overview.live),
            "deleted_assets": dg.MetadataValue.int(overview.deleted),
            "lineage_trees": dg.MetadataValue.int(overview.trees),
            "sync_runs": dg.MetadataValue.int(overview.runs),
            "failed_runs": dg.MetadataValue.int(overview.failed_runs),
        }
    )
