"""The writer's DuckDB settings: a bounded memory limit (configurable; lower while the engine
writes), no progress bar, small row groups written straight to the file."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pytest

import warehouse.connection as connection_module
import warehouse.export as export_module
import warehouse.sink as sink_module
from tests.warehouse.conftest import page
from tests.warehouse.factory import BASE_MS, make_assets
from warehouse import WarehouseError, open_warehouse
from warehouse.connection import (
    EXPORT_MEMORY_LIMIT,
    EXPORT_MEMORY_LIMIT_ENV,
    MEMORY_LIMIT_ENV,
    WRITE_MEMORY_LIMIT,
    WRITER_BLOCK_ALLOCATOR_MEMORY,
    WRITER_ROW_GROUP_SIZE,
    size_bytes,
    writer_threads,
)
from warehouse.export import export_parquet, read_current
from warehouse.sink import DuckDBSink


def _as_duckdb_prints(size: int) -> str:
    """A memory limit as `current_setting('memory_limit')` shows it: MiB, cut to 0.1."""
    return f"{size * 10 // 2**20 / 10:.1f} MiB"


#: The write limit as DuckDB prints it (32MB: "30.5 MiB").
WRITE_LIMIT = _as_duckdb_prints(size_bytes(WRITE_MEMORY_LIMIT))


def setting(db_path: str, name: str) -> str:
    with open_warehouse(db_path) as wh:
        row = wh.connection.execute("SELECT current_setting(?)", [name]).fetchone()
    assert row is not None
    return str(row[0])


def test_memory_limit_defaults_to_128mb(db_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MEMORY_LIMIT_ENV, raising=False)
    assert setting(db_path, "memory_limit") == "122.0 MiB"  # 128 MB as DuckDB prints it
    assert setting(db_path, "enable_progress_bar").lower() == "false"


def test_memory_limit_from_the_environment(db_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "1GB")
    assert setting(db_path, "memory_limit") == "953.6 MiB"


@pytest.mark.parametrize("value", ["lots", "-5MB", "12", "1GB; DROP TABLE assets"])
def test_a_bad_memory_limit_is_a_clear_error(
    db_path: str, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv(MEMORY_LIMIT_ENV, value)
    with pytest.raises(WarehouseError, match=f"{MEMORY_LIMIT_ENV}=.* is not a size"):
        open_warehouse(db_path)


def _spy_write_limits(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The `memory_limit` in force each time the sink merges pages (successful or not)."""
    seen: list[str] = []
    real = sink_module.write_pages

    def spy(con: duckdb.DuckDBPyConnection, *args: Any, **kw: Any) -> Any:
        rows = con.execute("SELECT current_setting('memory_limit')").fetchall()
        seen.append(str(rows[0][0]))
        return real(con, *args, **kw)

    monkeypatch.setattr(sink_module, "write_pages", spy)
    return seen


def _limit(wh: DuckDBSink) -> str:
    row = wh.connection.execute("SELECT current_setting('memory_limit')").fetchone()
    assert row is not None
    return str(row[0])


def test_writes_run_under_the_lower_write_limit_and_readers_keep_theirs(
    db_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(MEMORY_LIMIT_ENV, raising=False)
    seen = _spy_write_limits(monkeypatch)
    with open_warehouse(db_path) as wh:
        wh.write([page(make_assets([1, 2], [BASE_MS + 1, BASE_MS + 2]))])
        wh.write([page(make_assets([2, 3], [BASE_MS + 5, BASE_MS + 3]))])
        assert _limit(wh) == "122.0 MiB"  # 128MB again for whatever reads next
        assert wh.connection.execute("SELECT count(*) FROM assets").fetchone() == (3,)
    assert seen == [WRITE_LIMIT, WRITE_LIMIT]


def test_a_limit_from_the_environment_applies_to_writes_too(
    db_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "1GB")
    seen = _spy_write_limits(monkeypatch)
    with open_warehouse(db_path) as wh:
        wh.write([page(make_assets([1], [BASE_MS + 1]))])
        assert _limit(wh) == "953.6 MiB"
    assert seen == ["953.6 MiB"]


def test_a_write_too_big_for_the_write_limit_is_retried_under_the_connections(
    db_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """4MB cannot hold a 10k-row write: DuckDB runs out of memory, the transaction rolls back
    and the same pages are written again, whole, at 128MB. Nothing is lost or counted twice,
    and the sink's next write goes straight to 128MB (records that large would otherwise
    make every write run out once)."""
    monkeypatch.delenv(MEMORY_LIMIT_ENV, raising=False)
    monkeypatch.setattr(connection_module, "WRITE_MEMORY_LIMIT", "4MB")
    seen = _spy_write_limits(monkeypatch)
    n = np.arange(10_000)
    with open_warehouse(db_path) as wh:
        result = wh.write([page(make_assets(n, BASE_MS + n))])
        assert _limit(wh) == "122.0 MiB"
        wh.write([page(make_assets(n + 10_000, BASE_MS + n))])
        counts = wh.connection.execute(
            "SELECT (SELECT count(*) FROM assets), (SELECT count(*) FROM asset_versions)"
        ).fetchone()
    assert seen == ["3.8 MiB", "122.0 MiB", "122.0 MiB"]
    assert (result.new, result.updated, result.unchanged, result.rejected) == (10_000, 0, 0, 0)
    assert counts == (20_000, 20_000)


def test_writes_make_room_for_the_delete_information_duckdb_holds(
    db_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DuckDB holds 256 KiB per row group a transaction deleted rows from, until a checkpoint
    (`warehouse.delete_budget.MAX_DELETE_GROUPS`): the writes after a replacing one run under the
    write limit plus that much, and a checkpoint (here the compaction's) gives it back."""
    monkeypatch.delenv(MEMORY_LIMIT_ENV, raising=False)
    monkeypatch.setattr(connection_module, "WRITER_ROW_GROUP_SIZE", 2048)
    seen = _spy_write_limits(monkeypatch)
    n = np.arange(5 * 2048)
    changed = n[::1000]
    with open_warehouse(db_path) as wh:
        wh.write([page(make_assets(n, BASE_MS + 0 * n))])
        ids = ", ".join(f"'asset_{i}'" for i in changed)
        groups = wh.connection.execute(
            "SELECT count(DISTINCT rowid // 2048) FROM asset_rows"
            f" WHERE is_current AND id IN ({ids})"
        ).fetchone()
        assert groups is not None and groups[0] > 1
        # The same versions seen again: their rows are replaced (delete + append), which
        # leaves dead rows for the compaction below to reclaim with its checkpoint.
        wh.write([page(make_assets(changed, BASE_MS + 0 * changed))])
        wh.write([page(make_assets([99_999], [BASE_MS]))])
        assert wh.compact() == len(changed)
        wh.write([page(make_assets([99_998], [BASE_MS]))])
        assert _limit(wh) == "122.0 MiB"
    held = _as_duckdb_prints(size_bytes(WRITE_MEMORY_LIMIT) + groups[0] * 256 * 1024)
    assert seen == [WRITE_LIMIT, WRITE_LIMIT, held, WRITE_LIMIT]


def _commit_failing_once(monkeypatch: pytest.MonkeyPatch, message: str) -> list[str]:
    """The sink's first COMMIT fails as DuckDB's does when it runs out of memory there:
    a `TransactionException`, and no transaction left open (nothing written)."""
    failed: list[str] = []
    real = sink_module.transaction

    @contextlib.contextmanager
    def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
        if failed:
            with real(con):
                yield
            return
        con.execute("BEGIN TRANSACTION")
        try:
            yield
        finally:
            con.execute("ROLLBACK")
        failed.append(message)
        raise duckdb.TransactionException(message)

    monkeypatch.setattr(sink_module, "transaction", transaction)
    return failed


def test_a_commit_that_runs_out_of_the_write_limit_is_retried_under_the_connections(
    db_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seen once at 1M assets (a bulk-edit incremental, 8192 replaced rows per write): the
    COMMIT itself ran out of the 48MB write limit, and DuckDB reports that as a
    TransactionException, not an OutOfMemoryException. The write is retried like any other
    that runs out; any other failed COMMIT is raised as it is."""
    monkeypatch.delenv(MEMORY_LIMIT_ENV, raising=False)
    seen = _spy_write_limits(monkeypatch)
    failed = _commit_failing_once(
        monkeypatch,
        "TransactionContext Error: Failed to commit: could not allocate block of size "
        "256.0 KiB (45.6 MiB/45.7 MiB used)",
    )
    n = np.arange(1_000)
    with open_warehouse(db_path) as wh:
        result = wh.write([page(make_assets(n, BASE_MS + n))])
        assert failed and seen == [WRITE_LIMIT, "122.0 MiB"]
        assert (result.new, result.updated, result.unchanged) == (1_000, 0, 0)
        counts = wh.connection.execute(
            "SELECT (SELECT count(*) FROM assets), (SELECT count(*) FROM asset_versions)"
        ).fetchone()
        assert counts == (1_000, 1_000)
    monkeypatch.undo()
    failed = _commit_failing_once(
        monkeypatch, "TransactionContext Error: Failed to commit: duplicate key"
    )
    with (
        open_warehouse(db_path) as wh,
        pytest.raises(duckdb.TransactionException, match="duplicate key"),
    ):
        wh.write([page(make_assets(n + 1_000, BASE_MS + n))])
    with open_warehouse(db_path, read_only=True) as ro:
        assert ro.connection.execute("SELECT count(*) FROM assets").fetchone() == (1_000,)


def test_the_export_runs_under_its_own_limit_and_restores_the_writers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`$ASSETS_SYNC_EXPORT_MEMORY_LIMIT` applies for the export's duration, then the writer's
    limit is back; without it the export scans under EXPORT_MEMORY_LIMIT, or under
    `$ASSETS_SYNC_DUCKDB_MEMORY_LIMIT` when the user set that."""
    monkeypatch.delenv(MEMORY_LIMIT_ENV, raising=False)
    monkeypatch.setenv(EXPORT_MEMORY_LIMIT_ENV, "1GB")
    seen: list[str] = []
    real = export_module._write_table

    def spy(con: duckdb.DuckDBPyConnection, *args: Any) -> Any:
        rows = con.execute("SELECT current_setting('memory_limit')").fetchall()
        seen.append(str(rows[0][0]))
        return real(con, *args)

    monkeypatch.setattr(export_module, "_write_table", spy)
    with open_warehouse(tmp_path / "w.duckdb") as wh:
        wh.write([page(make_assets([1, 2], [BASE_MS + 1, BASE_MS + 2]))])
        result = export_parquet(wh, str(tmp_path / "parquet"))
        row = wh.connection.execute("SELECT current_setting('memory_limit')").fetchone()
    assert result.rows["assets"] == 2
    assert seen and set(seen) == {"953.6 MiB"}
    assert row == ("122.0 MiB",)
    monkeypatch.delenv(EXPORT_MEMORY_LIMIT_ENV)
    seen.clear()
    with open_warehouse(tmp_path / "w.duckdb") as wh:
        export_parquet(wh, str(tmp_path / "parquet"))
    assert seen and set(seen) == {_as_duckdb_prints(size_bytes(EXPORT_MEMORY_LIMIT))}
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "200MB")
    seen.clear()
    with open_warehouse(tmp_path / "w.duckdb") as wh:
        export_parquet(wh, str(tmp_path / "parquet"))
    assert seen and set(seen) == {"190.7 MiB"}


def _snapshot_files(dest: Path) -> list[str]:
    manifest = read_current(str(dest))
    root = dest / str(manifest["path"])
    return sorted(str(f.relative_to(root)) for f in root.rglob("*.parquet"))


def test_an_export_that_runs_out_of_memory_runs_again_under_the_connections_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first table is written, the second runs out (as DuckDB's error arrives through an
    Arrow reader); the export starts over under the connection's limit and publishes a
    snapshot holding exactly the files of the second attempt."""
    monkeypatch.delenv(MEMORY_LIMIT_ENV, raising=False)
    monkeypatch.delenv(EXPORT_MEMORY_LIMIT_ENV, raising=False)
    seen: list[str] = []
    real = export_module._write_table

    def spy(con: duckdb.DuckDBPyConnection, *args: Any) -> Any:
        rows = con.execute("SELECT current_setting('memory_limit')").fetchall()
        seen.append(str(rows[0][0]))
        if len(seen) == 2:
            raise OSError("Out of Memory Error: failed to pin block of size 256.0 KiB")
        return real(con, *args)

    monkeypatch.setattr(export_module, "_write_table", spy)
    dest = tmp_path / "parquet"
    with open_warehouse(tmp_path / "w.duckdb") as wh:
        wh.write([page(make_assets([1, 2, 5], [BASE_MS + 1, BASE_MS + 2, BASE_MS + 3]))])
        result = export_parquet(wh, str(dest))
        row = wh.connection.execute("SELECT current_setting('memory_limit')").fetchone()
    small = _as_duckdb_prints(size_bytes(EXPORT_MEMORY_LIMIT))
    assert seen == [small, small, "122.0 MiB", "122.0 MiB", "122.0 MiB"]
    assert row == ("122.0 MiB",)
    assert result.rows == {"assets": 3, "asset_versions": 3, "asset_lineage": 8}
    listed = sorted(f for table_files in result.files.values() for f in table_files)
    assert _snapshot_files(dest) == listed


def test_an_export_that_fails_otherwise_is_not_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []

    def failing(con: duckdb.DuckDBPyConnection, *args: Any) -> Any:
        calls.append(1)
        raise OSError("No space left on device")

    monkeypatch.setattr(export_module, "_write_table", failing)
    with (
        open_warehouse(tmp_path / "w.duckdb") as wh,
        pytest.raises(OSError, match="No space left"),
    ):
        wh.write([page(make_assets([1], [BASE_MS + 1]))])
        export_parquet(wh, str(tmp_path / "parquet"))
    assert calls == [1]


def test_a_bad_export_limit_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(EXPORT_MEMORY_LIMIT_ENV, "plenty")
    with (
        open_warehouse(tmp_path / "w.duckdb") as wh,
        pytest.raises(WarehouseError, match=f"{EXPORT_MEMORY_LIMIT_ENV}='plenty' is not a size"),
    ):
        export_parquet(wh, str(tmp_path / "parquet"))


def test_the_writer_appends_small_row_groups_straight_to_the_file(tmp_path: Path) -> None:
    """10k rows fill whole row groups of WRITER_ROW_GROUP_SIZE, which DuckDB writes to the file
    at once instead of logging every row in the WAL and compressing it again at the next
    checkpoint; a reader opened afterwards, plainly, sees everything."""
    path = tmp_path / "w.duckdb"
    n = np.arange(10_000)
    with open_warehouse(path) as wh:
        wh.write([page(make_assets(n, BASE_MS + n))])
        wal = tmp_path / "w.duckdb.wal"
        assert not wal.exists() or wal.stat().st_size < 2**20  # 10k rows: ~35 MB of WAL before
        groups = wh.connection.execute(
            "SELECT row_group_id, sum(count) FROM pragma_storage_info('asset_rows')"
            " WHERE column_name = 'updated_at' AND segment_type <> 'VALIDITY' GROUP BY 1"
        ).fetchall()
        assert len(groups) >= 2 and max(int(c) for _, c in groups) <= WRITER_ROW_GROUP_SIZE
        (db,) = wh.connection.execute("SELECT current_database()").fetchone() or ("",)
        assert db == "warehouse"
        # It spills beside the file, as a plain DuckDB connection would, not into ./.tmp.
        row = wh.connection.execute("SELECT current_setting('temp_directory')").fetchone()
        assert row == (str(path.resolve()) + ".tmp",)
    with open_warehouse(path, read_only=True) as ro:
        assert ro.connection.execute("SELECT count(*) FROM asset_versions").fetchone() == (10_000,)


def test_the_writer_attaches_its_file_again_and_keeps_its_settings(tmp_path: Path) -> None:
    """Every `reattach_rows` rows written, `write()` detaches the file and attaches it again
    (freeing DuckDB's metadata of the row groups written): the writes before and after it all
    land, and the connection keeps its settings (a first sync's block allocator pool among
    them), its small row groups and its default catalog. A later sink into the same file gets
    no pool."""
    path = tmp_path / "w.duckdb"
    with DuckDBSink(path, reattach_rows=10_000) as wh:
        for i in range(3):
            n = np.arange(i * 10_000, (i + 1) * 10_000)
            wh.write([page(make_assets(n, BASE_MS + n))])
        assert wh.reattached == 2  # before the second and the third write
        con = wh.connection
        assert con.execute("SELECT current_database()").fetchone() == ("warehouse",)
        settings = con.execute(
            "SELECT current_setting('memory_limit'), current_setting('max_vacuum_tasks'),"
            " current_setting('TimeZone'), current_setting('enable_progress_bar'),"
            " current_setting('temp_directory'), current_setting('threads'),"
            " current_setting('block_allocator_memory')"
        ).fetchone()
        tmp = str(path.resolve()) + ".tmp"
        pool = _as_duckdb_prints(size_bytes(WRITER_BLOCK_ALLOCATOR_MEMORY))
        assert settings == ("122.0 MiB", 0, "UTC", False, tmp, writer_threads(), pool)
        groups = con.execute(
            "SELECT row_group_id, sum(count) FROM pragma_storage_info('asset_rows')"
            " WHERE column_name = 'updated_at' AND segment_type <> 'VALIDITY' GROUP BY 1"
        ).fetchall()
        assert len(groups) >= 4 and max(int(c) for _, c in groups) <= WRITER_ROW_GROUP_SIZE
        n = np.arange(5_000)  # replaced rows after a re-attach: updates, not new assets
        result = wh.write([page(make_assets(n, BASE_MS + 10**6 + n))])
        assert (result.new, result.updated) == (0, 5_000)
    with open_warehouse(path, read_only=True) as ro:
        counts = ro.connection.execute(
            "SELECT (SELECT count(*) FROM assets), (SELECT count(*) FROM asset_versions)"
        ).fetchone()
    assert counts == (30_000, 35_000)
    # Another sync into the same (no longer empty) file: no block allocator pool for it.
    with DuckDBSink(path) as wh:
        wh.write([page(make_assets([1], [BASE_MS + 2 * 10**6]))])
        pool = wh.connection.execute("SELECT current_setting('block_allocator_memory')")
        assert pool.fetchone() == ("0 bytes",)


def test_an_in_memory_warehouse_is_never_reattached() -> None:
    with DuckDBSink(":memory:", reattach_rows=1) as wh:
        wh.write([page(make_assets([1, 2], [BASE_MS, BASE_MS]))])
        wh.write([page(make_assets([3], [BASE_MS]))])
        assert wh.reattached == 0
        assert wh.connection.execute("SELECT count(*) FROM assets").fetchone() == (3,)


def test_the_writer_leaves_a_core_to_the_fetch_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """DuckDB's threads for the writer: all usable cores but one, and at least one."""
    monkeypatch.setattr(connection_module.os, "sched_getaffinity", lambda _: {0, 1, 2, 3})
    assert writer_threads() == 3
    monkeypatch.setattr(connection_module.os, "sched_getaffinity", lambda _: {0})
    assert writer_threads() == 1
