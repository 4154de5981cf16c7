"""kill -9 at random instants, then resume from `stream_state()`: no asset lost, no duplicate.

A real subprocess (`crash_writer.py`) writes through `DuckDBSink` and is SIGKILLed at random
moments while it writes; each restart resumes from the committed ledger. At the end the
warehouse must equal exactly what the stream contained.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from tests.warehouse.crash_writer import STREAM, Plan
from warehouse import open_warehouse

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def start(db_path: str, scale: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.warehouse.crash_writer", db_path, str(scale)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def kill_while_writing(db_path: str, scale: int, rng: random.Random) -> bool:
    """Start the writer, SIGKILL it at a random instant once it writes; False if it finished."""
    proc = start(db_path, scale)
    assert proc.stdout is not None
    line = proc.stdout.readline()  # "ready": the warehouse is open, writes follow
    assert line.strip() == "ready", proc.stderr.read() if proc.stderr else line
    time.sleep(rng.uniform(0.0, 0.6 * scale))
    finished = proc.poll() is not None
    if not finished:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    return finished


def check_complete(db_path: str, plan: Plan) -> None:
    latest, all_versions, reject_ids = plan.expected()
    with open_warehouse(db_path, read_only=True) as wh:
        con = wh.connection
        state = wh.stream_state(STREAM)
        assert state.watermark_ms == plan.final_watermark and state.slices == ()
        current = dict(con.execute("SELECT id, epoch_ms(updated_at) FROM assets").fetchall())
        assert current == latest  # no asset lost, none extra, each at its newest version
        assert con.execute("SELECT count(*), count(DISTINCT id) FROM assets").fetchone() == (
            len(latest),
            len(latest),
        )
        versions = con.execute("SELECT id, epoch_ms(updated_at) FROM asset_versions").fetchall()
        assert len(versions) == len(set(versions))  # no duplicate version
        assert set(versions) == all_versions
        rejects = [r[0] for r in con.execute("SELECT asset_id FROM rejected_assets").fetchall()]
        assert sorted(rejects) == sorted(reject_ids)  # each once
        edges = con.execute(
            "SELECT count(*) FROM (SELECT asset_id, relation FROM asset_lineage"
            " GROUP BY ALL HAVING count(*) > 1)"
        ).fetchone()
        assert edges == (0,)


def crash_loop(db_path: str, kills: int, scale: int, seed: int) -> None:
    rng = random.Random(seed)
    killed = 0
    for _ in range(kills):
        if kill_while_writing(db_path, scale, rng):
            break
        killed += 1
    proc = start(db_path, scale)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert out.split() == ["ready", "done"]
    check_complete(db_path, Plan(slices=4 * scale, universe=2_500 * scale))
    assert killed >= 1, "the writer was never killed mid-run: the test proved nothing"


@pytest.mark.smoke
def test_kill_9_then_resume_smoke(db_path: str) -> None:
    crash_loop(db_path, kills=3, scale=1, seed=int(os.environ.get("CRASH_SEED", "7")))


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kill_9_then_resume_many_times(db_path: str, seed: int) -> None:
    crash_loop(db_path, kills=12, scale=4, seed=seed)
