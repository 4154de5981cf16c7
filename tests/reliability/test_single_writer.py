"""Two `assets-sync sync` processes started at once on one warehouse: one runs, the other
stops at once with exit code 1 and a one-line "busy" message naming the holder; the
warehouse ends equal to the source."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from assets_sync.emulator import Emulator, EmulatorConfig, Faults

from .support import KEY, SECRET, assert_equals_source
from .test_crash_resume import ROOT, cli_env, sync_cmd


@pytest.mark.smoke
def test_two_syncs_at_once_one_runs_the_other_is_refused(tmp_path: Path) -> None:
    config = EmulatorConfig(
        assets=1_500, seed=61, api_key=KEY, api_secret=SECRET, faults=Faults(latency_ms=15)
    )  # a run of several seconds
    path = tmp_path / "wh.duckdb"
    with Emulator(config) as emu:
        procs = [
            subprocess.Popen(sync_cmd(path), cwd=ROOT, env=cli_env(emu), text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for _ in range(2)
        ]  # fmt: skip
        results = [(p.wait(timeout=240), *p.communicate()) for p in procs]
        truth = emu.truth()
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 1], results
    _, _, err = next(r for r in results if r[0] == 1)
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "busy" in lines[0].lower() and "pid" in lines[0], err
    assert SECRET not in err
    assert_equals_source(path, truth)
