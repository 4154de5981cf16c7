"""Smoke of the comparison benchmark: `bench_compare.py --quick` end to end, then its plot.

It spawns real processes (the emulator, each contender) over loopback HTTP, as the full run
does, at tiny sizes. dlt is optional (the `bench` extra): without it its row says skipped.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.smoke
@pytest.mark.timeout(240)
def test_quick_compare_runs_and_plots(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "benchmarks/bench_compare.py", "--quick", "--out-dir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=230,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(next(tmp_path.glob("*.json")).read_text())
    rows = res["compare"]["rows"]
    assert rows["floor"]["ok"] and rows["floor"]["result"]["assets"] == res["compare"]["assets"]
    assert rows["engine"]["ok"] and rows["engine"]["peak_rss_mb"] > 0
    # The kernel's share and the page faults, which barely move with the machine's noise.
    assert rows["engine"]["minor_faults"] > rows["floor"]["minor_faults"] > 0
    assert 0 <= rows["engine"]["sys_s"] <= rows["engine"]["cpu_s"]
    # Every asset stored once. The rows read may exceed it: a page asked just before its slice
    # was split can hold records of the split-off piece, which reads them again and writes
    # them as unchanged (`assets_sync.pagination.paginate`, `bound`): 29 of 2,000 in 1 run
    # of 40 at be31ac9, 1 of 25 at bc26c02.
    counts = rows["engine"]["result"]["counts"]
    assert counts["new"] == res["compare"]["assets"]
    assert counts["fetched"] == counts["new"] + counts["unchanged"] + counts["rejected"]
    assert rows["engine-noop"]["requests"] == 1  # target 6, exact at any size
    assert rows["engine-1pct"]["requests"] <= 3  # 1 % of the quick size fits one page
    assert rows["cli"]["ok"]
    dlt = rows.get("dlt-parquet", {})
    assert "skipped" in dlt or (dlt["ok"] and dlt["result"]["assets"] == res["compare"]["assets"])
    assert res["latency"]["rows"] and res["ratelimit"]["rows"]
    table = (tmp_path / f"{res['label']}.md").read_text()
    assert res["targets"] and "load average" in table and "| minor faults |" in table
    out = tmp_path / "plot.png"
    plot = subprocess.run(
        [sys.executable, "benchmarks/plot.py", str(next(tmp_path.glob("*.json"))), "--out",
         str(out)], cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert plot.returncode == 0, plot.stderr[-2000:]
    made = Path(plot.stdout.strip())
    assert made.exists() and made.stat().st_size > 500


def test_counts_are_short_in_the_table() -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from bench_compare import _count
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    counts = (None, 0, 9_999, 19_578, 4_117_424)
    assert [_count(n) for n in counts] == ["-", "0", "9999", "19.6k", "4.12M"]


def test_target_5_verdicts_count_every_change_the_window_holds() -> None:
    """The bulk edit's window also re-reads the spread changes still inside the lookback: its
    bound is taken over both. The spread run's bound is over its own changes."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from bench_compare import targets
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    rows = {
        "floor": {"wall_s": 10.0, "work_s": 10.0},
        "engine": {"wall_s": 12.0, "work_s": 12.0, "peak_rss_mb": 200},
        "engine-noop": {"requests": 1},
        "engine-1pct": {"requests": 102, "changed": 10_000, "work_s": 0.2},
        "engine-1pct-bulk": {"requests": 199, "changed": 10_000, "also_in_lookback": 10_000},
    }
    verdicts = {t["target"]: t for t in targets({"compare": {"rows": rows, "assets": 10**6}})}
    spread = verdicts["5. 1% changed (spread in time): requests <= ceil(changed/100)+2 (engine)"]
    bulk = verdicts[
        "5. 1% changed (one bulk edit, one ms): requests <= ceil(changed/100)+2 (engine)"
    ]
    assert spread["holds"] and "limit 102" in spread["measured"]
    assert bulk["holds"] and "ceil/100+2 = 202" in bulk["measured"]
    rows["engine-1pct"]["requests"] = 103
    rows["engine-1pct-bulk"]["requests"] = 203
    verdicts = {t["target"]: t for t in targets({"compare": {"rows": rows, "assets": 10**6}})}
    assert not any(v["holds"] for k, v in verdicts.items() if "requests <=" in k)
