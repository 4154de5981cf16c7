"""The README's "From Python, without Dagster" block, run exactly as printed against the emulator.

The block is the documented way to run a sync from another orchestrator; this test keeps it
true: it is read from README.md, run twice in a fresh process (a first sync, then an
incremental after deletes upstream), and the warehouse and the Parquet export are compared
with the emulator's truth.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb

from assets_sync.emulator import Emulator
from warehouse.snapshots import current_snapshot

from .conftest import API_SECRET, creds

README = Path(__file__).resolve().parents[2] / "README.md"
MARKER = "<!-- README-PYTHON-API:"


def readme_block() -> str:
    """The python block that follows the marker in README.md."""
    text = README.read_text(encoding="utf-8")
    after = text[text.index(MARKER) :]
    found = re.search(r"```python\n(.*?)```", after, flags=re.DOTALL)
    assert found is not None, "README: no python block after the marker"
    return found.group(1)


def run_block(cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SCENARIO_")}
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "-c", readme_block()],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=240,
    )


def test_the_block_is_what_the_dagster_asset_runs() -> None:
    block = readme_block()
    assert "run_sync(client, warehouse, stream, SyncConfig())" in block
    assert "import dagster" not in block


def test_the_readme_python_block_syncs_reconciles_and_exports(
    emulator: Emulator, tmp_path: Path
) -> None:
    env = creds(emulator)
    first = run_block(tmp_path, env)
    assert first.returncode == 0, first.stderr
    assert API_SECRET not in first.stdout + first.stderr
    truth = {a["id"]: a["updatedAt"] for a in emulator.truth()}
    assert f"'new': {len(truth)}" in first.stdout

    gone = set(emulator.delete(n=3))
    second = run_block(tmp_path, env)
    assert second.returncode == 0, second.stderr
    assert second.stdout.rstrip().endswith(f" {len(gone)}")  # deletes.deleted

    live = {a["id"]: a["updatedAt"] for a in emulator.truth()}
    with duckdb.connect(str(tmp_path / "scenario.duckdb"), read_only=True) as con:
        rows = con.execute(
            "SELECT id, strftime(updated_at, '%Y-%m-%dT%H:%M:%S.%g') || 'Z', deleted_at IS NULL"
            " FROM assets"
        ).fetchall()
        runs = con.execute("SELECT count(*) FROM sync_runs WHERE outcome = 'success'").fetchone()
    stored = {i: stamp for i, stamp, alive in rows if alive}
    assert stored == live
    assert {i for i, _, alive in rows if not alive} == gone
    assert runs is not None and runs[0] >= 2

    snapshot = Path(current_snapshot(str(tmp_path / "parquet")))
    with duckdb.connect() as con:
        exported = con.execute(
            "SELECT count(*) FROM read_parquet(?, hive_partitioning = true)",
            [str(snapshot / "assets" / "**" / "*.parquet")],
        ).fetchone()
    assert exported is not None and exported[0] == len(rows)
