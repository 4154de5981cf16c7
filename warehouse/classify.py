"""A write's incoming ids, classified against `assets`: new, updated, same or older.

`warehouse.upsert.write_pages` registers the incoming rows as `IN` (with their ordinal `_ord`)
and calls `classify`, which creates the temp table `CLS`: one row per incoming id, its winning
row (greatest `updated_at`, last among equals), the stored row's `updated_at`,
`first_synced_at` and rowid, the class, and whether its lineage changed.

The classification joins the incoming ids with `assets`, and that join scans the whole table:
in a first sync its cost grows with the square of the assets (10.5 s of the writer's 46.5 s at
1M, where the writer was busy 97 % of the run; 0.93 s per write at 10M; measured, 2 cores). So
a first sync keeps `known`: a temp table of `hash(id)` of every id stored, created empty by
`start_known` when `assets` has no row at the sink's first write and completed by
`remember_new` in each write's own transaction (it holds every stored id whenever a write
commits, and loses a rolled-back write's with it). A write none of whose ids' hashes is in it
is classified new without reading `assets`; a hash shared by two ids only sends the write down
the join, which is always right. 8 bytes per asset of DuckDB's memory, spilled to the temp
directory beyond its limit (10M hashes probed in 51-87 ms under a 32MB limit, measured).

The usual write of a first sync goes further: when its valid rows are distinct ids none of
which is known (`all_new_once`, one scan of `IN`), there is nothing to classify, and the
writer inserts them without `CLS` (`warehouse.upsert`).
"""

# SQL below is composed from this module's constants only; data is bound or registered (S608).
# ruff: noqa: S608

from __future__ import annotations

import duckdb

from assets_sync.schema import LINEAGE_RELATIONS
from warehouse.columns import ROWS

IN = "_wh_in"  # the incoming asset rows (a registered Arrow table, with `_ord`)
CLS = "_wh_cls"  # one row per incoming id, classified (a temp table; the caller drops it)
KNOWN = "_wh_known_ids"  # `hash(id)` of every stored id, while a first sync keeps it

_LINEAGE_DIFF = " OR ".join(f"l.{c} IS DISTINCT FROM a.{c}" for c in LINEAGE_RELATIONS)

# Narrow on purpose: the join scans the current rows, and every column read here is read for
# the whole table.
_LATEST = f"""
CREATE TEMP TABLE {CLS} AS
WITH latest AS (
    SELECT id, updated_at, _ord, {", ".join(LINEAGE_RELATIONS)} FROM {IN}
    WHERE {{valid}}
    QUALIFY row_number() OVER (PARTITION BY id ORDER BY updated_at DESC, _ord DESC) = 1
)
SELECT l.id, l._ord, l.updated_at, {", ".join("l." + c for c in LINEAGE_RELATIONS)},
"""
_CLASSIFY = (
    _LATEST
    + f"""
       a.updated_at AS _stored_at,
       a.first_synced_at AS _first_synced_at,
       a.run_id AS _stored_run_id,
       a.synced_at AS _stored_synced_at,
       a._rowid,
       CASE WHEN a.id IS NULL THEN 'new'
            WHEN l.updated_at > a.updated_at THEN 'updated'
            WHEN l.updated_at = a.updated_at THEN 'same'
            ELSE 'older' END AS _class,
       (a.id IS NOT NULL AND ({_LINEAGE_DIFF})) AS _lineage_changed
FROM latest AS l LEFT JOIN (
    SELECT id, updated_at, first_synced_at, run_id, synced_at, rowid AS _rowid,
           {", ".join(LINEAGE_RELATIONS)}
    FROM {ROWS} WHERE is_current
) AS a ON a.id = l.id
"""
)
# The same when no incoming id is stored yet: every one is new, and `assets` is not read.
_CLASSIFY_NEW = (
    _LATEST
    + """
       NULL::TIMESTAMPTZ AS _stored_at,
       NULL::TIMESTAMPTZ AS _first_synced_at,
       NULL::VARCHAR AS _stored_run_id,
       NULL::TIMESTAMPTZ AS _stored_synced_at,
       NULL::BIGINT AS _rowid,
       'new' AS _class,
       false AS _lineage_changed
FROM latest AS l
"""
)
# `_KNOWN_HITS` and `_SURVEY` ask `known IN (incoming)`, not `incoming IN (known)`: DuckDB
# builds its hash table on the IN list's side, and `known` grows to every id of the sync (the
# other way round, 17.5 ms a write on average over a 1M first sync, 5.3 ms at 200k; this way
# 5.3 ms at 1M; measured). Only "none" matters, which both ways count alike.
_KNOWN_HITS = f"""
SELECT count(*) FROM {{known}} WHERE h IN (SELECT hash(id) FROM {IN} WHERE {{valid}})
"""
_KNOWN_ADD = f"INSERT INTO {{known}} SELECT hash(id) FROM {CLS} WHERE _class = 'new'"
_KNOWN_ADD_ALL = f"INSERT INTO {{known}} SELECT hash(id) FROM {IN} WHERE {{valid}}"
_SURVEY = f"SELECT count(*), count(DISTINCT id), ({_KNOWN_HITS}) FROM {IN} WHERE {{valid}}"


def start_known(con: duckdb.DuckDBPyConnection) -> str | None:
    """Create `KNOWN`, empty, if `assets` has no row yet (a first sync), and return its name;
    else None (the table already holds ids `KNOWN` would not know). It lives as long as the
    connection (a re-attach of the file keeps it: temp tables are the in-memory catalog's)."""
    row = con.execute("SELECT count(*) FROM (SELECT 1 FROM assets LIMIT 1)").fetchone()
    if row is None or row[0]:
        return None
    con.execute(f"CREATE OR REPLACE TEMP TABLE {KNOWN} (h UBIGINT)")
    return KNOWN


def classify(con: duckdb.DuckDBPyConnection, valid: str, known: str | None) -> bool:
    """Create `CLS` for the rows of `IN` that satisfy `valid`; True if no incoming id was in
    `known` and `assets` was not read (every id is new)."""
    fresh = False
    if known is not None:
        hits = con.execute(_KNOWN_HITS.format(valid=valid, known=known)).fetchone()
        fresh = hits is not None and hits[0] == 0
    con.execute((_CLASSIFY_NEW if fresh else _CLASSIFY).format(valid=valid))
    return fresh


def all_new_once(con: duckdb.DuckDBPyConnection, valid: str, known: str) -> int | None:
    """The number of valid rows of `IN` if each is a different id and none is in `known`
    (stored), else None. Such a write, a first sync's usual one, needs no `CLS` at all: every
    row is new and its own id's winner (`warehouse.upsert`'s all-new path)."""
    row = con.execute(_SURVEY.format(valid=valid, known=known)).fetchone()
    assert row is not None
    rows, ids, hits = (int(v) for v in row)
    return rows if rows == ids and not hits else None


def remember_all(con: duckdb.DuckDBPyConnection, known: str, valid: str) -> None:
    """Add the hashes of every valid id of `IN` to `known` (an all-new write)."""
    con.execute(_KNOWN_ADD_ALL.format(known=known, valid=valid))


def remember_new(con: duckdb.DuckDBPyConnection, known: str) -> None:
    """Add the hashes of `CLS`'s new ids to `known`, in the caller's transaction."""
    con.execute(_KNOWN_ADD.format(known=known))
