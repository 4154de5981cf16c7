"""kill -9 of the real `python -m pipelines sync` at random instants, again and again.

The emulator serves from this process over loopback; the sync is the real CLI in a
subprocess (Dagster job, engine, DuckDB). Each cycle starts the sync, waits until it talks to
the API, SIGKILLs it after a random delay, then changes the source a little (updates, new
children, deletes) so that later runs have new versions to record. After the last kill one
uninterrupted sync and a reconcile must leave the warehouse equal to the source: no asset
lost, none duplicated, every version the source holds at the end present exactly once, no
version the source never had, no slice left in the ledger.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from assets_sync.emulator import Emulator, EmulatorConfig, Faults
from assets_sync.engine import SyncConfig
from assets_sync.reconcile import run_reconcile
from assets_sync.windows import parse_iso_ms
from warehouse import open_warehouse

from .support import KEY, SECRET, STREAM, assert_equals_source, client_for, snapshot

ROOT = Path(__file__).resolve().parents[2]


def cli_env(emu: Emulator) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCENARIO_", "ASSETS_SYNC"))}
    env.update(SCENARIO_API_URL=emu.base_url, SCENARIO_API_KEY=KEY, SCENARIO_API_SECRET=SECRET)
    return env


def sync_cmd(path: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "pipelines", "sync", "--warehouse", str(path),
        "--settle-lag-seconds", "0", "--slices", "8", "--concurrency", "4",
        "--no-export", "--quiet", *extra,
    ]  # fmt: skip


def start_sync(emu: Emulator, path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        sync_cmd(path), cwd=ROOT, env=cli_env(emu), text=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip


def versions(truth: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(a["id"], a["updatedAt"]) for a in truth}


def kill_at_random(emu: Emulator, path: Path, rng: random.Random, max_delay_s: float) -> bool:
    """One cycle; True if the sync was killed while running (False: it had finished)."""
    before = emu.stats()["requests"]
    proc = start_sync(emu, path)
    deadline = time.monotonic() + 60
    while emu.stats()["requests"] == before and proc.poll() is None:
        assert time.monotonic() < deadline, "the sync never reached the API"
        time.sleep(0.01)
    time.sleep(rng.uniform(0.0, max_delay_s))
    running = proc.poll() is None
    if running:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    if not running:
        assert proc.returncode == 0, proc.stderr.read() if proc.stderr else proc.returncode
    if proc.stderr is not None:
        proc.stderr.close()
    return running


def change_source(emu: Emulator, rng: random.Random) -> None:
    emu.update(n=rng.randint(5, 40))
    live = emu.truth()
    emu.add(n=rng.randint(1, 4), parent_id=rng.choice(live)["id"])
    if rng.random() < 0.5:
        emu.delete(n=rng.randint(1, 3))


@pytest.fixture()
def crash_emulator(request: pytest.FixtureRequest) -> Iterator[Emulator]:
    assets = int(getattr(request, "param", 4_000))
    config = EmulatorConfig(
        assets=assets, seed=31, api_key=KEY, api_secret=SECRET, faults=Faults(latency_ms=4)
    )  # a run lasts long enough to be hit
    with Emulator(config) as emu:
        yield emu


def crash_loop(emu: Emulator, path: Path, kills: int, seed: int, max_delay_s: float) -> int:
    rng = random.Random(seed)
    seen = versions(emu.truth())  # every version the source ever had
    killed = 0
    for _ in range(kills):
        killed += kill_at_random(emu, path, rng, max_delay_s)
        change_source(emu, rng)
        seen |= versions(emu.truth())
    done = subprocess.run(sync_cmd(path), cwd=ROOT, env=cli_env(emu), text=True,
                          capture_output=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    with client_for(emu) as client, open_warehouse(path) as wh:  # deletes since the kills
        rec = run_reconcile(client, wh, STREAM, SyncConfig(settle_lag_ms=0))
    assert rec.complete
    truth = emu.truth()
    snap = assert_equals_source(path, truth)
    stored = {(i, ms) for i, ms in snap.versions}
    ever = {(i, parse_iso_ms(u)) for i, u in seen}
    assert stored <= ever, f"versions the source never had: {sorted(stored - ever)[:3]}"
    assert snap.rejects == 0
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM sync_slices").fetchone() == (0,)
        dup = con.execute(
            "SELECT count(*) FROM (SELECT asset_id, related_id, relation FROM asset_lineage"
            " GROUP BY ALL HAVING count(*) > 1)"
        ).fetchone()
        assert dup == (0,)
    assert snapshot(path).watermark is not None
    return killed


@pytest.mark.smoke
def test_kill_9_real_cli_smoke(crash_emulator: Emulator, tmp_path: Path) -> None:
    seed = int(os.environ.get("CRASH_SEED", "11"))
    killed = crash_loop(crash_emulator, tmp_path / "wh.duckdb", kills=3, seed=seed,
                        max_delay_s=1.0)  # fmt: skip
    assert killed >= 2, "the sync was hardly ever killed mid-run: the test proved little"


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("crash_emulator", [12_000], indirect=True)
def test_kill_9_real_cli_many_times(crash_emulator: Emulator, tmp_path: Path) -> None:
    seed = int(os.environ.get("CRASH_SEED", "5"))
    killed = crash_loop(crash_emulator, tmp_path / "wh.duckdb", kills=22, seed=seed,
                        max_delay_s=1.5)  # fmt: skip
    print(f"kill -9 while running: {killed} of 22")
    # A cycle whose sync ends before its random delay is not killed. Measured on the 2-core
    # box: 19, 20 (14a1a70), 20, 22, 19 of 22 (this gate); 20 failed 2 runs of 5.
    assert killed >= 17, "the sync was hardly ever killed mid-run: the test proved little"
