"""The fast JSON renderer writes exactly what orjson writes for the reference dict renderer."""

from __future__ import annotations

import numpy as np
import orjson

from assets_sync.emulator import EmulatorConfig
from assets_sync.emulator.store import Store

OPTIONAL = (
    "description", "nsfw", "thumbnail", "firstFrame", "lastFrame", "preview", "isHidden",
    "originalFileUrl", "outputIndex", "automaticCaptioning", "embedding",
)  # fmt: skip


def _mutated_store() -> Store:
    cfg = EmulatorConfig(assets=4000, seed=9, projects=3, foreign_public_assets=200,
                         end_ms=1_780_000_000_000)  # fmt: skip
    store = Store(cfg)
    store.update_rows(list(range(0, 4000, 9)))
    store.update_rows(list(range(0, 4000, 27)))  # version 2
    store.add(4)
    store.add(3, parent_id=store.asset_id(5))
    store.delete_rows(list(range(1, 4000, 50)))
    return store


def test_fast_renderer_equals_reference_byte_for_byte() -> None:
    store = _mutated_store()
    rows = np.arange(store.cols.n, dtype=np.int64)
    seen: set[str] = set()
    meta_seen: set[str] = set()
    kinds: set[str] = set()
    for original in (False, True):
        for start in range(0, len(rows), 100):
            page = rows[start : start + 100]
            reference = store.renderer.page(store.cols, page, original)
            fast = store.renderer.page_json(store.cols, page, original)
            assert [orjson.dumps(a) for a in reference] == fast
            for a in reference:
                seen.update(a)
                meta_seen.update(a["metadata"])
                kinds.add(a["kind"])
    # The sample exercises every optional field, lineage, inference metadata and every kind.
    assert set(OPTIONAL) <= seen
    assert {"name", "parentId", "originalAssetId", "parentJobId", "negativePrompt",
            "thumbnail", "width"} <= meta_seen  # fmt: skip
    assert {"image", "image-hdr", "video", "audio", "3d"} <= kinds
    text = b"".join(store.renderer.page_json(store.cols, rows[:2000])).decode()
    assert "édité ✨" in text and "🐉" in text and "ドラゴン" in text  # mutated and unicode


def test_store_serves_exact_size_utf8_of_the_reference() -> None:
    store = _mutated_store()
    rows = store.live_rows()[::7][:600]
    for _ in range(2):  # cold, then from the cache
        served = store.render_json(rows)
        assert served == [orjson.dumps(a) for a in store.renderer.page(store.cols, rows)]
    store.update_rows(rows[:50].tolist())  # cached renderings of updated rows are dropped
    assert store.render_json(rows) == [
        orjson.dumps(a) for a in store.renderer.page(store.cols, rows)
    ]
