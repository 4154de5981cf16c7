"""The emulated team's data: columns, sorted views, mutations, and the truth.

One `Store` is shared by all server threads; a single re-entrant lock serializes mutations
against page reads, so a page is always rendered from one consistent state. Mutations stamp
`updatedAt` with a monotonic millisecond clock that is always later than every generated
timestamp, so an updated asset moves to the end of an `updatedAt` listing (which is what
shifts offsets in the real API).
"""

from __future__ import annotations

import random
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import orjson

from .config import EmulatorConfig
from .fast_render import FastRenderer
from .filters import Filter
from .generator import (
    AUTHORS_PER_PROJECT,
    MODELS_PER_PROJECT,
    TYPE_INFERENCE,
    Columns,
    _weighted,
    child_types,
    generate,
)
from .render import Codecs
from .views import View
from .vocab import ROOT_TYPES, TAGS

SortField = Literal["createdAt", "updatedAt"]
MAX_CACHED_VIEWS = 24
_EVERYTHING = Filter(include_foreign=True)
I64 = npt.NDArray[np.int64]


class Store:
    def __init__(self, cfg: EmulatorConfig) -> None:
        self.cfg = cfg
        self.codecs = Codecs(cfg.seed)
        self.renderer = FastRenderer(self.codecs, cfg.seed, cfg.embedding_dim)
        self.cols: Columns = generate(cfg, self.codecs.asset)
        self.renderer.prepare(self.cols)
        self.lock = threading.RLock()
        self._rng = random.Random(f"mutations/{cfg.seed}")
        self._clock_ms = max(cfg.end_ms, int(self.cols.updated.max(initial=0)))
        self._views: OrderedDict[tuple[SortField, Filter], View] = OrderedDict()
        self._aliases: dict[tuple[SortField, Filter], tuple[SortField, Filter]] = {}
        self.project_ids = [self.codecs.project.encode(p) for p in range(cfg.projects)]
        self.mutation_count = 0
        # Serialized assets by row, one FIFO per `original` flag (an OrderedDict pops its
        # oldest entry in O(1); a dict would rescan the holes left at its front by every
        # previous pop, which turns eviction quadratic). `update_rows` drops the rows it
        # changes, so an entry is always the row's current rendering.
        self._json_cache: tuple[OrderedDict[int, bytes], ...] = (OrderedDict(), OrderedDict())
        self._json_bytes = 0
        self._json_cap = cfg.render_cache_mb * 2**20

    # -- reads ---------------------------------------------------------------------------
    def column(self, field: SortField) -> I64:
        return self.cols.created if field == "createdAt" else self.cols.updated

    def view(self, field: SortField, flt: Filter) -> View:
        """The sorted view for (field, filter), built on first use and then kept up to date."""
        with self.lock:
            key = (field, flt)
            stored = self._aliases.get(key, key)
            view = self._views.get(stored)
            if view is not None:
                self._views.move_to_end(stored)
                return view
            base_key = (field, _EVERYTHING)  # every live row, other organizations' too
            base = self._views.get(base_key)
            if base is None:
                rows = np.nonzero(~self.cols.deleted)[0]
                base = View.build(self.column(field)[rows], self.cols.idkey[rows], rows)
                self._views[base_key] = base
            keep = flt.mask(self.cols, base.idx)
            if keep.all():  # e.g. projectId of a one-project team: no copy, remember the alias
                self._aliases[key] = base_key
                return base
            view = View(base.keys[keep], base.ids[keep], base.idx[keep])
            self._views[key] = view
            while len(self._views) > MAX_CACHED_VIEWS:
                old_key = next(k for k in self._views if k[1] != _EVERYTHING)
                del self._views[old_key]
            return view

    def render(self, rows: Sequence[int] | I64, original: bool = False) -> list[dict[str, Any]]:
        return [orjson.loads(b) for b in self.render_json(rows, original)]

    def render_json(self, rows: Sequence[int] | I64, original: bool = False) -> list[bytes]:
        """Serialized assets (exact-size UTF-8 JSON objects), through a bounded cache by row:
        re-reads (lookback windows, re-syncs, truth after a listing) cost a dict lookup
        instead of a render. Cold reads pay the render (`FastRenderer.page_json`)."""
        with self.lock:
            ix = np.asarray(rows, dtype=np.int64)
            rows_list = ix.tolist()
            cache = self._json_cache[original]
            out: list[bytes | None] = list(map(cache.get, rows_list))
            if None not in out:
                return out  # type: ignore[return-value]
            if out.count(None) == len(out):  # a cold page: no bookkeeping per asset
                fresh = self.renderer.page_json(self.cols, ix, original)
                if self._json_cap:
                    cache.update(zip(rows_list, fresh, strict=True))
                    self._json_bytes += sum(map(len, fresh))
                out = fresh  # type: ignore[assignment]
            else:
                missing = [j for j, data in enumerate(out) if data is None]
                fresh = self.renderer.page_json(self.cols, ix[missing], original)
                for j, data in zip(missing, fresh, strict=True):
                    out[j] = data
                    if self._json_cap:
                        cache[rows_list[j]] = data
                        self._json_bytes += len(data)
            if self._json_bytes > self._json_cap:
                self._evict()
            return out  # type: ignore[return-value]

    def _evict(self) -> None:
        caches = [c for c in self._json_cache if c]
        while self._json_bytes > self._json_cap and caches:
            for c in caches:
                if c:
                    self._json_bytes -= len(c.popitem(last=False)[1])
            caches = [c for c in caches if c]

    def _forget(self, rows: I64) -> None:
        """Drop cached renderings of rows whose columns changed."""
        for cache in self._json_cache:
            if cache:
                for row in rows.tolist():
                    data = cache.pop(row, None)
                    if data is not None:
                        self._json_bytes -= len(data)

    def live_rows(self, project_id: str | None = None) -> I64:
        """Live rows in (createdAt, id) order, optionally of one project."""
        flt = Filter() if project_id is None else Filter(project=self.project_index(project_id))
        return self.view("createdAt", flt).idx.copy()

    def truth(self, project_id: str | None = None) -> list[dict[str, Any]]:
        """Every live asset exactly as served (default URLs), ordered by (createdAt, id)."""
        with self.lock:
            rows = self.live_rows(project_id)
            out: list[dict[str, Any]] = []
            for start in range(0, len(rows), 1000):
                out.extend(self.render(rows[start : start + 1000]))
            return out

    def count(self) -> int:
        """Live assets of the team (other organizations' public assets excluded)."""
        return int((~self.cols.deleted & ~self.cols.foreign).sum())

    def project_index(self, project_id: str) -> int:
        p = self.codecs.project.decode(project_id)
        return p if p is not None and p < self.cfg.projects else -2

    def row_of(self, asset_id: str) -> int | None:
        row = self.codecs.asset.decode(asset_id)
        return row if row is not None and row < self.cols.n else None

    def asset_id(self, row: int) -> str:
        return self.codecs.asset.encode(row)

    # -- mutations -----------------------------------------------------------------------
    def tick(self) -> int:
        """Now in ms, strictly after every timestamp issued so far."""
        self._clock_ms = max(int(time.time() * 1000), self._clock_ms + 1)
        return self._clock_ms

    def wait_past_clock(self) -> None:
        """Return once the wall clock has left the millisecond of the last timestamp issued.

        Edits made in quick succession get one millisecond each, so the clock above runs
        ahead of the wall clock (25 calls within 2 ms, seen on a fast machine). A sync
        started right after them, with no settle lag, ends its window at the millisecond it
        starts (exclusive) and would leave the newest edits to its next run. `update` and
        `add` (what the admin API, Python and HTTP, calls) wait for it before returning, so
        that an edit they report is in the past: what a test or a benchmark means by "then
        sync". The edits made while a page is served (mutate-while-paging, `update_rows`) do
        not wait.
        """
        while True:
            with self.lock:
                ahead_ms = self._clock_ms + 1 - time.time() * 1000
            if ahead_ms <= 0:
                return
            time.sleep(ahead_ms / 1000)

    def _live(self, ids: Sequence[str] | None, n: int) -> list[int]:
        if ids is None:
            live = np.nonzero(~self.cols.deleted & ~self.cols.foreign)[0]
            if n <= 0 or len(live) == 0:
                return []
            return sorted(int(r) for r in self._rng.sample(range(len(live)), min(n, len(live))))
        rows = []
        for asset_id in ids:
            row = self.row_of(asset_id)
            if row is None or self.cols.deleted[row] or self.cols.foreign[row]:
                raise KeyError(asset_id)
            rows.append(row)
        return sorted(set(rows))

    def _pick(self, ids: Sequence[str] | None, n: int) -> list[int]:
        rows = self._live(ids, n)
        if ids is None and rows:
            live = np.nonzero(~self.cols.deleted & ~self.cols.foreign)[0]
            rows = [int(live[r]) for r in rows]
        return rows

    def update(self, ids: Sequence[str] | None = None, n: int = 10) -> list[str]:
        """Bump updatedAt to now and change the name, description, URL and tags; returns once
        that millisecond is in the past (`wait_past_clock`)."""
        with self.lock:
            changed = self.update_rows(self._pick(ids, n))
        self.wait_past_clock()
        return changed

    def update_rows(self, rows: Sequence[int]) -> list[str]:
        with self.lock:
            if not rows:
                return []
            r = np.asarray(rows, dtype=np.int64)
            now = self.tick()
            self.cols.updated[r] = now
            self.cols.version[r] += 1
            flip = np.array([1 << self._rng.randrange(len(TAGS)) for _ in rows], dtype=np.uint16)
            self.cols.tags[r] ^= flip
            self._forget(r)
            self.renderer.touch(self.cols, r)
            self._refresh(r)
            self.mutation_count += len(rows)
            return [self.asset_id(int(x)) for x in r]

    def delete(self, ids: Sequence[str] | None = None, n: int = 5) -> list[str]:
        with self.lock:
            return self.delete_rows(self._pick(ids, n))

    def delete_rows(self, rows: Sequence[int]) -> list[str]:
        with self.lock:
            if not rows:
                return []
            r = np.asarray(rows, dtype=np.int64)
            self.cols.deleted[r] = True
            self._aliases.clear()
            for view in self._views.values():
                view.remove(r)
            self.mutation_count += len(rows)
            return [self.asset_id(int(x)) for x in r]

    def add(self, n: int = 5, parent_id: str | None = None) -> list[str]:
        """Create `n` assets now: a new batch of roots, or derived children of `parent_id`;
        returns once that millisecond is in the past (`wait_past_clock`)."""
        added = self._add(n, parent_id)
        self.wait_past_clock()
        return added

    def _add(self, n: int, parent_id: str | None) -> list[str]:
        with self.lock:
            if n <= 0:
                return []
            parent = None
            if parent_id is not None:
                parent = self.row_of(parent_id)
                if parent is None or self.cols.deleted[parent] or self.cols.foreign[parent]:
                    raise KeyError(parent_id)
            self.cols.append(self._new_rows(n, parent))
            rows = np.arange(self.cols.n - n, self.cols.n, dtype=np.int64)
            self._refresh(rows)
            self.mutation_count += n
            return [self.asset_id(int(x)) for x in rows]

    def _new_rows(self, n: int, parent: int | None) -> Columns:
        c = self.cols
        rng = np.random.default_rng([self.cfg.seed, c.n, 7])
        now = self.tick()
        start = c.n
        if parent is None:
            proj = int(rng.integers(self.cfg.projects))
            types = np.full(n, _weighted(rng, ROOT_TYPES, 1)[0], dtype=np.int64)
            parents = np.full(n, -1, dtype=np.int32)
            roots = parents.copy()
            author = proj * AUTHORS_PER_PROJECT + int(rng.integers(AUTHORS_PER_PROJECT))
        else:
            proj = int(c.project[parent])
            types = np.full(n, child_types(rng, np.array([c.type_code[parent]]))[0])
            parents = np.full(n, parent, dtype=np.int32)
            roots = np.full(n, c.root[parent] if c.root[parent] >= 0 else parent, dtype=np.int32)
            author = int(c.author[parent])
        has_inf = bool(TYPE_INFERENCE[types[0]])
        inference = np.full(n, c.n_inferences if has_inf else -1, dtype=np.int32)
        model = proj * MODELS_PER_PROJECT + int(rng.integers(MODELS_PER_PROJECT))
        return Columns(
            created=np.full(n, now, dtype=np.int64),
            updated=np.full(n, now, dtype=np.int64),
            type_code=types.astype(np.int16),
            project=np.full(n, proj, dtype=np.int32),
            privacy=np.zeros(n, dtype=np.int8),
            parent=parents,
            root=roots,
            inference=inference,
            model=np.full(n, model if has_inf else -1, dtype=np.int32),
            author=np.full(n, author, dtype=np.int32),
            collection=np.full(n, -1, dtype=np.int32),
            tags=np.zeros(n, dtype=np.uint16),
            out_index=np.arange(n, dtype=np.int8) if has_inf else np.zeros(n, dtype=np.int8),
            version=np.zeros(n, dtype=np.int32),
            deleted=np.zeros(n, dtype=bool),
            foreign=np.zeros(n, dtype=bool),
            salt=rng.integers(0, 2**64 - 1, size=n, dtype=np.uint64, endpoint=True),
            idkey=self.codecs.asset.permute_array(np.arange(start, start + n, dtype=np.int64)),
            n_inferences=c.n_inferences + (1 if has_inf else 0),
        )

    def _refresh(self, rows: I64) -> None:
        """Re-place `rows` in every cached view after their columns changed."""
        self._aliases.clear()  # membership may have changed: re-check on next use
        for (field, flt), view in self._views.items():
            view.remove(rows)
            keep = rows[flt.mask(self.cols, rows)]
            view.insert(self.column(field)[keep], self.cols.idkey[keep], keep)
