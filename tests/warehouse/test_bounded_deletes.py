"""A write that replaces rows spread over many row groups of `assets` commits in parts.

DuckDB keeps a 256 KiB block of delete information in memory for every row group a
transaction deletes from, until a checkpoint; replacing rows spread over a 10M-row `assets`
needed 305 MB, more than the writer's whole limit. `write_pages(max_groups=...)` defers the
ids beyond that many row groups to a following transaction (after a checkpoint), and the
slices' progress only commits with the last part. These tests run with row groups of 2,048
rows and a budget of 2 row groups over a 5-group table, so that one write takes three parts.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

import warehouse.connection as connection_module
import warehouse.sink as sink_module
from assets_sync.schema import ASSET_SCHEMA
from assets_sync.sink import Completion, PageBatch, SliceState, WriteResult
from tests.warehouse.conftest import STREAM, page
from tests.warehouse.factory import BASE_MS, make_assets, make_rejects
from warehouse import DuckDBSink, open_warehouse
from warehouse.delete_budget import MAX_DELETE_GROUPS

GROUP_ROWS = 2048  # DuckDB's smallest row group
GROUPS = 5
ROWS = GROUPS * GROUP_ROWS
SLICE = SliceState("s1", 0, 1_000, 0)
MOVED = SliceState("s1", 0, 1_000, 400)

#: Every table the write touches, without the columns that hold the time of the write.
_STATE = {
    "assets": "SELECT * EXCLUDE (first_synced_at, last_synced_at) FROM assets ORDER BY id",
    "asset_versions": "SELECT * EXCLUDE (synced_at) FROM asset_versions ORDER BY id, updated_at",
    "asset_lineage": "SELECT * FROM asset_lineage ORDER BY ALL",
    "rejected_assets": "SELECT asset_id, reason, raw FROM rejected_assets ORDER BY ALL",
}


@pytest.fixture(autouse=True)
def small_row_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(connection_module, "WRITER_ROW_GROUP_SIZE", GROUP_ROWS)


def state(wh: DuckDBSink) -> dict[str, list[tuple[object, ...]]]:
    return {name: wh.connection.execute(sql).fetchall() for name, sql in _STATE.items()}


def cursor(wh: DuckDBSink) -> int:
    return wh.stream_state(STREAM).slices[0].cursor_ms


def initial() -> PageBatch:
    numbers = np.arange(ROWS)
    return page(make_assets(numbers, BASE_MS + 10 + 0 * numbers), progress=SLICE)


def replacing() -> list[PageBatch]:
    """Updates in every row group, the same versions again, an older one, new ids, a
    duplicate within the call, a reject and a row without updated_at."""
    updated = np.arange(7, ROWS, 251)  # 41 ids, spread over all five groups
    same = np.arange(11, ROWS, 1_031)  # 10 ids seen again at their stored version
    first = make_assets(
        np.concatenate([updated, same, [ROWS + 1, ROWS + 2]]),
        np.concatenate([BASE_MS + 20 + 0 * updated, BASE_MS + 10 + 0 * same, [BASE_MS + 5] * 2]),
    )
    second = make_assets([7, 3, ROWS + 1], [BASE_MS + 30, BASE_MS + 1, BASE_MS + 6])
    no_time = make_assets([12], [BASE_MS + 40])
    column = ASSET_SCHEMA.get_field_index("updated_at")
    no_time = no_time.set_column(
        column, ASSET_SCHEMA.field(column), pa.nulls(1, ASSET_SCHEMA.field(column).type)
    )
    return [
        page(first, progress=SliceState("s1", 0, 1_000, 200)),
        page(second, make_rejects(["asset_99"]), progress=MOVED),
        page(no_time, progress=MOVED),
    ]


def loaded(path: str, max_delete_groups: int) -> DuckDBSink:
    wh = (
        open_warehouse(path)
        if max_delete_groups == MAX_DELETE_GROUPS
        else DuckDBSink(path, max_delete_groups=max_delete_groups)
    )
    wh.plan_slices(STREAM, [SLICE])
    wh.write([initial()])
    return wh


def test_the_table_has_the_row_groups_the_tests_assume(tmp_path: object) -> None:
    with loaded(f"{tmp_path}/w.duckdb", MAX_DELETE_GROUPS) as wh:
        row = wh.connection.execute("SELECT count(DISTINCT row_group_id) FROM "
                                    "pragma_storage_info('asset_rows')").fetchone()  # fmt: skip
        assert row == (GROUPS,)


def test_a_write_in_parts_ends_exactly_as_one_transaction(tmp_path: object) -> None:
    with (
        loaded(f"{tmp_path}/parts.duckdb", 2) as parts,
        loaded(f"{tmp_path}/whole.duckdb", MAX_DELETE_GROUPS) as whole,
    ):
        got = parts.write(replacing())
        want = whole.write(replacing())
        assert got == want == WriteResult(new=2, updated=41, unchanged=13, rejected=2)
        assert (parts.deferred_parts, whole.deferred_parts) == (2, 0)
        assert state(parts) == state(whole)
        assert cursor(parts) == cursor(whole) == MOVED.cursor_ms
        ids = parts.connection.execute("SELECT count(*), count(DISTINCT id) FROM assets")
        assert ids.fetchone() == (ROWS + 2, ROWS + 2)
        assert parts.dead_rows() == whole.dead_rows()
        # Each part's delete information was released: nothing is left for the next write.
        assert parts.write(replacing()) == whole.write(replacing())
        assert state(parts) == state(whole)


def test_a_crash_between_parts_keeps_the_cursor_and_the_resumed_write_converges(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = f"{tmp_path}/crash.duckdb"
    with loaded(f"{tmp_path}/whole.duckdb", MAX_DELETE_GROUPS) as whole:
        whole.write(replacing())
        want = state(whole)

    def crash(*_: object) -> list[PageBatch]:
        raise KeyboardInterrupt("killed between two parts")

    with loaded(path, 2) as wh:
        monkeypatch.setattr(sink_module, "deferred_pages", crash)
        with pytest.raises(KeyboardInterrupt):
            wh.write(replacing())
        monkeypatch.undo()
        # The first part is committed and consistent; the progress is not.
        assert cursor(wh) == SLICE.cursor_ms
        rows = wh.connection.execute("SELECT count(*), count(DISTINCT id) FROM assets")
        assert rows.fetchone() == (ROWS + 2, ROWS + 2)
        written = wh.connection.execute(
            f"SELECT count(*) FROM assets WHERE epoch_ms(updated_at) = {BASE_MS + 20}"
        ).fetchone()
        assert written is not None and 0 < written[0] < 40
    with DuckDBSink(path, max_delete_groups=2) as wh:  # the next run fetches them again
        wh.write(replacing())
        assert state(wh) == want
        assert cursor(wh) == MOVED.cursor_ms


def test_a_write_in_parts_completes_its_slices_with_the_last_part_only(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[object] = []
    real = sink_module.ledger.complete_slices

    def spy(*args: object, **kwargs: object) -> None:
        calls.append(args[3])  # the watermark
        real(*args, **kwargs)  # type: ignore[arg-type]

    complete = Completion(STREAM, (), BASE_MS + 10**6)
    with loaded(f"{tmp_path}/crash.duckdb", 2) as wh:

        def crash(*_: object) -> list[PageBatch]:
            raise KeyboardInterrupt("killed between two parts")

        with monkeypatch.context() as patched, pytest.raises(KeyboardInterrupt):
            patched.setattr(sink_module, "deferred_pages", crash)
            wh.write(replacing(), complete=complete)
        assert wh.stream_state(STREAM).watermark_ms is None  # the first part did not move it
    with loaded(f"{tmp_path}/parts.duckdb", 2) as wh:
        monkeypatch.setattr(sink_module.ledger, "complete_slices", spy)
        wh.write(replacing(), complete=complete)
        assert wh.deferred_parts == 2 and calls == [complete.watermark_ms]
        assert wh.stream_state(STREAM).watermark_ms == complete.watermark_ms
        assert cursor(wh) == MOVED.cursor_ms


def test_the_budget_must_allow_one_group(tmp_path: object) -> None:
    with pytest.raises(ValueError, match="max_delete_groups must be at least 1"):
        DuckDBSink(f"{tmp_path}/w.duckdb", max_delete_groups=0)


SPREAD_GROUPS = 200
SPREAD_ROWS = len(range(0, SPREAD_GROUPS * GROUP_ROWS, SPREAD_GROUPS * GROUP_ROWS // 300))


def _spread_write(
    path: str, monkeypatch: pytest.MonkeyPatch, stamp_ms: int
) -> tuple[WriteResult, int, tuple[int, ...]]:
    """200 full row groups of current rows at `BASE_MS + 10` (appended as they are), then one
    write of 301 of them spread over every group at `BASE_MS + stamp_ms`, under a 32MB write
    limit with no room made for DuckDB's delete information. Returns the write's result, the
    re-attaches, and (rows stored, current rows, distinct current ids, current rows at the new
    stamp, current rows synced again)."""
    monkeypatch.setattr(connection_module, "WRITE_MEMORY_LIMIT", "32MB")
    monkeypatch.setattr(sink_module, "DELETE_INFO_BYTES", 0)
    numbers = np.arange(SPREAD_GROUPS * GROUP_ROWS)
    with DuckDBSink(path, max_delete_groups=1_000) as wh:
        for chunk in np.array_split(numbers, 10):
            wh.connection.register("b", make_assets(chunk, BASE_MS + 10 + 0 * chunk))
            wh.connection.execute(
                "INSERT INTO asset_rows SELECT *, NULL, now(), now(), NULL, now(), true FROM b"
            )
            wh.connection.unregister("b")
        spread = numbers[:: len(numbers) // 300]
        result = wh.write([page(make_assets(spread, BASE_MS + stamp_ms + 0 * spread))])
        row = wh.connection.execute(
            "SELECT (SELECT count(*) FROM asset_rows), count(*), count(DISTINCT id),"
            f" count(*) FILTER (WHERE epoch_ms(updated_at) = {BASE_MS + stamp_ms}),"
            " count(*) FILTER (WHERE last_synced_at > first_synced_at) FROM assets"
        ).fetchone()
        assert row is not None
        return result, wh.reattached, tuple(int(v) for v in row)


def test_a_delete_that_ran_out_of_memory_is_written_again_after_attaching_the_file_again(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DuckDB 2.0.1: a DELETE that runs out of memory and is rolled back leaves its aborted
    deletes behind, and deleting those rows again fails with "Conflict on tuple deletion!"
    until the file is attached again. Here no room is made for the delete information
    (200 row groups, 50 MiB, against a 32MB write limit), so the DELETE of the rows that the
    same versions, seen again, replace runs out; the sink attaches the file again and writes
    the pages again under the connection's limit."""
    result, reattached, rows = _spread_write(f"{tmp_path}/oom.duckdb", monkeypatch, 10)
    assert (result.unchanged, reattached) == (SPREAD_ROWS, 1)
    stored = SPREAD_GROUPS * GROUP_ROWS
    assert rows == (stored, stored, stored, stored, SPREAD_ROWS)


def test_newer_versions_spread_over_every_row_group_only_flip_a_flag(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same spread write with NEWER versions: the stored rows stay (as the superseded
    versions) and only their `is_current` flag is updated, which fits the 32MB write limit
    where deleting them did not (the test above): no retry, no attach."""
    result, reattached, rows = _spread_write(f"{tmp_path}/flags.duckdb", monkeypatch, 20)
    assert (result.updated, reattached) == (SPREAD_ROWS, 0)
    stored = SPREAD_GROUPS * GROUP_ROWS
    assert rows == (stored + SPREAD_ROWS, stored, stored, SPREAD_ROWS, SPREAD_ROWS)
