"""The source side of assets-sync: API client, incremental engine, Arrow normalization, emulator.

Never imports Dagster, DuckDB, `warehouse` or `pipelines` (see DESIGN.md).

Importing the package imports httpx without its command line (`_lean_httpx`: ~6 MB of RSS).
"""

from assets_sync._lean_httpx import import_httpx_without_its_cli

import_httpx_without_its_cli()
