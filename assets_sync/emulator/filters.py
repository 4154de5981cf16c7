"""The row predicate of a listing: every filter parameter except bounds and sort.

A `Filter` is a frozen, hashable value so that the store can cache one sorted view per
distinct filter. Ids given by the client are decoded to row indices by the query layer; an
id that does not decode (unknown, malformed, other seed) becomes `NO_MATCH`, which matches
nothing: the API answers an unknown id with an empty list, not an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .generator import Columns

NO_MATCH = -2  # never stored (absent lineage is -1), so `col == NO_MATCH` is all False
PUBLIC = 1  # privacy code of "public" (generator.PRIVACIES)


@dataclass(frozen=True)
class Filter:
    type_codes: frozenset[int] | None = None  # None: any type
    privacy: int | None = None
    public_only: bool = False  # `public-auth-token` callers, and the `tags` filter
    project: int | None = None
    collection: int | None = None
    inference: int | None = None
    model: int | None = None
    parent: int | None = None
    root: int | None = None
    author: int | None = None
    tags_mask: int | None = None  # every listed tag must be present
    include_foreign: bool = False  # other organizations' public assets (`privacy=public`)

    def mask(
        self, cols: Columns, rows: npt.NDArray[np.int64] | None = None
    ) -> npt.NDArray[np.bool_]:
        """Which of `rows` (default: all rows) are live and match."""

        def col(a: Any) -> Any:
            return a if rows is None else a[rows]

        m: npt.NDArray[np.bool_] = ~col(cols.deleted)
        if not self.include_foreign or self.project is not None:
            m &= ~col(cols.foreign)
        if self.type_codes is not None:
            m &= np.isin(col(cols.type_code), np.fromiter(self.type_codes, dtype=np.int64))
        if self.public_only:
            m &= col(cols.privacy) == PUBLIC
        for value, array in (
            (self.privacy, cols.privacy), (self.project, cols.project),
            (self.collection, cols.collection), (self.inference, cols.inference),
            (self.model, cols.model), (self.parent, cols.parent), (self.root, cols.root),
            (self.author, cols.author),
        ):  # fmt: skip
            if value is not None:
                m &= col(array) == value
        if self.tags_mask is not None:
            want = np.uint16(self.tags_mask)
            m &= (col(cols.tags) & want) == want
        return m

    @property
    def is_trivial(self) -> bool:
        return self == Filter()
