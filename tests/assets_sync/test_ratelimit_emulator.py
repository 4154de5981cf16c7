"""The default limiter against the emulator's token bucket, over real HTTP (issue 7, target 4)."""

from __future__ import annotations

import threading
import time

import pytest

from assets_sync.client import AssetsClient
from assets_sync.config import ApiSettings
from assets_sync.emulator import Emulator, EmulatorConfig
from assets_sync.emulator.config import Faults


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
