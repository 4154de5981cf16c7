"""The storage side stays on its side: no httpx, no Dagster, no pipelines, and from
assets_sync only the record schema and the Sink seam (DESIGN.md, "Layout"), with the seam's
one error module (a sink raises `MassDeletionError`; `assets_sync.errors` imports nothing)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

PROBE = """
import json, sys
import warehouse, warehouse.export, warehouse.status, warehouse.reconcile, warehouse.migrate
print(json.dumps(sorted(m for m in sys.modules
                        if m.split(".")[0] in ("httpx", "dagster", "pipelines", "assets_sync"))))
"""


def test_warehouse_imports_only_the_schema_and_the_seam() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, cwd=ROOT, check=True
    ).stdout
    assert json.loads(out) == [
        "assets_sync",
        "assets_sync.errors",
        "assets_sync.schema",
        "assets_sync.sink",
    ]
