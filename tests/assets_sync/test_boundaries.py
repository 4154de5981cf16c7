"""`assets_sync` never imports Dagster, DuckDB, `warehouse` or `pipelines` (DESIGN.md)."""

from __future__ import annotations

import subprocess
import sys

MODULES = [
    "assets_sync.auth",
    "assets_sync.client",
    "assets_sync.config",
    "assets_sync.engine",
    "assets_sync.errors",
    "assets_sync.memory_sink",
    "assets_sync.normalize",
    "assets_sync.pagination",
    "assets_sync.planning",
    "assets_sync.progress",
    "assets_sync.ratelimit",
    "assets_sync.reconcile",
    "assets_sync.retry",
    "assets_sync.windows",
]
FORBIDDEN = ("dagster", "duckdb", "warehouse", "pipelines")


def test_source_side_imports_no_storage_or_orchestration() -> None:
    code = (
        "import sys\n"
        f"for m in {MODULES!r}: __import__(m)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == ""
