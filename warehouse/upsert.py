"""`write()`'s body: pages of Arrow batches -> asset rows, lineage, rejects, ledger.

Everything here runs inside the caller's transaction and is set-based: the pages are
concatenated into one Arrow table, registered with DuckDB and merged with a handful of SQL
statements whose cost does not depend on how many pages were coalesced.

Storage (migration 0006): every version is ONE row of `asset_rows`; the current version of
each id is flagged `is_current`. `assets` is the view of the current rows, `asset_versions` the
view of all of them. A first sync thus writes each asset once (it wrote it twice, to two tables,
before: ~25 % of a 1M first sync's CPU and 46 % of the file; benchmarks/RESULTS.md).

The upsert rule (DESIGN.md, "The incremental algorithm", 5):

* Within the call, the row kept for an id is the one with the greatest `updated_at` (the
  last one in arrival order among equals).
* It replaces the stored row only if its `updated_at` is >= the stored one. Newer: the stored
  row stays as that version's, its `is_current` flag turned off (one BOOLEAN updated in
  place), and the new row is appended, current. Equal means the same version seen again: its
  row is refreshed (the signed `url` changes over time, `last_synced_at` moves) by delete +
  append, keeping the version's first-observation `run_id` and `synced_at`, and counts as
  unchanged. Older changes nothing at all, so out-of-order and replayed pages are no-ops.
* A row that carried `deleted_at` and arrives again (equal or newer) is revived.
* Every distinct `(id, updated_at)` is stored exactly once. Because the current row always
  holds its id's greatest `updated_at`, an incoming version newer than the current one cannot
  be stored yet, and an equal one is the current row; only versions OLDER than the current
  row need the anti-join against `asset_rows`, and that join runs only when the call has any
  (late or replayed data). A version newer than the stored one but superseded within the call
  (an asset changed twice within one write's pages) is appended as a superseded row.
* Lineage edges of an id are rewritten only when its lineage columns changed.
* A write whose valid rows are distinct ids none of which is stored (known from the first
  sync's `known` hashes, `classify.all_new_once`) is all new: its rows are appended, current,
  and its edges go into `asset_lineage` as they are, without `CLS` and its joins (~10 % of a
  first sync's `write_pages`, measured at 200k). Any other write is classified.
* `assets.id` is unique because this is its only writer: ids are deduplicated per call and
  classified against the stored row. There is deliberately no DuckDB PRIMARY KEY index on it:
  with the ART index a commit that replaces 10k rows of a 1M-row table took 1-2 s (measured);
  without it, a few tens of ms. Superseding and refreshing happen in the same transaction as
  the append, invisible to readers; a version's row is never removed (a refreshed row is
  replaced by its refresh). DuckDB holds memory for every row group a transaction deletes
  from until a checkpoint: the caller makes room for it (for the row groups of flags turned
  off too, which cost less), and a write that would hold too much commits in parts
  (`write_pages`, `warehouse.delete_budget`).
* Records the engine rejected, and rows that cannot be stored (no id, no updated_at, `raw`
  not JSON), go to `rejected_assets`; a replayed reject is not stored twice.

Counts: every incoming asset row is exactly one of new / updated / unchanged (a superseded
duplicate within the call is unchanged), and every reject row is one `rejected`.
"""

# SQL below is composed from this module's constants only; data is bound or registered (S608).
# ruff: noqa: S608

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from assets_sync.schema import ASSET_SCHEMA, LINEAGE_RELATIONS, REJECT_SCHEMA
from assets_sync.sink import PageBatch, WriteResult
from warehouse.classify import CLS, IN, all_new_once, classify, remember_all, remember_new
from warehouse.columns import ROWS, select_list
from warehouse.delete_budget import DeletePlan, drop_deferred, plan_deletes
from warehouse.incoming import TEXT_RAW_SCHEMA, combined, raw_is_json
from warehouse.ledger import ensure_stream, upsert_progress

_IN = IN  # the incoming asset rows (registered Arrow table)
_REJ = "_wh_rej"  # the incoming reject rows
_CLS = CLS  # one row per incoming id, classified against `assets` (`warehouse.classify`)

_COLS = select_list()
_UNPIVOT_COLS = ", ".join(f"{col} AS {rel}" for col, rel in LINEAGE_RELATIONS.items())
_UNPIVOT_ON = ", ".join(LINEAGE_RELATIONS.values())

_VALID = "id IS NOT NULL AND updated_at IS NOT NULL"
_VALID_JSON = _VALID + " AND json_valid(raw)"

_COUNT = f"""
SELECT
    (SELECT count(*) FROM {_IN}) - {{deferred}} AS total,
    (SELECT count(*) FROM {_IN} WHERE NOT coalesce({{valid}}, false)) AS invalid,
    count(*) FILTER (WHERE _class = 'new') AS new,
    count(*) FILTER (WHERE _class = 'updated') AS updated,
    count(*) FILTER (WHERE _class IN ('updated', 'same')) AS replaced,
    count(*) FILTER (WHERE _lineage_changed AND _class IN ('updated', 'same')) AS relinked,
    count(*) AS ids,
    count(*) FILTER (WHERE _class = 'older') AS older
FROM {_CLS}
"""

# Distinct (id, updated_at) of the call, first observation of each, with the stored version
# and the version the call makes current (`CLS.updated_at`, its id's greatest).
# Narrow first (ids, timestamps, ordinals), then the wide rows are fetched by ordinal.
_CANDIDATES = f"""
    SELECT i.*, c._stored_at, c.updated_at AS _winner_at
    FROM (SELECT min(_ord) AS _ord FROM {_IN} WHERE {{valid}} GROUP BY id, updated_at) AS f
    JOIN {_IN} AS i ON i._ord = f._ord
    JOIN {_CLS} AS c ON c.id = i.id
"""

# A superseded version's row: the asset columns, no current-row bookkeeping, its first
# observation, not current.
_SUPERSEDED_ROW = f"{_COLS}, NULL, NULL, NULL, _run_id, now(), false"

# Versions of the call newer than the stored one but older than the one it makes current (an
# asset changed twice within the pages of one write): stored as superseded versions. The
# current version's row is `_INSERT_CURRENT`'s. When every valid incoming row is its id's only
# one (the usual write) there are none, and this is not run: the group and its join cost DuckDB
# a 16 MB hash table on an 8,192-row write (measured), at the top of a sync's memory.
_VERSIONS_PASSED = f"""
INSERT INTO {ROWS}
SELECT {_SUPERSEDED_ROW} FROM ({_CANDIDATES}) AS v
WHERE (v._stored_at IS NULL OR v.updated_at > v._stored_at) AND v.updated_at < v._winner_at
"""

_OLDER_COUNT = f"""
SELECT count(*) FROM {_IN} AS i JOIN {_CLS} AS c ON c.id = i.id WHERE i.updated_at < c._stored_at
"""

_VERSIONS_OLDER = f"""
INSERT INTO {ROWS}
SELECT {_SUPERSEDED_ROW} FROM ({_CANDIDATES}) AS v
WHERE v.updated_at < v._stored_at
  AND NOT EXISTS (SELECT 1 FROM {ROWS} AS h WHERE h.id = v.id AND h.updated_at = v.updated_at)
"""

# A newer version supersedes the current row: one BOOLEAN updated in place (10,000 rows spread
# over 1M: ~10 ms with the commit; measured). The row stays, as that version's.
_SUPERSEDE = f"""
UPDATE {ROWS} SET is_current = false
WHERE rowid IN (SELECT _rowid FROM {_CLS} WHERE _class = 'updated')
"""

# The same version seen again replaces its row (a new signed `url`, `last_synced_at`), by
# delete + insert by rowid: DuckDB updates list columns very slowly (about 3 s per 10k rows at
# 1M rows, measured), delete + append costs a few ms. The version's first-observation stamps
# (`run_id`, `synced_at`) move to the new row.
_DELETE_REFRESHED = f"""
DELETE FROM {ROWS} WHERE rowid IN (SELECT _rowid FROM {_CLS} WHERE _class = 'same')
"""

_INSERT_CURRENT = f"""
INSERT INTO {ROWS}
SELECT {select_list("i.")}, NULL, coalesce(c._first_synced_at, now()), now(),
       CASE WHEN c._class = 'same' THEN c._stored_run_id ELSE i._run_id END,
       CASE WHEN c._class = 'same' THEN c._stored_synced_at ELSE now() END,
       true
FROM {_IN} AS i JOIN {_CLS} AS c ON c._ord = i._ord
WHERE c._class IN ('new', 'updated', 'same')
"""

_LINEAGE_DELETE = f"""
DELETE FROM asset_lineage WHERE asset_id IN (
    SELECT id FROM {_CLS} WHERE _lineage_changed AND _class IN ('updated', 'same'))
"""

_LINEAGE_FROM = f"""
INSERT INTO asset_lineage (asset_id, related_id, relation)
SELECT id, related_id, relation FROM (
    UNPIVOT (SELECT id, {_UNPIVOT_COLS} FROM {{rows}})
    ON {_UNPIVOT_ON} INTO NAME relation VALUE related_id
)
"""
_LINEAGE_INSERT = _LINEAGE_FROM.format(
    rows=f"{_CLS} WHERE _class = 'new' OR (_lineage_changed AND _class IN ('updated', 'same'))"
)

# An all-new write (`classify.all_new_once`): every valid row is new and its id's only one, so
# the rows go in as they are, without `CLS` and without a join (8 ms of a ~140 ms 8,192-row
# write for `CLS`, and ~0.3 us per row for each insert's join; measured, 200k emulator assets):
# each one row, current, and the first observation of its version.
_ALL_NEW_CURRENT = f"""
INSERT INTO {ROWS}
SELECT {_COLS}, NULL, now(), now(), _run_id, now(), true FROM {_IN} WHERE {{valid}}
"""
_ALL_NEW_LINEAGE = _LINEAGE_FROM.format(rows=f"{_IN} WHERE {{valid}}")

_REJECTS = f"""
INSERT INTO rejected_assets (asset_id, reason, raw, run_id, stream_id, rejected_at)
SELECT r.asset_id, r.reason, r.raw, any_value(r.run_id), r.stream_id, now()
FROM (
    SELECT asset_id, reason, raw, _run_id AS run_id, _stream_id AS stream_id FROM {_REJ}
    UNION ALL
    SELECT id,
           CASE WHEN id IS NULL THEN 'missing id'
                WHEN updated_at IS NULL THEN 'missing updated_at'
                ELSE 'raw is not valid JSON' END,
           coalesce(raw, ''), _run_id, _stream_id
    FROM {_IN} WHERE NOT coalesce({{valid}}, false)
) AS r
WHERE NOT EXISTS (
    SELECT 1 FROM rejected_assets AS x
    WHERE x.stream_id IS NOT DISTINCT FROM r.stream_id
      AND x.asset_id IS NOT DISTINCT FROM r.asset_id
      AND x.reason = r.reason AND x.raw = r.raw)
GROUP BY r.asset_id, r.reason, r.raw, r.stream_id
"""


@dataclass(frozen=True)
class Merged:
    """What one `write_pages` transaction did, and the ids it left for the next one."""

    result: WriteResult
    deferred: pa.Array | None = None  # ids (string) to write again; None: all written
    groups: frozenset[int] = frozenset()  # row groups of `assets` it deleted rows from
    fresh: bool = False  # every id was new, known without reading `assets` (`known`)


def write_pages(
    con: duckdb.DuckDBPyConnection,
    pages: Sequence[PageBatch],
    validate_json: bool = False,
    max_groups: int | None = None,
    held: AbstractSet[int] = frozenset(),
    reserve: Callable[[int], None] | None = None,
    known: str | None = None,
    ensured: AbstractSet[str] = frozenset(),
) -> Merged:
    """Merge the pages into the warehouse. Must run inside a transaction (the caller's).

    Returns the counts. Replaced `assets` rows (deleted and re-appended) are reclaimed later
    by `DuckDBSink.compact()`, which counts them from the table.

    `raw` typed `arrow.json` (`ASSET_SCHEMA`, what `assets_sync.normalize` builds: a record's
    bytes as received, checked by msgspec, or orjson's output) is taken as JSON as it is. A
    plain-string `raw` from any other producer is cast to JSON by DuckDB, which parses every
    value: if one is not JSON, the cast fails and the caller's transaction must be rolled
    back; the sink then retries the same pages with `validate_json` True, which diverts such
    rows to `rejected_assets` (at the price of parsing every `raw` once more, which is why it
    is not the default path). Skipping that parse for the engine's pages saved a fifth of the
    writer's CPU (measured: 100k emulator assets in 8192-row writes, 5.2 s -> 4.2 s), since
    both tables cast it.

    `max_groups`, `held`: DuckDB holds delete information for the row groups in `held` (the
    caller's count since its last checkpoint), and may hold it for `max_groups` at most
    (`delete_budget`). When replacing the pages' rows would delete from more, the ids whose
    stored rows lie in the row groups beyond that are left out whole, returned as
    `Merged.deferred`, and the slices' progress is NOT written: the caller commits,
    checkpoints (which frees the delete information), and writes `deferred_pages(pages,
    deferred)` in the next transaction, until nothing is deferred. Each commit is a
    consistent state (an id's rows move together), and the progress only commits with the
    last part, so a crash in between re-fetches those pages and loses nothing.

    `reserve(groups)`: called before anything is written with the number of row groups whose
    delete information DuckDB will hold by the end of the transaction (`held` and this one's),
    so that the caller can make room for it (`delete_budget.DELETE_INFO_BYTES` each).

    `known`: the temp table of stored ids' hashes (`warehouse.classify.start_known`), or None.
    With it, a write none of whose ids is stored yet is classified without scanning `assets`,
    and the new ids' hashes are added to it in this transaction.
    """
    valid = _VALID_JSON if validate_json else _VALID
    trusted = all(raw_is_json(p.assets) for p in pages if p.assets.num_rows)
    assets = combined(pages, ASSET_SCHEMA if trusted else TEXT_RAW_SCHEMA, rejects=False)
    assets = assets.append_column("_ord", pa.array(range(assets.num_rows), pa.int64()))
    rejects = combined(pages, REJECT_SCHEMA, rejects=True)

    for stream in {p.stream.stream_id: p.stream for p in pages}.values():
        ensure_stream(con, stream, ensured)

    new = updated = unchanged = rejected = replaced = 0
    plan = DeletePlan(frozenset(), None, "0")
    fresh = False
    con.register(_IN, assets)
    # `_REJ` only when there is something to reject: registering an Arrow table is a
    # statement's round trip, and a sync's writes have none (0.3 s of a 1M first sync).
    rejects_registered = False
    try:
        all_new = all_new_once(con, valid, known) if known and assets.num_rows else None
        if all_new is not None:
            assert known is not None
            if reserve is not None and held:
                reserve(len(held))
            fresh, new = True, all_new
            rejected += assets.num_rows - all_new
            if new:
                for statement in (_ALL_NEW_CURRENT, _ALL_NEW_LINEAGE):
                    con.execute(statement.format(valid=valid))
                remember_all(con, known, valid)
        elif assets.num_rows:
            fresh = classify(con, valid, known)
            if max_groups is not None or reserve is not None:
                plan = plan_deletes(con, _CLS, _IN, valid, held, max_groups)
            if reserve is not None and (held or plan.touched):
                reserve(len(held | plan.touched))
            row = con.execute(_COUNT.format(valid=valid, deferred=plan.deferred_rows)).fetchone()
            assert row is not None
            total, invalid, new, updated, replaced, relinked, ids, older = (int(v) for v in row)
            unchanged = total - invalid - new - updated
            rejected += invalid
            if total - invalid != ids:  # an id seen more than once: versions to choose among
                con.execute(_VERSIONS_PASSED.format(valid=valid))
                found = con.execute(_OLDER_COUNT).fetchone()
                older = int(found[0]) if found else 0
            if older:
                con.execute(_VERSIONS_OLDER.format(valid=valid))
            if updated:
                con.execute(_SUPERSEDE)
            if replaced > updated:
                con.execute(_DELETE_REFRESHED)
            if new or replaced:
                con.execute(_INSERT_CURRENT)
            if relinked:
                con.execute(_LINEAGE_DELETE)
            if new or relinked:
                con.execute(_LINEAGE_INSERT)
            if known is not None and new:
                remember_new(con, known)
            con.execute(f"DROP TABLE {_CLS}")
            drop_deferred(con, plan)
        rejected += rejects.num_rows
        if rejected:
            con.register(_REJ, rejects)
            rejects_registered = True
            con.execute(_REJECTS.format(valid=valid))
    finally:
        # In an aborted transaction DuckDB refuses even this; the rollback drops the views.
        with contextlib.suppress(duckdb.Error):
            con.unregister(_IN)
            if rejects_registered:
                con.unregister(_REJ)

    result = WriteResult(new=new, updated=updated, unchanged=unchanged, rejected=rejected)
    if plan.deferred is not None:
        return Merged(result, plan.deferred, plan.touched, fresh)
    last: dict[tuple[str, str], PageBatch] = {}
    for p in pages:  # one entry per slice, not per row: the last progress of a slice wins
        last[(p.stream.stream_id, p.progress.slice_id)] = p
    upsert_progress(con, [(p.stream, p.run_id, p.progress) for p in last.values()])
    return Merged(result, None, plan.touched, fresh)
