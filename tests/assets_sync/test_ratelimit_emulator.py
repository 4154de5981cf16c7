"""The default limiter against the emulator's token bucket, over real HTTP (issue 7, target 4)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from assets_sync.auth import BasicAuth, SecretStr
from assets_sync.client import AssetsClient
from assets_sync.config import ApiSettings
from assets_sync.emulator import Emulator, EmulatorConfig
from assets_sync.emulator.config import Faults
from assets_sync.engine import SyncConfig, run_sync
from assets_sync.sink import StreamKey
from warehouse import open_warehouse


# ~10 s and ~7.5 s at R after the emulator's burst of 10. At R=5, 60 pages leave room for 3 429s
# under 5% (the slow start's, the probe's and one more).
@pytest.mark.parametrize(("R", "PAGES"), [(5.0, 60), (20.0, 160)])
def test_default_limiter_holds_an_emulator_rate_limit(
    monkeypatch: pytest.MonkeyPatch, R: float, PAGES: int
) -> None:
    faults = Faults(rate_limit_rps=R, rate_limit_burst=10)
    cfg = EmulatorConfig(assets=200, seed=5, api_key="k", api_secret="s", faults=faults)
    with Emulator(cfg) as emu:
        monkeypatch.setenv("SCENARIO_API_URL", emu.base_url)
        monkeypatch.setenv("SCENARIO_API_KEY", "k")
        monkeypatch.setenv("SCENARIO_API_SECRET", "s")
        with AssetsClient(ApiSettings.from_env()) as client:  # the default limiter
            left = [PAGES]
            lock = threading.Lock()

            def worker() -> None:
                while True:
                    with lock:
                        if left[0] == 0:
                            return
                        left[0] -= 1
                    client.list_page({"pageSize": "10"})

            threads = [threading.Thread(target=worker) for _ in range(4)]
            started = time.monotonic()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.monotonic() - started
            stats = client.stats
    assert stats.pages == PAGES
    assert PAGES / elapsed >= 0.9 * R, (PAGES / elapsed, stats)
    assert stats.throttled / stats.requests < 0.05, stats


def test_the_next_run_starts_at_the_pace_the_last_one_learned(tmp_path: Path) -> None:
    """A sync against a rate-limited server learns its pace from the 429s and records it with
    the run; the next sync (a new process would build a new client) starts there, past slow
    start, and meets no 429."""
    faults = Faults(rate_limit_rps=20.0, rate_limit_burst=10)
    cfg = EmulatorConfig(assets=3_000, seed=5, api_key="k", api_secret="s", faults=faults)
    stream, config = StreamKey(None), SyncConfig(settle_lag_ms=0)
    with Emulator(cfg) as emu, open_warehouse(tmp_path / "wh.duckdb") as wh:
        settings = ApiSettings(
            base_url=emu.base_url, credentials=BasicAuth(SecretStr("k"), SecretStr("s"))
        )
        with AssetsClient(settings) as first:
            assert run_sync(first, wh, stream, config).counts.throttled >= 1
        pace = wh.stream_state(stream).pace
        assert pace is not None and pace.learned and 5.0 <= pace.rate <= 30.0, pace
        time.sleep(0.6)  # the server's bucket refills its burst, as between two nightly runs
        emu.update(n=300)
        with AssetsClient(settings) as second:
            assert second.limiter.pace() == (20.0, False)  # slow start, until the run resumes
            report = run_sync(second, wh, stream, config)
            assert report.counts.fetched >= 300 and report.counts.throttled == 0, report.counts
            resumed = second.limiter.pace()
        assert resumed is not None and resumed[1] and resumed[0] >= pace.rate * 0.99
