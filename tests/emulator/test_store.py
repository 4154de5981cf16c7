"""Incrementally maintained sorted views equal views rebuilt from scratch, after any mutations."""

from __future__ import annotations

import random

import numpy as np

from assets_sync.emulator import EmulatorConfig
from assets_sync.emulator.filters import Filter
from assets_sync.emulator.store import MAX_CACHED_VIEWS, Store
from assets_sync.emulator.views import View


def rebuilt(store: Store, field: str, flt: Filter) -> View:
    rows = np.nonzero(flt.mask(store.cols))[0]
    col = store.cols.created if field == "createdAt" else store.cols.updated
    return View.build(col[rows], store.cols.idkey[rows], rows)


def test_views_survive_random_mutations_and_eviction() -> None:
    store = Store(EmulatorConfig(assets=1500, seed=5, projects=2, foreign_public_assets=30))
    rng = random.Random(1)
    filters = [
        Filter(),
        Filter(project=0),
        Filter(project=1),
        Filter(privacy=1),
        Filter(privacy=1, include_foreign=True),
        Filter(type_codes=frozenset({24, 17})),
        Filter(tags_mask=1, public_only=True),
        Filter(author=3),
    ]
    filters += [Filter(collection=c) for c in range(MAX_CACHED_VIEWS)]  # forces evictions
    for _ in range(40):
        for flt in rng.sample(filters, 6):
            store.view(rng.choice(["createdAt", "updatedAt"]), flt)
        op = rng.choice(["update", "delete", "add", "add_child"])
        if op == "update":
            store.update(n=rng.randint(1, 20))
        elif op == "delete":
            store.delete(n=rng.randint(1, 10))
        elif op == "add":
            store.add(n=rng.randint(1, 4))
        else:
            parent = store.asset_id(int(rng.choice(store.live_rows())))
            store.add(n=2, parent_id=parent)
    for field in ("createdAt", "updatedAt"):
        for flt in filters:
            got, want = store.view(field, flt), rebuilt(store, field, flt)
            assert np.array_equal(got.idx, want.idx), (field, flt)
            assert np.array_equal(got.keys, want.keys)


def test_positions_and_bounds_are_exclusive() -> None:
    keys = np.array([1, 2, 2, 2, 5], dtype=np.int64)
    ids = np.array([9, 1, 3, 7, 0], dtype=np.uint64)
    v = View(keys, ids, np.arange(5, dtype=np.int64))
    assert v.bounds(2, 5) == (4, 4) and v.bounds(1, 5) == (1, 4) and v.bounds(None, None) == (0, 5)
    assert v.position(2, 3, "left") == 2 and v.position(2, 3, "right") == 3
    assert v.position(2, 4, "left") == 3  # absent id: where it would be
    assert v.position(3, 0, "left") == 4


def test_render_cache_is_transparent_and_bounded() -> None:
    cfg = EmulatorConfig(assets=1200, seed=2, end_ms=1_780_000_000_000)
    plain = Store(EmulatorConfig(**{**cfg.__dict__, "render_cache_mb": 0}))
    small = Store(EmulatorConfig(**{**cfg.__dict__, "render_cache_mb": 1}))
    for _ in range(2):  # second round: hits (and evictions: 1,200 assets exceed 1 MB)
        assert plain.truth() == small.truth()
    assert small._json_bytes <= 2**20 and plain._json_bytes == 0
    rows = small.live_rows()[:5]
    small.render(rows)  # cached...
    small.update_rows([int(r) for r in rows])  # ...then stale: the version moved on
    assert small.render(rows) == small.renderer.page(small.cols, rows)
    assert all(a["description"].endswith("✨") for a in small.render(rows))
