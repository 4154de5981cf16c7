"""`assets-sync report`: one self-contained HTML file of the warehouse's figures.

The file opens with no network at all: CSS and SVG charts are inline, there is no script, no
font, no image URL. Figures come from `warehouse.analytics` over a READ-ONLY connection (a
report never blocks on nor disturbs a writer's data; DuckDB still refuses a read-only open
while another process writes), under the report's own DuckDB memory limit: its lineage
figures need more than the writer's 128MB at 1M assets. The file is written beside its
destination and renamed into place, so a dashboard serving it never shows half a page.
"""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from pipelines.report_html import ReportData, render
from warehouse import WarehouseError, analytics, open_warehouse
from warehouse.connection import REPORT_MEMORY_LIMIT_ENV, memory_limit_for, report_memory_limit


def collect(con: duckdb.DuckDBPyConnection, warehouse: str, now: datetime) -> ReportData:
    """Every figure of the report, read from one connection."""
    return ReportData(
        warehouse=warehouse,
        generated_at=now,
        overview=analytics.overview(con),
        creations=analytics.creations_by_type(con),
        models=analytics.top_models(con),
        depths=analytics.depth_distribution(con),
        funnel=analytics.derivation_funnel(con),
        runs=analytics.recent_runs(con),
        deletions=analytics.deletions_per_day(con),
        changes=analytics.changed_fields(con),
        rejects=analytics.rejects_by_reason(con),
    )


def render_report(
    con: duckdb.DuckDBPyConnection, warehouse: str, now: datetime | None = None
) -> str:
    """The page for the warehouse behind `con` (which may be the writer's own connection).

    The figures are read under the report's own DuckDB memory limit (1GB unless
    `$ASSETS_SYNC_REPORT_MEMORY_LIMIT` says otherwise), then the connection's is restored.
    """
    limit = report_memory_limit()
    try:
        with memory_limit_for(con, limit):
            data = collect(con, warehouse, now or datetime.now(UTC))
    except duckdb.OutOfMemoryException as exc:
        reason = str(exc).strip().splitlines()[0]
        raise WarehouseError(
            f"the report ran out of memory under DuckDB's limit of {limit} ({reason}); "
            f"set {REPORT_MEMORY_LIMIT_ENV} higher, e.g. 4GB"
        ) from exc
    return render(data)


def write_report(warehouse: str, out: str) -> Path:
    """Read `warehouse` (read-only) and write the HTML report to `out`; returns its path."""
    with open_warehouse(warehouse, read_only=True) as reader:
        page = render_report(reader.connection, warehouse)
    return write_atomically(Path(out), page)


def write_atomically(path: Path, text: str) -> Path:
    path = path.resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
