"""The mass-deletion guard: a COMPLETE listing that would mark most of a stream deleted.

Valid credentials of the wrong scope (another team, a project key for another project) or an
API that answers empty lists produce a listing that is complete and nearly empty; without a
guard, reconcile would mark every asset deleted. The sink counts, in the marking transaction,
what would be marked and what is live, and refuses above `max_deleted_fraction` (default
0.5), marking nothing and recording the run as failed. Real mass deletions go through with
an explicit `--allow-mass-delete` (run config `max_deleted_fraction: 1.0`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from assets_sync.emulator import Emulator, EmulatorConfig
from assets_sync.engine import SyncConfig, run_sync
from assets_sync.errors import MassDeletionError
from assets_sync.memory_sink import MemorySink
from assets_sync.reconcile import run_reconcile
from pipelines.cli import main
from warehouse import open_warehouse

from .support import (
    KEY,
    SECRET,
    STREAM,
    FaultTransport,
    assert_equals_source,
    client_for,
    rewrite_body,
)

CONFIG = SyncConfig(settle_lag_ms=0)


@pytest.fixture()
def synced(tmp_path: Path) -> Iterator[tuple[Emulator, Path]]:
    with Emulator(EmulatorConfig(assets=400, seed=41, api_key=KEY, api_secret=SECRET)) as emu:
        path = tmp_path / "wh.duckdb"
        with client_for(emu) as client, open_warehouse(path) as wh:
            run_sync(client, wh, STREAM, CONFIG)
        yield emu, path


def keep(share: float) -> FaultTransport:
    """Listings that keep only `share` of each page (0: the API answers empty lists)."""

    def rule(n: int, request: httpx.Request) -> object:
        return rewrite_body(
            lambda body: {**body, "assets": body["assets"][: int(len(body["assets"]) * share)]}
        )

    return FaultTransport(rule)  # type: ignore[arg-type]


def live_count(path: Path) -> int:
    with open_warehouse(path, read_only=True) as wh:
        row = wh.connection.execute(
            "SELECT count(*) FROM assets WHERE deleted_at IS NULL"
        ).fetchone()
    return int(row[0]) if row else 0


@pytest.mark.parametrize("share", [0.0, 0.4])
def test_complete_but_nearly_empty_listing_is_refused(
    synced: tuple[Emulator, Path], share: float
) -> None:
    emu, path = synced
    with client_for(emu, keep(share)) as client, open_warehouse(path) as wh:
        with pytest.raises(MassDeletionError) as info:
            run_reconcile(client, wh, STREAM, CONFIG)
        outcome = wh.connection.execute(
            "SELECT outcome, error FROM sync_runs WHERE mode = 'reconcile'"
        ).fetchall()
    text = str(info.value)
    assert "refused" in text and "--allow-mass-delete" in text and "400 live" in text
    assert live_count(path) == 400  # nothing marked
    assert outcome and outcome[0][0] == "failed" and "refused" in outcome[0][1]


def test_explicitly_allowed_mass_deletion_goes_through(synced: tuple[Emulator, Path]) -> None:
    emu, path = synced
    allow = replace(CONFIG, max_deleted_fraction=1.0)
    with client_for(emu, keep(0.0)) as client, open_warehouse(path) as wh:
        report = run_reconcile(client, wh, STREAM, allow)
    assert report.complete and report.deleted == 400 and live_count(path) == 0
    with client_for(emu) as client, open_warehouse(path) as wh:  # the right listing revives
        again = run_reconcile(client, wh, STREAM, CONFIG)
    assert again.revived == 400
    assert_equals_source(path, emu.truth())


def test_real_deletions_below_the_limit_are_marked(synced: tuple[Emulator, Path]) -> None:
    emu, path = synced
    gone = emu.delete(n=180)  # 45 %: a big clean-up, still below half
    with client_for(emu) as client, open_warehouse(path) as wh:
        report = run_reconcile(client, wh, STREAM, CONFIG)
    assert report.deleted == len(gone)
    assert_equals_source(path, emu.truth())


def test_memory_sink_applies_the_same_guard(synced: tuple[Emulator, Path]) -> None:
    emu, _ = synced
    sink = MemorySink()
    with client_for(emu) as client:
        run_sync(client, sink, STREAM, CONFIG)
    with client_for(emu, keep(0.0)) as client, pytest.raises(MassDeletionError):
        run_reconcile(client, sink, STREAM, CONFIG)
    assert not sink.deleted


def test_cli_refuses_wrong_scope_then_allows_on_request(
    synced: tuple[Emulator, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The same key pair pointed at another team's (tiny) data: the CLI says why, exits 1."""
    _, path = synced
    other = EmulatorConfig(assets=15, seed=99, api_key=KEY, api_secret=SECRET)
    with Emulator(other) as wrong:
        monkeypatch.setenv("SCENARIO_API_KEY", KEY)
        monkeypatch.setenv("SCENARIO_API_SECRET", SECRET)
        args = ["reconcile", "--warehouse", str(path), "--api-url", wrong.base_url,
                "--settle-lag-seconds", "0", "--quiet"]  # fmt: skip
        assert main(args) == 1
        err = capsys.readouterr().err
        assert "refused" in err and "--allow-mass-delete" in err and SECRET not in err
        assert len([line for line in err.splitlines() if line.strip()]) == 1
        assert live_count(path) == 400
        assert main([*args, "--allow-mass-delete"]) == 0
        assert live_count(path) == 0
