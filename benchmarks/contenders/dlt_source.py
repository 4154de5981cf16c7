"""Contender "dlt": dlt's REST API source, incremental on `updatedAt`, merged into DuckDB.

What a data engineer would write for this API with dlt (`pip install 'dlt[duckdb,parquet]'`,
the `bench` extra): `dlt.sources.rest_api` with cursor pagination on `nextPaginationToken` ->
`paginationToken`, `sortBy=updatedAt` `asc` `pageSize=100`, an incremental cursor on
`updatedAt` (the rest_api `incremental` config builds a `dlt.sources.incremental("updatedAt")`
whose last value is sent as `updatedAfter`), primary key `id`, `write_disposition="merge"`,
into a DuckDB file. Two configurations:

    python benchmarks/contenders/dlt_source.py --dir D                 # dlt's default loader
    python benchmarks/contenders/dlt_source.py --dir D --format parquet  # parquet (pyarrow)

Credentials and URL from SCENARIO_API_URL / SCENARIO_API_KEY / SCENARIO_API_SECRET. Telemetry
off (RUNTIME__DLTHUB_TELEMETRY=false). Prints one JSON line: rows in the `assets` table,
work_s (extract + normalize + load, no start-up), and each stage's seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")

import dlt
from dlt.sources.rest_api import rest_api_source


def source(base: str, key: str, secret: str) -> Any:
    return rest_api_source(
        {
            "client": {
                "base_url": base.rstrip("/") + "/",
                "auth": {"type": "http_basic", "username": key, "password": secret},
                "paginator": {
                    "type": "cursor",
                    "cursor_path": "nextPaginationToken",
                    "cursor_param": "paginationToken",
                },
            },
            "resource_defaults": {"primary_key": "id", "write_disposition": "merge"},
            "resources": [
                {
                    "name": "assets",
                    "endpoint": {
                        "path": "assets",
                        "data_selector": "assets",
                        "params": {"pageSize": 100, "sortBy": "updatedAt", "sortDirection": "asc"},
                        "incremental": {
                            "start_param": "updatedAfter",
                            "cursor_path": "updatedAt",
                            "initial_value": "2000-01-01T00:00:00.000Z",
                        },
                    },
                }
            ],
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", required=True, help="working folder: pipeline state + DuckDB")
    parser.add_argument("--format", choices=("default", "parquet"), default="default")
    args = parser.parse_args()
    work_dir = Path(args.dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    pipeline = dlt.pipeline(
        pipeline_name=f"bench_{args.format}",
        pipelines_dir=str(work_dir / "pipelines"),
        destination=dlt.destinations.duckdb(str(work_dir / "dlt.duckdb")),
        dataset_name="scenario",
    )
    src = source(
        os.environ["SCENARIO_API_URL"],
        os.environ["SCENARIO_API_KEY"],
        os.environ["SCENARIO_API_SECRET"],
    )
    t0 = time.perf_counter()
    if args.format == "parquet":
        pipeline.run(src, loader_file_format="parquet")
    else:
        pipeline.run(src)
    stages: dict[str, float] = {}
    trace = pipeline.last_trace
    for step in trace.steps if trace is not None else []:
        if step.finished_at is not None and step.step in ("extract", "normalize", "load"):
            took = (step.finished_at - step.started_at).total_seconds()
            stages[f"{step.step}_s"] = round(took, 3)
    work = time.perf_counter() - t0
    with pipeline.sql_client() as c:
        count = c.execute_sql("SELECT count(*) FROM assets") or [[0]]
        rows = count[0][0]
        tables = (
            c.execute_sql(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'scenario'"
            )
            or []
        )
    print(json.dumps({"assets": int(rows), "work_s": round(work, 3), "format": args.format,
                      "tables": len(tables), **stages}))  # fmt: skip


if __name__ == "__main__":
    main()
