"""The storage side of assets-sync: DuckDB schema and migrations, upserts, history, state,
Parquet export and SQL views. Never imports httpx or `pipelines`."""
