"""`DuckDBSink`: the warehouse as the engine's `assets_sync.sink.Sink`, and as a handle for readers.

Guarantees (see `assets_sync.sink` for the protocol):

* Every protocol call is ONE DuckDB transaction; an exception rolls it back, and a process
  killed at any instant leaves the warehouse as of the last commit (DuckDB's WAL).
* One writer per warehouse: another process gets `WarehouseBusyError` from DuckDB's file lock,
  another sink of this process from a registry (see `warehouse.connection`).
* Calls are serialized on an internal lock, so a sink may be shared between threads (DuckDB
  connections are not safe for concurrent use).
* Opening applies pending migrations (read-write) and verifies that the asset tables match
  `assets_sync.schema.ASSET_SCHEMA`.
* Memory: `write()` runs under DuckDB's lower write limit (`connection.WRITE_MEMORY_LIMIT`,
  32MB) and restores the connection's own (128MB) for whatever reads next; a write that does
  not fit (in a statement or in its COMMIT) is rolled back and written again, whole, under
  the connection's limit, and so are the sink's later writes (records that large would make
  every write run out twice). Every `connection.REATTACH_ROWS` rows written, the file is
  attached again, which frees what DuckDB keeps per row group written (~30 MB per 1M
  assets): a sync's memory stays flat in the number of assets.
* A first sync (no row in `assets` at the sink's first write) keeps `hash(id)` of the ids it
  stores in a temp table, 8 bytes per asset in DuckDB's memory (spilled to the temp directory
  beyond the limit), so that a write of ids none of which is stored yet does not scan
  `assets` to classify them (`warehouse.classify`).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from types import TracebackType

import duckdb
import pyarrow as pa

from assets_sync.sink import (
    Completion,
    PageBatch,
    ReconcileResult,
    RunRecord,
    Sink,
    SliceState,
    StreamKey,
    StreamState,
    WriteResult,
)
from warehouse import compaction, connection, delete_budget, ledger
from warehouse.classify import KNOWN, start_known
from warehouse.columns import check_asset_tables
from warehouse.connection import (
    MEMORY,
    WRITER_BLOCK_ALLOCATOR_MEMORY,
    canonical_path,
    claim_writer,
    connect,
    memory_limit,
    reattach_for_writing,
    release_writer,
    size_bytes,
    transaction,
    write_memory_limit,
)
from warehouse.delete_budget import DELETE_INFO_BYTES, deferred_pages
from warehouse.errors import WarehouseError
from warehouse.migrate import migrate, pending_migrations
from warehouse.reconcile import reconcile as _reconcile
from warehouse.upsert import Merged, write_pages

_log = logging.getLogger(__name__)


class DuckDBSink:
    """A DuckDB warehouse file, opened read-write (the single writer) or read-only."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        read_only: bool = False,
        migrate_to: int | None = None,
        reattach_rows: int | None = None,
        max_delete_groups: int | None = None,
        track_new_ids: bool = True,
    ) -> None:
        """Open (creating it if needed, unless read-only) and bring the schema up to date.

        `migrate_to` stops at an older schema version; it exists to test upgrades.
        `reattach_rows`: `write()` attaches the file again once this many rows were written
        since it was attached (default `warehouse.connection.REATTACH_ROWS`).
        `max_delete_groups`: the row groups of `assets` whose delete information `write()`
        lets DuckDB hold at once (default `warehouse.delete_budget.MAX_DELETE_GROUPS`); a write that
        would need more commits in parts, with a checkpoint between them.
        `track_new_ids`: when `assets` is empty at the first `write()` (a first sync), keep the
        hashes of the ids written in a temp table, so that a write of ids none of which is
        stored yet skips the join that scans `assets` (`warehouse.upsert.write_pages`, `known`).
        False only to compare with the full join (tests, benchmarks).
        """
        if max_delete_groups is None:
            max_delete_groups = delete_budget.MAX_DELETE_GROUPS
        if max_delete_groups < 1:
            raise ValueError(f"max_delete_groups must be at least 1, not {max_delete_groups}")
        self.path = canonical_path(path)
        self.read_only = read_only
        self._lock = threading.RLock()
        self._closed = False
        self._upkeep = True  # compaction at close; off for an older schema (`migrate_to`)
        self._reattach_rows = connection.REATTACH_ROWS if reattach_rows is None else reattach_rows
        self._rows_since_attach = 0  # asset rows written since the file was (re)attached
        self.reattached = 0  # how many times write() attached the file again
        self._max_delete_groups = max_delete_groups
        self.deferred_parts = 0  # write() transactions beyond the first (see write_pages)
        # Row groups of `assets` whose delete information DuckDB holds since the writer's last
        # checkpoint (a superset: DuckDB's own automatic checkpoints free it unannounced).
        self._held: set[int] = set()
        # `classify.KNOWN` is kept (True), not (False), or not decided before the first write.
        self._known: bool | None = None if track_new_ids else False
        self.fresh_writes = 0  # write() transactions that did not read `assets` to classify
        # Streams whose `sync_state` row a committed transaction of this sink created or met:
        # later transactions skip `ensure_stream`'s statement for them.
        self._ensured: set[str] = set()
        self._limit = memory_limit()
        self._write_limit = write_memory_limit()
        if not read_only:
            claim_writer(self.path)
        try:
            self._con = connect(self.path, read_only)
            try:
                self._prepare(migrate_to)
                self._upkeep = migrate_to is None
            except BaseException:
                self._con.close()
                raise
        except BaseException:
            if not read_only:
                release_writer(self.path)
            raise

    def _prepare(self, migrate_to: int | None) -> None:
        if self.read_only:
            pending = pending_migrations(self._con)
            if pending:
                raise WarehouseError(
                    f"warehouse {self.path} needs schema migrations "
                    f"{[m.version for m in pending]}; open it read-write once to upgrade"
                )
        else:
            migrate(self._con, upto=migrate_to)
        if migrate_to is None:
            check_asset_tables(self._con)

    # -- handle -------------------------------------------------------------------------

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        """The DuckDB connection, for SQL by readers (status, export, analytics)."""
        self._check_open()
        return self._con

    def dead_rows(self) -> tuple[int, int]:
        """(dead, stored) rows of `asset_rows`: replaced rows not reclaimed yet, and all rows
        stored (`warehouse.compaction.dead_rows`)."""
        with self._lock:
            self._check_open()
            return compaction.dead_rows(self._con)

    def compact(self) -> int:
        """Reclaim the rows of `asset_rows` that writes replaced; returns how many were dead
        (`warehouse.compaction`). `close()` calls it when they reach
        `compaction.COMPACT_DEAD_SHARE` of the stored rows."""
        with self._lock:
            self._check_writable()
            return compaction.compact(self._con, self._checkpoint)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            try:
                writable = not self.read_only and self.path != MEMORY and self._upkeep
                if writable and compaction.due(*compaction.dead_rows(self._con)):
                    self.compact()
            except duckdb.Error as exc:
                # Upkeep, not the run's work: its transaction rolled back, nothing is lost,
                # and the next close tries again. Say so, and close all the same.
                _log.warning("warehouse %s: compaction failed, tried again at the next close: %s",
                             self.path, exc)  # fmt: skip
            finally:
                self._closed = True
                self._con.close()
                if not self.read_only:
                    release_writer(self.path)

    def __enter__(self) -> DuckDBSink:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        mode = "read-only" if self.read_only else "read-write"
        return f"DuckDBSink({self.path!r}, {mode}{', closed' if self._closed else ''})"

    def _check_open(self) -> None:
        if self._closed:
            raise WarehouseError(f"warehouse {self.path} is closed")

    def _check_writable(self) -> None:
        self._check_open()
        if self.read_only:
            raise WarehouseError(f"warehouse {self.path} was opened read-only")

    # -- Sink protocol ------------------------------------------------------------------

    def stream_state(self, stream: StreamKey) -> StreamState:
        with self._lock:
            self._check_open()
            return ledger.read_stream_state(self._con, stream)

    def plan_slices(self, stream: StreamKey, slices: Sequence[SliceState]) -> None:
        with self._lock:
            self._check_writable()
            with transaction(self._con):
                ledger.plan_slices(self._con, stream, slices)
            self._ensured.add(stream.stream_id)

    def write(self, pages: Sequence[PageBatch], complete: Completion | None = None) -> WriteResult:
        """Commit the pages, their rejects and their slices' progress in one transaction, or,
        when replacing their rows would make DuckDB hold delete information for more than
        `max_delete_groups` row groups of `assets`, in parts with a checkpoint between them,
        the progress in the last (`warehouse.upsert.write_pages`). DuckDB holds 256 KiB per
        row group deleted from until the next checkpoint: replacing 10,000 rows spread over
        10M in one transaction needed 305 MB, more than the connection's whole limit. Each
        transaction's memory limit is the write limit plus what is held.

        `raw` typed JSON (`ASSET_SCHEMA`: the engine's normalize) is stored as it is; text
        `raw` is cast by DuckDB, and if it refuses a value, the transaction is rolled back and
        the same pages are written again with per-row validation, which sends the offending
        rows to `rejected_assets`.

        `complete`: the slices completed and the watermark raised (`ledger.complete_slices`)
        in the transaction that commits the progress, after it.
        """
        with self._lock:
            self._check_writable()
            if not pages:
                if complete is not None:
                    self._complete(complete)
                return WriteResult()
            if self._rows_since_attach >= self._reattach_rows and self.path != MEMORY:
                self._reattach()
            if self._known is None:
                self._known = start_known(self._con) is not None
                if self._known:  # a first sync: `connection.WRITER_BLOCK_ALLOCATOR_MEMORY`
                    self._con.execute(
                        f"SET block_allocator_memory = '{WRITER_BLOCK_ALLOCATOR_MEMORY}'"
                    )
            result = WriteResult()
            todo: Sequence[PageBatch] = pages
            while True:
                merged = self._merge(todo, complete)
                self.fresh_writes += merged.fresh
                self._held |= merged.groups
                result = result + merged.result
                if merged.deferred is None:
                    break
                # DuckDB holds as much delete information as the writer allows
                # (delete_budget.MAX_DELETE_GROUPS); a checkpoint frees it for the next part.
                self._checkpoint()
                self.deferred_parts += 1
                todo = deferred_pages(todo, merged.deferred)
            self._rows_since_attach += sum(p.assets.num_rows for p in pages)
            return result

    def _merge(self, pages: Sequence[PageBatch], complete: Completion | None) -> Merged:
        """One transaction of `write`: all of `pages`, or a part and the ids it deferred."""
        try:
            return self._write_pages(pages, complete)
        except duckdb.Error as exc:
            if not _ran_out_of_memory(exc):
                raise
            # A batch that does not fit the writer's limit (very large records, or a
            # commit replacing many rows) was rolled back; it is written again, whole,
            # under the connection's own limit, as are the later ones. The file is attached
            # again first: a DELETE that ran out of memory leaves its aborted deletes behind
            # in DuckDB 2.0.1, and deleting those rows again fails with "Conflict on tuple
            # deletion!" until then (a checkpoint does not clear them).
            self._write_limit = self._limit
            if self.path != MEMORY:
                self._reattach()
            return self._write_pages(pages, complete)

    def _reattach(self) -> None:
        """Free DuckDB's metadata of the row groups written so far (a sync's RSS no longer
        grows with the number of assets it writes). If the file cannot be attached again
        (another process took it in the moment without its lock), the sink closes itself and
        the error says who holds the file: the write that asked for it was not started."""
        try:
            reattach_for_writing(self._con, self.path)
        except BaseException:
            self._closed = True
            self._con.close()
            release_writer(self.path)
            raise
        self._rows_since_attach = 0
        self._held.clear()  # detaching checkpoints the file
        self.reattached += 1

    def _write_pages(self, pages: Sequence[PageBatch], complete: Completion | None) -> Merged:
        """One transaction under the writer's `memory_limit` (`connection`:
        WRITE_MEMORY_LIMIT, so a sync's buffer pool does not grow with the warehouse), raised
        by what DuckDB's delete information will pin (`delete_budget.DELETE_INFO_BYTES` per row
        group the transaction deletes from); the connection's limit is restored after. The
        transaction that commits the progress (the last part) also applies `complete`."""
        groups = self._max_delete_groups
        base = size_bytes(self._write_limit)
        known = KNOWN if self._known else None

        def reserve(held: int) -> None:
            self._con.execute(f"SET memory_limit = '{base + held * DELETE_INFO_BYTES}B'")

        def merge(validate_json: bool) -> Merged:
            reserve(len(self._held))
            with transaction(self._con):
                merged = write_pages(
                    self._con,
                    pages,
                    validate_json=validate_json,
                    max_groups=groups,
                    held=self._held,
                    reserve=reserve,
                    known=known,
                    ensured=self._ensured,
                )
                if complete is not None and merged.deferred is None:
                    ledger.complete(self._con, complete, ensured=self._ensured)
            self._ensured.update(p.stream.stream_id for p in pages)  # committed
            if complete is not None:
                self._ensured.add(complete.stream.stream_id)
            return merged

        try:
            try:
                return merge(validate_json=False)
            except duckdb.ConversionException:
                return merge(validate_json=True)
        finally:
            self._con.execute(f"SET memory_limit = '{self._limit}'")  # readers' limit again

    def _checkpoint(self) -> None:
        self._con.execute("CHECKPOINT")
        self._held.clear()

    def complete_slices(
        self, stream: StreamKey, slice_ids: Sequence[str], watermark_ms: int | None
    ) -> None:
        with self._lock:
            self._check_writable()
            self._complete(Completion(stream, tuple(slice_ids), watermark_ms))

    def _complete(self, complete: Completion) -> None:
        """`complete_slices`, in a transaction of its own (the caller holds the lock)."""
        with transaction(self._con):
            ledger.complete(self._con, complete, ensured=self._ensured)
        self._ensured.add(complete.stream.stream_id)

    def reconcile(
        self,
        stream: StreamKey,
        run_id: str,
        listed_ids: pa.Array,
        created_lo_ms: int | None,
        created_hi_ms: int | None,
        complete: bool,
        *,
        max_deleted_fraction: float | None = None,
    ) -> ReconcileResult:
        """See `warehouse.reconcile`; `run_id` is accepted for the protocol and for logs."""
        with self._lock:
            self._check_writable()
            with transaction(self._con):
                return _reconcile(
                    self._con,
                    stream,
                    listed_ids,
                    created_lo_ms,
                    created_hi_ms,
                    complete,
                    max_deleted_fraction,
                )

    def begin_run(self, run: RunRecord) -> None:
        with self._lock:
            self._check_writable()
            with transaction(self._con):
                ledger.upsert_run(self._con, run)
            self._ensured.add(run.stream.stream_id)

    def end_run(self, run: RunRecord) -> None:
        with self._lock:
            self._check_writable()
            with transaction(self._con):
                ledger.upsert_run(self._con, run)


def _ran_out_of_memory(exc: duckdb.Error) -> bool:
    """DuckDB ran out of its memory limit: in a statement (`OutOfMemoryException`) or in the
    COMMIT, which reports it as a `TransactionException` ("Failed to commit: could not
    allocate block ..."; seen once in a 1M-asset bulk-edit incremental at the 48MB write
    limit). A failed COMMIT leaves no transaction open: nothing of it was written."""
    if isinstance(exc, duckdb.OutOfMemoryException):
        return True
    text = str(exc)
    return isinstance(exc, duckdb.TransactionException) and (
        "could not allocate" in text or "Out of Memory" in text
    )


def _conforms(sink: DuckDBSink) -> Sink:
    """Never called: mypy checks here that DuckDBSink implements the Sink protocol exactly."""
    return sink


#: The warehouse handle: the same object serves the engine (Sink) and readers (`.connection`).
Warehouse = DuckDBSink


def open_warehouse(path: str | os.PathLike[str], read_only: bool = False) -> DuckDBSink:
    """Open a warehouse; use it as a context manager: `with open_warehouse(p) as wh: ...`."""
    return DuckDBSink(path, read_only=read_only)
