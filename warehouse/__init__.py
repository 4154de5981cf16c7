"""The storage side of assets-sync: DuckDB schema and migrations, upserts, history, state,
Parquet export and SQL views. Never imports httpx or `pipelines`.

Public API:
    open_warehouse(path, read_only=False) -> DuckDBSink   (a context manager)
    DuckDBSink / Warehouse                                 the `assets_sync.sink.Sink` on DuckDB
    WarehouseError, WarehouseBusyError
    warehouse.status.warehouse_status(con)                 per-stream status for the CLI
    warehouse.export.export_parquet(con_or_path, dest)     atomic Parquet snapshots
    warehouse.snapshots.current_snapshot(dest)             the current snapshot, to read under
"""

from warehouse.errors import WarehouseBusyError, WarehouseError
from warehouse.sink import DuckDBSink, Warehouse, open_warehouse

__all__ = ["DuckDBSink", "Warehouse", "WarehouseBusyError", "WarehouseError", "open_warehouse"]
