"""Opening a warehouse: file checks, the single-writer rule, migrations, transactions.

Single writer, two layers:

* Across processes DuckDB itself holds an exclusive OS lock on the database file for a
  read-write connection (and a shared one for read-only ones). `connect()` turns DuckDB's
  lock error into `WarehouseBusyError` naming the holder's pid. This is the lock that matters
  for a second `assets-sync sync` or a Dagster run started beside a running one, and it is
  released by the kernel when the holder dies, even by kill -9, so it can never go stale.
  The writer lets go of it for one moment every `REATTACH_ROWS` rows, when it attaches its
  file again to free DuckDB's metadata (`reattach_for_writing`): a process opening the file
  in that moment gets it, and the writer then stops with `WarehouseBusyError`, as if it had
  been the second one (a reader's lock is waited for). Nothing committed is lost either way.
* Within one process DuckDB shares one database instance between connections to the same
  path, so a second sink would NOT be refused by the OS lock: two writers would interleave
  transactions and fail on write-write conflicts. A process-wide registry of the paths opened
  for writing (a set guarded by a `threading.Lock`) refuses the second writer up front with
  the same `WarehouseBusyError`. A lock file with `flock` would do the same but adds a file
  beside the database that can outlive a crash and confuse people; the registry needs none,
  and DuckDB's own lock already covers other processes. (The writer's connection ATTACHes
  the file, see `_attach_for_writing`, and DuckDB also refuses a second attach of it in the
  process; the registry keeps the clearer message.)
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from warehouse.errors import WarehouseBusyError, WarehouseError

MEMORY = ":memory:"
NO_VACUUM = 0
VACUUM = 100  # DuckDB's default

_registry_lock = threading.Lock()
_writers: set[str] = set()
_PID = re.compile(r"PID (\d+)")
_HOLDER = re.compile(r"Conflicting lock is held in (.+?) \(PID")


def canonical_path(path: str | os.PathLike[str]) -> str:
    text = os.fspath(path)
    return text if text == MEMORY else os.path.realpath(text)


def claim_writer(path: str) -> None:
    """Register `path` as written by this process; refuse a second writer."""
    if path == MEMORY:
        return
    with _registry_lock:
        if path in _writers:
            raise WarehouseBusyError(
                f"warehouse {path} is already open for writing in this process "
                f"(pid {os.getpid()}); close that sink first: one writer at a time"
            )
        _writers.add(path)


def release_writer(path: str) -> None:
    with _registry_lock:
        _writers.discard(path)


def connect(path: str, read_only: bool) -> duckdb.DuckDBPyConnection:
    """Open the DuckDB file, translating the failures a user can act on."""
    limit = memory_limit()
    if path != MEMORY:
        p = Path(path)
        if read_only and not p.exists():
            raise WarehouseError(f"no warehouse at {path}: run a sync first (read-only open)")
        if p.exists() and p.is_dir():
            raise WarehouseError(f"{path} is a directory, not a DuckDB warehouse file")
        if not p.parent.exists():
            raise WarehouseError(f"cannot create warehouse {path}: {p.parent} does not exist")
    try:
        if read_only or path == MEMORY:
            con = duckdb.connect(path, read_only=read_only)
        else:
            con = _attach_for_writing(path)
    except duckdb.IOException as exc:
        raise _translate_open_error(path, exc) from exc
    except (duckdb.ConnectionException, duckdb.ResourceInUseException) as exc:
        # Same process: other configuration (read-only vs read-write) on one file, or the
        # writer's attached file opened again.
        raise WarehouseBusyError(
            f"warehouse {path} is already open in this process (pid {os.getpid()}) in "
            f"{'read-write' if read_only else 'read-only'} mode; close it first ({exc})"
        ) from exc
    # Day boundaries and TIMESTAMPTZ <-> epoch conversions in UTC whatever the host says.
    con.execute("SET TimeZone = 'UTC'")
    # A library must not draw on the user's terminal: DuckDB's bar appears on long statements.
    con.execute("SET enable_progress_bar = false")
    con.execute(f"SET memory_limit = '{limit}'")
    if not read_only:
        # No vacuum in the automatic checkpoints that follow writes: with it, a checkpoint
        # after 100k replaced rows of a 1M-row `assets` rewrote the whole table (9 s,
        # measured); without it, 50 ms. `DuckDBSink.compact()` vacuums on purpose instead.
        con.execute(f"SET max_vacuum_tasks = {NO_VACUUM}")
    return con


#: Rows per row group of what the writer appends (DuckDB's default is 122,880). DuckDB writes
#: an append straight to the file, compressed, once it fills a row group ("optimistic
#: writes"); smaller appends go to the WAL at commit, and the checkpoint that the NEXT commit
#: triggers compresses and writes them again. A sync wrote ~10k rows at a time, so with the
#: default every row was written twice: 100k emulator assets, 10k per write, cost 6.7 s of
#: CPU and 37 MB of WAL per write (the following commit took 0.3 s); with 8192-row groups,
#: 4.9 s, a 0.2 MB WAL and no checkpoint work left (measured, DuckDB 2.0.1). Row groups of
#: 8192 rows also prune finer; the file grew 4%. The engine writes one group per write
#: (`SyncConfig.max_rows_per_write`).
WRITER_ROW_GROUP_SIZE = 8192
#: Memory DuckDB's block allocator keeps for the writer's instance during a first sync
#: (`DuckDBSink`, when `assets` is empty at its first write): its 256 KiB buffers are then
#: carved from one mapping instead of each being mapped and unmapped by malloc, and faulted in
#: again page by page. The writer took ~2 page faults per asset in a 1M first sync (2.1M
#: faults, 5.9 s of its 20 s in the kernel). With 64MB: 2-3 s less CPU and 0.5-1.9 s less
#: wall for +1-2 MB of peak (1M emulator assets, alternated runs; 32MB barely helped, 128MB
#: did no better; benchmarks/RESULTS.md). The pool is never given back, so it stays small
#: (the writer's buffer pool is 32MB while it writes, WRITE_MEMORY_LIMIT), and an incremental
#: does without: its writes are few, and its peak (the CLI's at 1M: 293-300 MB) has no room.
WRITER_BLOCK_ALLOCATOR_MEMORY = "64MB"
WRITER_ALIAS = "warehouse"
MEMORY_CATALOG = "memory"  # the catalog of the in-memory instance the file is attached to


def _attach_for_writing(path: str) -> duckdb.DuckDBPyConnection:
    """A read-write connection to `path` whose appends use `WRITER_ROW_GROUP_SIZE`.

    The row group size is an option of ATTACH (not of `duckdb.connect`, and not stored in the
    file), so the file is attached to a fresh in-memory instance and made the default
    catalog: unqualified names resolve to it as with a plain connect. DuckDB refuses to attach
    one file twice in a process (`ResourceInUseException`), as it refused mixing read-only and
    read-write connections before.
    """
    con = duckdb.connect(MEMORY)
    try:
        # Where DuckDB spills: beside the file, as for a plain connect. An in-memory instance
        # would use `.tmp` in the process's working directory.
        con.execute(f"SET temp_directory = '{_quoted(path + '.tmp')}'")
        con.execute(f"SET threads = {writer_threads()}")
        _attach(con, path)
    except BaseException:
        con.close()
        raise
    return con


def writer_threads() -> int:
    """DuckDB's threads for the writer: every core this process may use but one.

    During a sync the fetch threads keep about one core busy with Python (parsing and
    normalizing hold the GIL); a writer with a thread on every core competed with them. On
    2 cores, 1 thread instead of 2: a 1M-asset first sync used 9 % less CPU (116.7 / 113.4 s
    against 124.3 / 127.6 s) at the same wall time, a 100k one 13 % less and 6 % less wall
    time (benchmarks/RESULTS.md).
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        cores = os.cpu_count() or 2
    return max(1, cores - 1)


def _quoted(text: str) -> str:
    return text.replace("'", "''")


def _attach(con: duckdb.DuckDBPyConnection, path: str) -> None:
    quoted = _quoted(path)
    con.execute(f"ATTACH '{quoted}' AS {WRITER_ALIAS} (ROW_GROUP_SIZE {WRITER_ROW_GROUP_SIZE})")
    con.execute(f"USE {WRITER_ALIAS}")


#: The writer attaches its file again after this many rows written (`DuckDBSink.write`).
#: DuckDB keeps ~3 KB in memory per column of every row group written in the session and
#: frees it only when the file is detached: ~30 MB per 1M assets (`assets` and
#: `asset_versions`), so a sync's RSS grew with the number of assets it wrote.
REATTACH_ROWS = 250_000
#: How long a re-attach waits for the file's lock (module docstring: the moment without it).
REATTACH_WAIT_S = 30.0


def reattach_for_writing(
    con: duckdb.DuckDBPyConnection, path: str, wait_s: float | None = None
) -> None:
    """Detach the writer's file and attach it again, which frees DuckDB's in-memory metadata
    of the row groups written so far (`REATTACH_ROWS`). Settings are the instance's and stay.

    Between the two, DuckDB's lock on the file is released: a process that opens the file in
    that moment holds it instead (a whole re-attach took 1.4 ms on a 2M-row file, measured).
    The lock is waited for up to `wait_s` (default `REATTACH_WAIT_S`: a reader's is short);
    then `WarehouseBusyError` names the holder, and the connection is left without its
    warehouse: the caller must not use it again (`DuckDBSink` closes itself). Nothing
    committed is lost: a sync resumes from its ledger.
    """
    con.execute(f"USE {MEMORY_CATALOG}")
    con.execute(f"DETACH {WRITER_ALIAS}")
    deadline = time.monotonic() + (REATTACH_WAIT_S if wait_s is None else wait_s)
    while True:
        try:
            _attach(con, path)
            return
        except duckdb.IOException as exc:
            if "Could not set lock" not in str(exc) or time.monotonic() >= deadline:
                raise _translate_open_error(path, exc) from exc
        time.sleep(0.05)


#: DuckDB's own default is 80 % of RAM, and its buffer pool keeps every block it wrote: a
#: sync's RSS then grows with the warehouse (2.5 GB after 1M assets, measured). The writer
#: needs little (one write's batch, a checkpoint's row group); big queries spill to disk.
#: 128MB: a 1M-asset first sync peaked at 452 MB of RSS (561 MB with 256MB) at the same speed.
DEFAULT_MEMORY_LIMIT = "128MB"
MEMORY_LIMIT_ENV = "ASSETS_SYNC_DUCKDB_MEMORY_LIMIT"
#: `memory_limit` while the engine writes (`DuckDBSink.write`). A write needs one batch of
#: rows, the classification's hash table and a row group being compressed; the rest of the
#: buffer pool only caches blocks the writer already wrote, which the next write's scan of
#: `assets` reads back cheaply. A 1M-asset first sync peaked 66 MB lower at 64MB than at
#: 128MB, at the same speed, ~20 MB lower again at 48MB once DuckDB no longer parsed `raw`
#: on insert, and ~10 MB lower again at 32MB once a usual write's versions no longer needed a
#: grouping (a 16 MB hash table; before that, 32MB ran out of memory on 3-4 writes per 100k
#: emulator assets; benchmarks/RESULTS.md). A write that runs out is written again under the
#: connection's limit, and the sink's later writes too (`DuckDBSink.write`). Other work keeps
#: DEFAULT_MEMORY_LIMIT (the report and the export have their own, below).
WRITE_MEMORY_LIMIT = "32MB"
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$", re.IGNORECASE)
#: DuckDB's units: KB, MB, ... are powers of 1000, KiB, MiB, ... powers of 1024.
_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}
_UNITS |= {"kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def size_bytes(size: str) -> int:
    """Bytes in a size such as `48MB` or `1.5 GiB` (the forms `memory_limit` accepts)."""
    match = _SIZE.match(size)
    if match is None:
        raise ValueError(f"not a size: {size!r}")
    return round(float(match[1]) * _UNITS[match[2].lower()])


#: `memory_limit` while the data-quality checks read (`warehouse.quality.evaluate`). They run
#: in the sync's own process right after it (the Dagster job, hence the CLI's `sync`), so what
#: they hold adds to that process's peak; under the readers' 128MB their scans and hash
#: tables filled it, and `assets-sync sync` of 1M assets peaked at 358 MB in the checks against
#: 308 MB in the sync. Their queries are aggregates, which spill to disk: under 32MB they took
#: 0.3 s at 1M instead of 0.2 s (benchmarks/RESULTS.md, fourteenth session).
QUALITY_MEMORY_LIMIT = "32MB"
EXPORT_MEMORY_LIMIT_ENV = "ASSETS_SYNC_EXPORT_MEMORY_LIMIT"
#: `memory_limit` while the Parquet export scans. Under the readers' 128MB, DuckDB filled its
#: buffer pool with the blocks it had scanned: exporting 1M assets peaked at 616 MB, and at 516
#: MB under 32MB, in the same time (benchmarks/RESULTS.md, fourteenth session). An export that
#: runs out of memory under it runs again under the connection's limit.
EXPORT_MEMORY_LIMIT = "32MB"
REPORT_MEMORY_LIMIT_ENV = "ASSETS_SYNC_REPORT_MEMORY_LIMIT"
#: `memory_limit` while `assets-sync report` reads. Its lineage figures group every asset by
#: tree (hash tables over all ids, lists of types per tree), which DuckDB did not fit or
#: spill: at 1M assets 128MB and 256MB ran out of memory; 512MB took 13.0 s and 707 MB of RSS, 1GB
#: 10.6 s and 1.2 GB (measured, DuckDB 2.0.1). The report is a short read-only run.
DEFAULT_REPORT_MEMORY_LIMIT = "1GB"


def _size_from_env(name: str, default: str | None) -> str | None:
    value = os.environ.get(name, "").strip() or default
    if value is not None and not _SIZE.match(value):
        raise WarehouseError(f"{name}={value!r} is not a size such as 512MB or 2GB")
    return value


def _size_or(name: str, default: str) -> str:
    """`$name` if set (validated), else `default`."""
    return _size_from_env(name, default) or default


def export_memory_limit() -> str:
    """`memory_limit` while exporting Parquet: `$ASSETS_SYNC_EXPORT_MEMORY_LIMIT`, else
    `$ASSETS_SYNC_DUCKDB_MEMORY_LIMIT` (a limit the user chose applies to everything), else
    EXPORT_MEMORY_LIMIT. The export only scans in DuckDB (it sorts outside it, in bounded
    memory: `warehouse.partition_sort`), and a scan needs little."""
    return _size_from_env(EXPORT_MEMORY_LIMIT_ENV, None) or _size_or(
        MEMORY_LIMIT_ENV, EXPORT_MEMORY_LIMIT
    )


def report_memory_limit() -> str:
    """`memory_limit` while the report reads: `$ASSETS_SYNC_REPORT_MEMORY_LIMIT` or 1GB."""
    return _size_or(REPORT_MEMORY_LIMIT_ENV, DEFAULT_REPORT_MEMORY_LIMIT)


@contextmanager
def memory_limit_for(con: duckdb.DuckDBPyConnection, limit: str | None) -> Iterator[None]:
    """Run a block under another `memory_limit` (None: DuckDB's default), then restore it."""
    rows = con.execute("SELECT current_setting('memory_limit')").fetchall()
    previous = str(rows[0][0]) if rows else DEFAULT_MEMORY_LIMIT
    if limit is None:
        con.execute("RESET memory_limit")
    else:
        con.execute(f"SET memory_limit = '{limit}'")
    try:
        yield
    finally:
        con.execute(f"SET memory_limit = '{previous}'")


def memory_limit() -> str:
    """DuckDB's `memory_limit` for warehouse connections: `$ASSETS_SYNC_DUCKDB_MEMORY_LIMIT`
    (e.g. `1GB`) or 128MB."""
    return _size_or(MEMORY_LIMIT_ENV, DEFAULT_MEMORY_LIMIT)


def write_memory_limit() -> str:
    """`memory_limit` while the engine writes: `$ASSETS_SYNC_DUCKDB_MEMORY_LIMIT` when set (a
    limit the user chose applies to everything), else WRITE_MEMORY_LIMIT."""
    return _size_or(MEMORY_LIMIT_ENV, WRITE_MEMORY_LIMIT)


def quality_memory_limit() -> str:
    """`memory_limit` while the checks read: `$ASSETS_SYNC_DUCKDB_MEMORY_LIMIT` when set, else
    QUALITY_MEMORY_LIMIT."""
    return _size_or(MEMORY_LIMIT_ENV, QUALITY_MEMORY_LIMIT)


def _translate_open_error(path: str, exc: duckdb.IOException) -> WarehouseError:
    text = str(exc)
    if "Could not set lock" in text:
        pid = _PID.search(text)
        holder = _HOLDER.search(text)
        who = f"pid {pid[1]}" if pid else "pid unknown"
        if holder:
            who += f", {holder[1]}"
        return WarehouseBusyError(
            f"warehouse {path} is in use by another process ({who}); DuckDB allows one "
            "read-write process (or several read-only ones) at a time: wait for that sync to "
            "finish or stop it, then retry"
        )
    if "not a valid DuckDB database file" in text:
        return WarehouseError(
            f"{path} exists but is not a DuckDB database file; point --warehouse at a "
            "DuckDB file or at a path that does not exist yet"
        )
    return WarehouseError(f"cannot open warehouse {path}: {text}")


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """BEGIN ... COMMIT, or ROLLBACK on any exception (including KeyboardInterrupt)."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
