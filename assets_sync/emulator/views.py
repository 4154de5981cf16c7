"""Sorted views: the total order of a listing, kept as numpy arrays and binary-searched.

A view is the set of live assets matching one combination of filters (bounds excluded),
sorted by `(sort key, id)` ascending; descending listings walk it backwards. Because ties
are broken by id, every listing has one deterministic order, and a tie group of any size
pages predictably. Exclusive bounds, offsets and keyset positions are all `searchsorted`
calls, so a page costs O(log n) to locate whatever the team's size.

Views are maintained incrementally on mutation (remove the touched rows, re-insert those
that still match at their sorted positions: O(n) memmove, no re-sort).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]


@dataclass
class View:
    keys: I64  # sort key (ms), ascending
    ids: U64  # id sort key, ascending within equal keys
    idx: I64  # row index into Columns

    def __len__(self) -> int:
        return len(self.idx)

    @staticmethod
    def build(keys: I64, ids: U64, idx: I64) -> View:
        order = np.lexsort((ids, keys))
        return View(keys[order], ids[order], idx[order])

    def position(self, key: int, ident: int, side: str) -> int:
        """Index of `(key, ident)` in the total order: `left` = first >=, `right` = first >."""
        lo = int(np.searchsorted(self.keys, key, "left"))
        hi = int(np.searchsorted(self.keys, key, "right"))
        if lo == hi:
            return lo
        tie = self.ids[lo:hi]
        return lo + int(np.searchsorted(tie, np.uint64(ident), side))  # type: ignore[call-overload]

    def bounds(self, after_ms: int | None, before_ms: int | None) -> tuple[int, int]:
        """Positions [lo, hi) of keys strictly inside (after, before)."""
        lo = 0 if after_ms is None else int(np.searchsorted(self.keys, after_ms, "right"))
        hi = len(self) if before_ms is None else int(np.searchsorted(self.keys, before_ms, "left"))
        return lo, max(lo, hi)

    def remove(self, rows: I64) -> None:
        if len(rows) == 0 or len(self) == 0:
            return
        keep = ~np.isin(self.idx, rows)
        if not keep.all():
            self.keys, self.ids, self.idx = self.keys[keep], self.ids[keep], self.idx[keep]

    def insert(self, keys: I64, ids: U64, idx: I64) -> None:
        """Insert rows at their sorted positions (rows must not be present already)."""
        if len(idx) == 0:
            return
        order = np.lexsort((ids, keys))
        keys, ids, idx = keys[order], ids[order], idx[order]
        pos = np.array(
            [self.position(int(k), int(i), "left") for k, i in zip(keys, ids, strict=True)],
            dtype=np.int64,
        )
        self.keys = np.insert(self.keys, pos, keys)
        self.ids = np.insert(self.ids, pos, ids)
        self.idx = np.insert(self.idx, pos, idx)
