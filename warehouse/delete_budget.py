"""How much of DuckDB's delete information one write may make it hold, and the parts a write
takes when it would need more (`upsert.write_pages`, `DuckDBSink.write`).

DuckDB 2.0.1 keeps `DELETE_INFO_BYTES` of memory for every row group a transaction deletes
from, and cannot evict it until the next checkpoint. The upsert used to replace a changed
asset's current row by delete + append, and replacing 10,000 rows spread over a 1M-row
`assets` (123 row groups of `WRITER_ROW_GROUP_SIZE`) held 31 MB, over 10M rows (1,221 groups)
305 MB, more than the connection's whole 128MB limit (measured). Since migration 0006 a newer
version only turns the stored row's `is_current` flag off (an update, whose information
DuckDB also holds until a checkpoint, but less of it: the spread write of
`tests/warehouse/test_bounded_deletes.py` fits the 32MB write limit as flags and not as
deletes), and only the same version seen again replaces its row; the budget counts the row
groups of both, a bound on the memory held rather than its measure. The writer therefore
raises a write's memory limit by what is held, and holds at most `MAX_DELETE_GROUPS`: a write
that would need more defers the ids whose stored rows lie in the other row groups, whole, to
a following transaction after a checkpoint. A 1M-asset warehouse never needs parts, a 10M one
about five per spread write.
"""

# SQL below is composed from this module's constants and the caller's table names (S608).
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace

import duckdb
import pyarrow as pa

from assets_sync.schema import empty_rejects
from assets_sync.sink import PageBatch
from warehouse import connection

#: Row groups whose delete information the writer lets DuckDB hold at once: 64 MiB.
MAX_DELETE_GROUPS = 256
DELETE_INFO_BYTES = 256 * 1024

_DEFER = "_wh_defer"  # ids whose replacement is left to a following transaction
# The row group of a stored row: `asset_rows` is appended in groups of `WRITER_ROW_GROUP_SIZE`
# rows, so rowids divide into them. (A file whose groups are larger, written by other
# settings, only makes the count pessimistic: more groups counted than touched.)
_GROUP = "_rowid // {rg}"  # rg: `connection.WRITER_ROW_GROUP_SIZE`, read at each write
REPLACING = "_class IN ('updated', 'same')"  # classified rows whose stored row is flagged/deleted

_TOUCHED = "SELECT DISTINCT " + _GROUP + " FROM {cls} WHERE " + REPLACING
# The ids whose stored rows lie in the row groups left for later: they are taken out of this
# transaction whole (every incoming row of the id), and written in a following one.
_DEFERRED = (
    f"CREATE TEMP TABLE {_DEFER} AS SELECT id FROM {{cls}} WHERE {REPLACING} "
    f"AND {_GROUP} IN (SELECT unnest(?::BIGINT[]))"
)
_UNCLASSIFY = f"DELETE FROM {{cls}} WHERE id IN (SELECT id FROM {_DEFER})"
_DEFERRED_ROWS = (
    f"(SELECT count(*) FROM {{incoming}} WHERE {{valid}} AND id IN (SELECT id FROM {_DEFER}))"
)


@dataclass(frozen=True)
class DeletePlan:
    """What one transaction deletes from, and what it leaves for the next."""

    touched: frozenset[int]  # row groups of `asset_rows` this transaction changes rows of
    deferred: pa.Array | None  # ids (string) left for the next transaction
    deferred_rows: str  # SQL: how many valid incoming rows were deferred (for the counts)


def plan_deletes(
    con: duckdb.DuckDBPyConnection,
    cls: str,
    incoming: str,
    valid: str,
    held: AbstractSet[int],
    max_groups: int | None,
) -> DeletePlan:
    """Count the row groups the classified rows in `cls` would delete from, beside the
    `held` ones; beyond `max_groups` in all, take the ids of the later groups out of `cls`.
    Call `drop_deferred` once the transaction's statements are done."""
    rg = connection.WRITER_ROW_GROUP_SIZE
    touched = {int(g) for (g,) in con.execute(_TOUCHED.format(rg=rg, cls=cls)).fetchall()}
    fresh = sorted(touched - held)
    room = len(fresh) if max_groups is None else max(0, max_groups - len(held))
    if len(fresh) <= room:
        return DeletePlan(frozenset(touched), None, "0")
    later = fresh[room:]
    con.execute(_DEFERRED.format(rg=rg, cls=cls), [later])
    con.execute(_UNCLASSIFY.format(cls=cls))
    ids = con.sql(f"SELECT id FROM {_DEFER}").to_arrow_table().column(0).combine_chunks()
    rows = _DEFERRED_ROWS.format(incoming=incoming, valid=valid)
    return DeletePlan(frozenset(touched.difference(later)), ids, rows)


def drop_deferred(con: duckdb.DuckDBPyConnection, plan: DeletePlan) -> None:
    if plan.deferred is not None:
        con.execute(f"DROP TABLE {_DEFER}")


def deferred_pages(pages: Sequence[PageBatch], ids: pa.Array) -> list[PageBatch]:
    """The pages cut down to the valid rows of `ids` (what a transaction deferred), with no
    rejects (the first part wrote them), and every page kept for its slice's progress."""
    # Imported here: pyarrow.compute adds ~8 MB to the RSS of every process that imports it,
    # and only a write in parts gets here.
    import pyarrow.compute as pc

    out: list[PageBatch] = []
    for p in pages:
        a = p.assets
        if a.num_rows:
            keep = pc.and_kleene(
                pc.is_in(a.column("id"), value_set=ids), pc.is_valid(a.column("updated_at"))
            )
            a = a.filter(pc.fill_null(keep, False))
        out.append(replace(p, assets=a, rejects=empty_rejects()))
    return out
