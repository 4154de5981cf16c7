"""End to end over real HTTP: the engine against the emulator, into MemorySink.

The story: OFFSET tokens (and the same with keyset tokens, which are followed), assets mutated
(updated and deleted) between page requests, a tie group of 200 assets sharing one `updatedAt`
ms (bigger than a page), random 429s, 5xx, truncated and invalid JSON, HTML error pages and
dropped connections.
What must hold: every asset that existed unchanged throughout the run arrives with its exact
`updatedAt` and lineage; a second run picks up every change (and reconcile every delete).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Any

import pytest

from assets_sync.auth import BasicAuth, SecretStr
from assets_sync.client import AssetsClient
from assets_sync.config import ApiSettings
from assets_sync.emulator import Emulator, EmulatorConfig, Faults, MutateWhilePaging, TokenMode
from assets_sync.engine import SyncConfig, run_sync
from assets_sync.memory_sink import MemorySink
from assets_sync.ratelimit import RateLimiter
from assets_sync.reconcile import run_reconcile
from assets_sync.retry import FAST_RETRY
from assets_sync.sink import StreamKey
from assets_sync.windows import parse_iso_ms

KEY, SECRET = "e2e-key", "e2e-secret"
STREAM = StreamKey(None)
#: min_active_fetchers=2: over loopback the gate would narrow to one fetch thread (pages take
#: longer than answers, latency.useful_fetchers); the stories keep two paging at once.
CONFIG = SyncConfig(
    lookback_ms=15 * 60_000, settle_lag_ms=0, slices=4, concurrency=4, min_active_fetchers=2
)
#: The emulator's budget of assets mutated while paging, as large as ONE run is guaranteed to
#: absorb. Each request with a token mutates up to 2 rows the listing already served (1 update,
#: 1 delete); inside a tie group a pass fails only when it or the pass before saw such a
#: mutation, so with at most `max_tie_passes - 2` mutated passes the last two passes agree and
#: the group settles. A larger budget may legitimately stop a run with `UnstableListingError`
#: (README, "Known limits"; `tests/reliability/test_convergence.py` retries such runs): with
#: 40, the 60k story's 200-asset group took all of it on the AMD box (10 failed passes of 2
#: pages each, 2026-11-29), where earlier runs had spread it over other listings.
MUTATIONS = 2 * (CONFIG.max_tie_passes - 2)


def client_for(emu: Emulator) -> AssetsClient:
    settings = ApiSettings(
        base_url=emu.base_url, credentials=BasicAuth(SecretStr(KEY), SecretStr(SECRET))
    )
    return AssetsClient(settings, retry=FAST_RETRY, limiter=RateLimiter(max_rate=10_000))


def by_id(assets: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {a["id"]: a for a in assets}


def assert_row_matches(sink: MemorySink, asset: dict[str, Any]) -> None:
    row = sink.rows[asset["id"]]
    assert sink.current[asset["id"]] == parse_iso_ms(asset["updatedAt"]), asset["id"]
    meta = asset.get("metadata") or {}
    assert row["parent_id"] == meta.get("parentId")
    assert row["root_id"] == meta.get("rootParentId")
    assert row["inference_id"] == meta.get("inferenceId")
    assert row["model_id"] == meta.get("modelId")


def story(assets: int, token_mode: TokenMode = "offset") -> EmulatorConfig:
    return EmulatorConfig(
        assets=assets,
        seed=1,
        token_mode=token_mode,
        api_key=KEY,
        api_secret=SECRET,
        faults=Faults(
            random_429_rate=0.05,
            error_5xx_rate=0.04,
            truncated_json_rate=0.02,
            invalid_json_rate=0.01,
            html_error_rate=0.01,
            drop_connection_rate=0.02,
            max_faults=40,
            seed=3,
        ),
        mutate_while_paging=MutateWhilePaging(
            every_n_requests=1, updates=1, deletes=1, max_mutations=MUTATIONS, seed=2
        ),
    )


def run_story(n: int, token_mode: TokenMode = "offset", config: SyncConfig = CONFIG) -> int:
    """The story above; returns how many running slices the first run split."""
    with Emulator(story(n, token_mode)) as emu, client_for(emu) as client:
        before = by_id(emu.truth())
        ties = Counter(a["updatedAt"] for a in before.values())
        assert max(ties.values()) > 100  # a tie group bigger than a page
        sink = MemorySink()
        first = run_sync(client, sink, STREAM, config)
        after = by_id(emu.truth())
        stats = emu.stats()
        unchanged = [a for i, a in after.items() if i in before and before[i] == a]
        changed = len(before) - len(unchanged)
        assert changed > 0 and stats["mutations_while_paging"] > 0, "the story needs mutations"
        assert first.counts.throttled > 0 and first.counts.retries > first.counts.throttled
        if token_mode == "offset":
            assert first.counts.tie_groups >= 1
        else:  # keyset tokens are followed: a tie group is listed once, by its tokens
            assert first.counts.keyset_follows > first.counts.pages / 2
        for asset in unchanged:
            assert_row_matches(sink, asset)
        assert first.counts.rejected == 0

        # Second run, healthy server: every change since is picked up.
        emu.set_faults(Faults())
        emu.set_mutate_while_paging(None)
        emu.update(n=25)
        emu.add(n=5, parent_id=unchanged[0]["id"])
        deleted = emu.delete(n=5)
        second = run_sync(client, sink, STREAM, config)
        truth = by_id(emu.truth())
        for asset in truth.values():
            assert_row_matches(sink, asset)
        assert second.counts.requests < first.counts.requests / 5  # incremental, not a re-read
        assert second.watermark_after_ms and second.watermark_after_ms > first.watermark_after_ms

        # Deletes (during the first run and since) are found by a complete listing.
        rec = run_reconcile(client, sink, STREAM, config)
        assert rec.complete and rec.listed == len(truth)
        assert set(deleted) <= set(sink.deleted)
        assert set(sink.current) - set(sink.deleted) == set(truth)
        return first.counts.splits


@pytest.mark.smoke
def test_offset_tokens_mutations_ties_and_faults_smoke() -> None:
    run_story(3_000)


@pytest.mark.smoke
def test_keyset_tokens_followed_under_mutations_ties_and_faults_smoke() -> None:
    """Keyset tokens are followed (no seek overlap, no tie passes) under the same story."""
    run_story(3_000, token_mode="keyset")


@pytest.mark.smoke
def test_one_planned_slice_is_split_among_idle_threads_and_nothing_is_lost() -> None:
    """The same story when the plan is one slice for four threads: the idle threads split it
    while it runs (under mutations, ties and faults), and the result is still complete."""
    config = replace(CONFIG, slices=1)
    assert run_story(3_000, config=config) >= 3


@pytest.mark.slow
@pytest.mark.timeout(900)  # 261-291 s alone on the 2-core box: too close to the default 300 s
def test_offset_tokens_mutations_ties_and_faults_large() -> None:
    run_story(60_000)


@pytest.mark.slow
def test_keyset_tokens_same_story() -> None:
    run_story(20_000, token_mode="keyset")


@pytest.mark.smoke
@pytest.mark.parametrize("slices", [4, 1], ids=["planned", "split-while-running"])
def test_crash_mid_run_resumes_over_http(slices: int) -> None:
    """The sink dies on its 4th transaction; the next run resumes each slice from its committed
    cursor and ends with exactly the emulator's assets, without re-reading what was committed.
    With one planned slice, the crash comes after running slices were split: the ledger then
    holds shrunk slices and pieces (or a piece's range in no slice yet, planned again)."""
    from collections.abc import Sequence

    from assets_sync.sink import PageBatch

    config = SyncConfig(
        settle_lag_ms=0,
        slices=slices,
        concurrency=4,
        min_active_fetchers=2,
        max_pages_in_flight=2,
        max_rows_per_write=300,
    )
    with Emulator(EmulatorConfig(assets=4_000, seed=5, api_key=KEY, api_secret=SECRET)) as emu:
        with client_for(emu) as client:
            sink = MemorySink()
            writes = {"n": 0}

            def crash(pages: Sequence[PageBatch]) -> None:
                writes["n"] += 1
                if writes["n"] == 4:
                    raise OSError("power cut")

            sink.before_write = crash
            with pytest.raises(OSError, match="power cut"):
                run_sync(client, sink, STREAM, config)
            committed = len(sink.current)
            assert 0 < committed < 4_000
            if slices == 1:  # the ledger left behind holds the split pieces
                assert len(sink.stream_state(STREAM).slices) > 1
            sink.before_write = None
            report = run_sync(client, sink, STREAM, config)
        truth = by_id(emu.truth())
    assert set(sink.current) == set(truth)
    for asset in truth.values():
        assert_row_matches(sink, asset)
    assert report.resumed > 0 and report.counts.new == 4_000 - committed
