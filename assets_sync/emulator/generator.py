"""Deterministic generation of the emulated team's assets, as compact numpy columns.

Only what sorting, filtering and lineage need is materialized (~60 bytes per asset); the JSON
object of an asset is rendered on demand from these columns plus a per-asset random `salt`
(see `render.py`). A million assets therefore start in about a second and a few tens of MB.

The story the data tells (so tests and benchmarks meet the API's awkward parts):
- lineage trees: roots are uploads or text-to-X inferences; three generations of derived assets
  (upscale, background-removal, img2img, ...) point to their parent and to the tree's root;
- inference batches: 1-4 sibling outputs share `inferenceId`, `modelId`, prompt and creation ms;
- bulk imports: groups of uploads sharing ONE millisecond (the biggest a few hundred, so larger
  than a page of 100) and one bulk edit sharing one `updatedAt` ms, when `tie_groups` is on;
- several projects of skewed sizes, authors per project, collections, tags, privacy mix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .config import DAY_MS, EmulatorConfig
from .ids import Codec
from .vocab import CHILD_TYPES, KINDS, ROOT_TYPES, TYPE_CODE, TYPE_HAS_INFERENCE, TYPE_KIND

AUTHORS_PER_PROJECT = 6
MODELS_PER_PROJECT = 8
COLLECTIONS_PER_PROJECT = 5
BULK_GROUP_SIZES = (350, 150, 40, 12, 5)
PRIVACIES = ("private", "public", "unlisted")

I64 = npt.NDArray[np.int64]
TYPE_KIND_CODE = np.array([KINDS.index(k) for k in TYPE_KIND], dtype=np.int8)
TYPE_INFERENCE = np.array(TYPE_HAS_INFERENCE, dtype=bool)


@dataclass
class Columns:
    """One row per asset ever created (deleted ones keep their row with `deleted=True`).

    Index columns use -1 for "none". `idkey` is the asset id's sort key (see `ids.py`).
    """

    created: npt.NDArray[np.int64]
    updated: npt.NDArray[np.int64]
    type_code: npt.NDArray[np.int16]
    project: npt.NDArray[np.int32]
    privacy: npt.NDArray[np.int8]
    parent: npt.NDArray[np.int32]
    root: npt.NDArray[np.int32]
    inference: npt.NDArray[np.int32]
    model: npt.NDArray[np.int32]
    author: npt.NDArray[np.int32]
    collection: npt.NDArray[np.int32]
    tags: npt.NDArray[np.uint16]
    out_index: npt.NDArray[np.int8]
    version: npt.NDArray[np.int32]
    deleted: npt.NDArray[np.bool_]
    foreign: npt.NDArray[np.bool_]  # another organization's public asset (`project` = its team)
    salt: npt.NDArray[np.uint64]
    idkey: npt.NDArray[np.uint64]
    n_inferences: int

    @property
    def n(self) -> int:
        return len(self.created)

    def append(self, other: Columns) -> None:
        """Concatenate rows (adds are rare and batched, so O(n) per call is fine)."""
        for name in _ARRAYS:
            setattr(self, name, np.concatenate([getattr(self, name), getattr(other, name)]))
        self.n_inferences = max(self.n_inferences, other.n_inferences)


_ARRAYS = (
    "created", "updated", "type_code", "project", "privacy", "parent", "root", "inference",
    "model", "author", "collection", "tags", "out_index", "version", "deleted", "foreign", "salt",
    "idkey",
)  # fmt: skip


def _weighted(rng: np.random.Generator, table: tuple[tuple[str, float], ...], size: int) -> I64:
    names = [TYPE_CODE[t] for t, _ in table]
    weights = np.array([w for _, w in table], dtype=float)
    return np.asarray(rng.choice(names, size=size, p=weights / weights.sum()), dtype=np.int64)


def _bulk_sizes(n: int) -> list[int]:
    """Bulk-import tie groups: the biggest > 100 whenever n >= ~260, never over 40% of n."""
    budget = n * 2 // 5
    sizes: list[int] = []
    for size in BULK_GROUP_SIZES:
        if size <= budget:
            sizes.append(size)
            budget -= size
    if not sizes and budget >= 2:
        sizes.append(budget)
    return sizes


def child_types(rng: np.random.Generator, parent_types: I64) -> I64:
    """Derived asset types, drawn by the parent's kind (an upscale of a video is a video...)."""
    out = np.empty(len(parent_types), dtype=np.int64)
    kinds = TYPE_KIND_CODE[parent_types]
    for code, kind in enumerate(KINDS):
        sel = np.nonzero(kinds == code)[0]
        if len(sel):
            out[sel] = _weighted(rng, CHILD_TYPES.get(kind, CHILD_TYPES["image"]), len(sel))
    return out


def generate(cfg: EmulatorConfig, codec: Codec) -> Columns:
    """Build the columns for `cfg` (pure function of the config's data fields)."""
    rng = np.random.default_rng([cfg.seed, 20240611])
    n, projects, end = cfg.assets, cfg.projects, cfg.end_ms
    span = cfg.history_days * DAY_MS
    start = end - span

    bulk = _bulk_sizes(n) if cfg.tie_groups else []
    n_bulk = sum(bulk)
    rest = n - n_bulk
    g1, g2, g3 = int(rest * 0.30), int(rest * 0.12), int(rest * 0.04)
    n_roots = n_bulk + rest - g1 - g2 - g3
    if n_roots == 0 and n:  # tiny n: everything is a root
        g1 = g2 = g3 = 0
        n_roots = n

    created = np.zeros(n, dtype=np.int64)
    type_code = np.zeros(n, dtype=np.int64)
    project = np.zeros(n, dtype=np.int64)
    author = np.zeros(n, dtype=np.int64)
    parent = np.full(n, -1, dtype=np.int64)
    root = np.full(n, -1, dtype=np.int64)
    inference = np.full(n, -1, dtype=np.int64)
    model = np.full(n, -1, dtype=np.int64)
    out_index = np.zeros(n, dtype=np.int64)
    proj_weights = 1.0 / np.arange(1, projects + 1)
    proj_weights /= proj_weights.sum()

    # Bulk imports: uploads of one project and author sharing one millisecond.
    pos = 0
    for size in bulk:
        sl = slice(pos, pos + size)
        created[sl] = start + int(rng.integers(span // 20, span * 9 // 10))
        type_code[sl] = TYPE_CODE["uploaded"]
        project[sl] = int(rng.choice(projects, p=proj_weights))
        author[sl] = project[pos] * AUTHORS_PER_PROJECT + int(rng.integers(AUTHORS_PER_PROJECT))
        pos += size

    # Ordinary roots; inference roots come in batches that share the leader's attributes.
    sl = slice(n_bulk, n_roots)
    k = n_roots - n_bulk
    type_code[sl] = _weighted(rng, ROOT_TYPES, k)
    project[sl] = rng.choice(projects, size=k, p=proj_weights)
    author[sl] = project[sl] * AUTHORS_PER_PROJECT + rng.integers(AUTHORS_PER_PROJECT, size=k)
    created[sl] = start + rng.integers(0, span * 97 // 100, size=k)
    inf_roots = n_bulk + np.nonzero(TYPE_INFERENCE[type_code[sl]])[0]
    n_inf = 0
    if len(inf_roots):
        sizes = rng.integers(1, 5, size=len(inf_roots))
        batch = np.repeat(np.arange(len(sizes)), sizes)[: len(inf_roots)]
        first = np.searchsorted(batch, batch)  # position of each member's batch leader
        leader = inf_roots[first]
        out_index[inf_roots] = np.arange(len(inf_roots)) - first
        for col in (type_code, project, author, created):
            col[inf_roots] = col[leader]
        if not cfg.tie_groups:
            created[inf_roots] += out_index[inf_roots]
        n_inf = int(batch[-1]) + 1
        inference[inf_roots] = batch
        batch_model = rng.integers(MODELS_PER_PROJECT, size=n_inf)
        model[inf_roots] = project[inf_roots] * MODELS_PER_PROJECT + batch_model[batch]

    # Three generations of derived assets.
    lo, hi = 0, n_roots
    for count in (g1, g2, g3):
        if count == 0 or hi == lo:
            break
        sl = slice(hi, hi + count)
        par = rng.integers(lo, hi, size=count)
        parent[sl] = par
        root[sl] = np.where(root[par] >= 0, root[par], par)
        type_code[sl] = child_types(rng, type_code[par])
        project[sl] = project[par]
        other = project[par] * AUTHORS_PER_PROJECT + rng.integers(AUTHORS_PER_PROJECT, size=count)
        author[sl] = np.where(rng.random(count) < 0.8, author[par], other)
        delay = 1000 + rng.exponential(2 * DAY_MS, size=count).astype(np.int64)
        room = np.maximum(end - created[par] - 1, 1)  # wrap, don't clip: clipping makes ties
        created[sl] = created[par] + 1 + np.where(delay < room, delay, delay % room)
        infs = hi + np.nonzero(TYPE_INFERENCE[type_code[sl]])[0]
        inference[infs] = n_inf + np.arange(len(infs))
        model[infs] = project[infs] * MODELS_PER_PROJECT + rng.integers(
            MODELS_PER_PROJECT, size=len(infs)
        )
        n_inf += len(infs)
        lo, hi = hi, hi + count

    updated = created.copy()
    later = rng.random(n) < 0.3
    later[:n_bulk] = False
    bump = rng.exponential(20 * DAY_MS, size=n).astype(np.int64)
    room = np.maximum(end - created, 1)
    updated[later] = created[later] + np.where(bump < room, bump, bump % room)[later]
    if cfg.tie_groups and n >= 10:
        # One bulk edit (e.g. "move to collection") stamped a few hundred assets in one ms.
        t_edit = end - 3 * DAY_MS - int(rng.integers(DAY_MS))
        cand = np.nonzero((updated < t_edit) & (np.arange(n) >= n_bulk))[0]
        chosen = rng.choice(cand, size=min(200, n // 10, len(cand)), replace=False)
        updated[chosen] = t_edit

    tag_bits = rng.integers(0, 16, size=(n, 3))
    n_tags = np.where(rng.random(n) < 0.35, rng.integers(1, 4, size=n), 0)
    tags = np.zeros(n, dtype=np.uint16)
    for j in range(3):
        tags |= np.where(n_tags > j, 1 << tag_bits[:, j], 0).astype(np.uint16)
    collection = np.where(
        rng.random(n) < 0.25,
        project * COLLECTIONS_PER_PROJECT + rng.integers(COLLECTIONS_PER_PROJECT, size=n),
        -1,
    )
    privacy = rng.choice(3, size=n, p=[0.8, 0.12, 0.08])
    privacy[:n_bulk] = 0

    cols = Columns(
        created=created,
        updated=updated,
        type_code=type_code.astype(np.int16),
        project=project.astype(np.int32),
        privacy=privacy.astype(np.int8),
        parent=parent.astype(np.int32),
        root=root.astype(np.int32),
        inference=inference.astype(np.int32),
        model=model.astype(np.int32),
        author=author.astype(np.int32),
        collection=collection.astype(np.int32),
        tags=tags,
        out_index=out_index.astype(np.int8),
        version=np.zeros(n, dtype=np.int32),
        deleted=np.zeros(n, dtype=bool),
        foreign=np.zeros(n, dtype=bool),
        salt=rng.integers(0, 2**64 - 1, size=n, dtype=np.uint64, endpoint=True),
        idkey=codec.permute_array(np.arange(n, dtype=np.int64)),
        n_inferences=n_inf,
    )
    if cfg.foreign_public_assets:
        cols.append(_foreign(cfg, codec, rng, n))
    return cols


FOREIGN_TEAMS = 4
FOREIGN_AUTHOR_BASE = 1 << 20  # far above any team's author indices


def _foreign(cfg: EmulatorConfig, codec: Codec, rng: np.random.Generator, start: int) -> Columns:
    """Public uploads and generations of other organizations (roots only, no lineage)."""
    f = cfg.foreign_public_assets
    created = cfg.end_ms - rng.integers(1, cfg.history_days * DAY_MS, size=f)
    none = np.full(f, -1, dtype=np.int32)
    team = rng.integers(FOREIGN_TEAMS, size=f).astype(np.int32)
    return Columns(
        created=created, updated=created.copy(), type_code=_weighted(rng, ROOT_TYPES, f).astype(
            np.int16), project=team, privacy=np.ones(f, dtype=np.int8), parent=none,
        root=none.copy(), inference=none.copy(), model=none.copy(),
        author=FOREIGN_AUTHOR_BASE + team, collection=none.copy(),
        tags=(1 << rng.integers(0, 16, size=f)).astype(np.uint16),
        out_index=np.zeros(f, dtype=np.int8), version=np.zeros(f, dtype=np.int32),
        deleted=np.zeros(f, dtype=bool), foreign=np.ones(f, dtype=bool),
        salt=rng.integers(0, 2**64 - 1, size=f, dtype=np.uint64, endpoint=True),
        idkey=codec.permute_array(np.arange(start, start + f, dtype=np.int64)), n_inferences=0,
    )  # fmt: skip
