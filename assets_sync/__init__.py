"""The source side of assets-sync: API client, incremental engine, Arrow normalization, emulator.

Never imports Dagster, DuckDB, `warehouse` or `pipelines` (see DESIGN.md).
"""
