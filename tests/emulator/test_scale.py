"""Scale: a million assets start in well under a minute and under 2 GB; pages stay cheap.

Measured in a child process so that RSS is the emulator's alone. The smoke twin runs the
same script at 100k in the default suite.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

SCRIPT = r"""
import json, sys, time, base64
import psutil
t0 = time.perf_counter()
from assets_sync.emulator import EmulatorConfig
from assets_sync.emulator.service import App
app = App(EmulatorConfig(assets=int(sys.argv[1]), seed=1, projects=3))
auth = "Basic " + base64.b64encode(b"emulator-key:emulator-secret").decode()
q = "/v1/assets?pageSize=100&sortBy=updatedAt&sortDirection=asc"
first = app.handle("GET", q, auth, b"")
ready = time.perf_counter() - t0
t1 = time.perf_counter()
body = json.loads(first.body)
for _ in range(20):
    r = app.handle("GET", q + "&paginationToken=" + body["nextPaginationToken"], auth, b"")
    body = json.loads(r.body)
page_ms = (time.perf_counter() - t1) / 20 * 1000
deep = app.handle("GET", q + "&paginationToken=" + base64.b64encode(
    json.dumps({"offset": int(sys.argv[1]) - 150, "limit": 100}).encode()).decode(), auth, b"")
print(json.dumps({"ready_s": ready, "rss_mb": psutil.Process().memory_info().rss / 2**20,
                  "page_ms": page_ms, "first": first.status, "live": app.store.count(),
                  "deep": len(json.loads(deep.body)["assets"])}))
"""


def run(assets: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(assets)],
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
        check=True,
    )
    return json.loads(out.stdout)


@pytest.mark.slow
def test_one_million_assets_start_fast_and_small() -> None:
    r = run(1_000_000)
    assert r["first"] == 200 and r["deep"] == 100 and r["live"] == 1_000_000
    assert r["ready_s"] < 30, r
    assert r["rss_mb"] < 2048, r


@pytest.mark.smoke
def test_hundred_thousand_assets_smoke() -> None:
    r = run(100_000)
    assert r["first"] == 200 and r["deep"] == 100 and r["live"] == 100_000
    assert r["ready_s"] < 15, r
    assert r["rss_mb"] < 600, r
