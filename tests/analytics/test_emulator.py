"""The views after real syncs from the emulator: lineage, categories, changes and deletions
agree with the emulator's own data (its truth), computed here in plain Python.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from assets_sync.auth import BasicAuth, SecretStr
from assets_sync.client import AssetsClient
from assets_sync.config import ApiSettings
from assets_sync.emulator import Emulator, EmulatorConfig
from assets_sync.engine import SyncConfig, run_sync
from assets_sync.ratelimit import RateLimiter
from assets_sync.reconcile import run_reconcile
from assets_sync.retry import FAST_RETRY
from assets_sync.sink import StreamKey
from warehouse import open_warehouse

KEY, SECRET = "analytics-key", "analytics-secret"
STREAM = StreamKey(None)
CONFIG = SyncConfig(lookback_ms=15 * 60_000, settle_lag_ms=0, slices=2, concurrency=2)


def client_for(emu: Emulator) -> AssetsClient:
    settings = ApiSettings(
        base_url=emu.base_url, credentials=BasicAuth(SecretStr(KEY), SecretStr(SECRET))
    )
    return AssetsClient(settings, retry=FAST_RETRY, limiter=RateLimiter(max_rate=10_000))


def depth_and_root(assets: dict[str, dict[str, Any]], asset_id: str) -> tuple[int, str]:
    depth, current = 0, asset_id
    while (parent := (assets[current].get("metadata") or {}).get("parentId")) is not None:
        depth += 1
        current = parent
        if current not in assets:
            break
    return depth, current


def category(asset: dict[str, Any]) -> str:
    meta = asset.get("metadata") or {}
    type_, source = str(meta.get("type") or ""), str(asset.get("source") or "")
    if type_.startswith("uploaded") or source.lower().startswith("upload"):
        return "upload"
    if meta.get("modelId") or meta.get("inferenceId") or type_.startswith("inference-"):
        return "generation"
    return "edit" if meta.get("parentId") else "other"


def test_views_agree_with_the_emulator(tmp_path: Path) -> None:
    config = EmulatorConfig(assets=600, seed=5, api_key=KEY, api_secret=SECRET, tie_groups=False)
    path = tmp_path / "wh.duckdb"
    with Emulator(config) as emu, client_for(emu) as client, open_warehouse(path) as wh:
        everything = {a["id"]: a for a in emu.truth()}
        run_sync(client, wh, STREAM, CONFIG)
        updated = set(emu.update(n=6))
        run_sync(client, wh, STREAM, CONFIG)
        deleted = set(emu.delete(n=4))
        run_reconcile(client, wh, STREAM, CONFIG)
        con = wh.connection

        expected = {i: depth_and_root(everything, i) for i in everything}
        got = con.execute("SELECT id, depth, tree_root_id FROM lineage_depth").fetchall()
        assert {str(i): (int(d), str(r)) for i, d, r in got} == expected
        assert max(d for d, _ in expected.values()) >= 2  # the story has real trees

        sizes = Counter(root for _, root in expected.values())
        trees = con.execute("SELECT root_id, tree_size FROM lineage_trees").fetchall()
        assert {str(r): int(n) for r, n in trees} == dict(sizes)

        live = [a for i, a in everything.items() if i not in deleted]
        got_categories = con.execute(
            "SELECT category, count(*) FROM asset_categories WHERE is_live GROUP BY 1"
        ).fetchall()
        assert {str(c): int(n) for c, n in got_categories} == dict(Counter(map(category, live)))

        changes = con.execute(
            "SELECT id, changed_fields, len(tags_added) + len(tags_removed)"
            " FROM asset_changes WHERE NOT is_first_seen"
        ).fetchall()
        assert {str(i) for i, _, _ in changes} == updated
        # an emulator update re-signs the URL and flips exactly one tag
        assert all({"tags", "url"} <= set(fields) and flips == 1 for _, fields, flips in changes)

        today = datetime.now(UTC).date()
        assert con.execute(
            "SELECT day, sum(deleted) FROM deletions_daily GROUP BY 1"
        ).fetchall() == [(today, len(deleted))]
        runs = con.execute("SELECT mode, outcome FROM sync_health ORDER BY started_at").fetchall()
        assert runs == [("sync", "success"), ("sync", "success"), ("reconcile", "success")]
