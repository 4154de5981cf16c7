"""Sort a stream of Arrow batches by partition and key, in memory bounded by a bucket size.

The Parquet export needs each table ordered by `(partition, key...)`. DuckDB 2.0 cannot sort
a table with a large VARCHAR payload (`raw`, 1.3 KB per asset) within a memory limit: it
fails rather than spill (1M assets under 256MB, measured), and without a limit the sort took
3.9 GB of RSS at 1M assets. So the export streams the table unsorted and sorts here:

1. `add()` appends each partition's rows to its own temporary Arrow IPC file, keeping
   the bytes written per partition. Memory: one incoming batch.
2. `partitions()` yields the partitions in ascending order. A partition of at most
   `max_bucket_bytes` is read back whole, its sort indices computed, and its rows taken in
   slices of `batch_rows`. A larger one is first split into buckets by ranges of its FIRST
   sort key: boundaries are quantiles of that key (read batch by batch), and a row goes
   to the bucket `searchsorted(boundaries, key, side="right")`, so equal keys share a bucket
   and the buckets, in order, are ordered. Each bucket is then sorted like a small partition.
   Memory: one bucket (ties on a single key value can make a bucket larger; nothing else).

Sorting follows DuckDB's `ORDER BY`: ascending, NULLs last, strings by bytes.
Temporary files live in `directory` and are deleted as soon as they are read.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

#: Spill files are not compressed: LZ4 cut them 3x but made a 1M-asset export 25% slower
#: (8.5 s of 35), and they live for seconds, mostly in the page cache.
_IPC = pa.ipc.IpcWriteOptions(compression=None)


class SpillError(Exception):
    """The rows could not be written to, or read back from, the spill folder (full disk,
    permissions). The message names the folder."""


#: A partition larger than this (as written to Arrow) is split before sorting.
DEFAULT_MAX_BUCKET_BYTES = 128 * 2**20


@dataclass
class _Spill:
    path: str
    sink: pa.NativeFile
    writer: pa.ipc.RecordBatchFileWriter
    nbytes: int = 0
    rows: int = 0
    finished: bool = False

    def finish(self) -> None:
        """Close the file for writing (once; a second call does nothing)."""
        if not self.finished:
            self.finished = True
            try:
                self.writer.close()
            finally:
                self.sink.close()


@dataclass
class PartitionSorter:
    """Rows in, partitions out: each partition's rows sorted by `sort_keys` (all ascending)."""

    directory: str
    schema: pa.Schema
    sort_keys: Sequence[str]
    max_bucket_bytes: int = DEFAULT_MAX_BUCKET_BYTES
    batch_rows: int = 65_536
    _spills: dict[str, _Spill] = field(default_factory=dict, init=False, repr=False)
    _files: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        missing = [k for k in self.sort_keys if k not in self.schema.names]
        if not self.sort_keys or missing:
            raise ValueError(f"sort keys {list(self.sort_keys)} must be columns of the schema")
        if self.max_bucket_bytes <= 0 or self.batch_rows <= 0:
            raise ValueError("max_bucket_bytes and batch_rows must be positive")

    def add(self, partition: str, batch: pa.RecordBatch) -> None:
        """Append rows (in `schema`) to `partition`."""
        if batch.num_rows == 0:
            return
        with self._io():
            spill = self._spills.get(partition)
            if spill is None:
                spill = self._spills[partition] = self._open()
            spill.writer.write_batch(batch)
        spill.nbytes += batch.nbytes
        spill.rows += batch.num_rows

    def partitions(self) -> Iterator[tuple[str, Iterator[pa.RecordBatch]]]:
        """`(partition, sorted batches)` in ascending partition order. Consume each partition's
        batches before asking for the next partition."""
        for name in sorted(self._spills):
            spill = self._spills.pop(name)
            with self._io():
                spill.finish()
            yield name, self._sorted(spill)

    def close(self) -> None:
        """Delete what is left (after an error or an unfinished iteration)."""
        for spill in self._spills.values():
            with contextlib.suppress(OSError):  # e.g. the disk that filled up
                spill.finish()
            _remove(spill.path)
        self._spills.clear()

    def __enter__(self) -> PartitionSorter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals -------------------------------------------------------------------------
    def _open(self) -> _Spill:
        path = os.path.join(self.directory, f"spill-{self._files}.arrow")
        self._files += 1
        sink = pa.OSFile(path, "wb")
        return _Spill(path, sink, pa.ipc.new_file(sink, self.schema, options=_IPC))

    @contextlib.contextmanager
    def _io(self) -> Iterator[None]:
        try:
            yield
        except OSError as exc:  # pyarrow's IO errors are OSErrors too
            raise SpillError(f"cannot keep rows in {self.directory} to sort them: {exc}") from exc

    def _sorted(self, spill: _Spill) -> Iterator[pa.RecordBatch]:
        buckets: list[_Spill] = []
        try:
            if spill.nbytes <= self.max_bucket_bytes:
                with self._io():
                    table = _read_all(spill.path, self.schema)
                _remove(spill.path)
                yield from self._sort_in_memory(table)
                return
            with self._io():
                buckets = self._split(spill)
            _remove(spill.path)
            for bucket in buckets:
                with self._io():
                    table = _read_all(bucket.path, self.schema)
                _remove(bucket.path)
                yield from self._sort_in_memory(table)
                del table
        finally:
            _remove(spill.path)
            for bucket in buckets:
                _remove(bucket.path)

    def _sort_in_memory(self, table: pa.Table) -> Iterator[pa.RecordBatch]:
        if table.num_rows == 0:
            return
        order = pc.sort_indices(
            table, sort_keys=[(k, "ascending", "at_end") for k in self.sort_keys]
        )
        for start in range(0, table.num_rows, self.batch_rows):
            piece = table.take(order.slice(start, self.batch_rows)).combine_chunks()
            yield from piece.to_batches()

    def _split(self, spill: _Spill) -> list[_Spill]:
        """The partition's rows in buckets of ordered, disjoint ranges of the first key."""
        key = self.sort_keys[0]
        keys = _column(spill.path, key)
        parts = max(2, -(-spill.nbytes // self.max_bucket_bytes))
        boundaries = _boundaries(keys, parts)
        buckets: list[_Spill] = []
        try:
            buckets.extend(self._open() for _ in range(len(boundaries) + 1))
            with pa.OSFile(spill.path, "rb") as source:
                reader = pa.ipc.open_file(source)
                for i in range(reader.num_record_batches):
                    batch = reader.get_batch(i)
                    where = _bucket_of(batch.column(key), boundaries)
                    for b in where.unique().to_pylist():
                        buckets[b].writer.write_batch(batch.filter(pc.equal(where, b)))
            for bucket in buckets:
                bucket.finish()
        except BaseException:
            for bucket in buckets:
                with contextlib.suppress(OSError):
                    bucket.finish()
                _remove(bucket.path)
            raise
        return buckets


def _read_all(path: str, schema: pa.Schema) -> pa.Table:
    with pa.OSFile(path, "rb") as source:
        table = pa.ipc.open_file(source).read_all()
    return table if table.num_rows else schema.empty_table()


def _column(path: str, name: str) -> pa.ChunkedArray:
    """One column of an IPC file, read batch by batch (the rest is dropped as it goes)."""
    chunks: list[pa.Array] = []
    with pa.OSFile(path, "rb") as source:
        reader = pa.ipc.open_file(source)
        for i in range(reader.num_record_batches):
            chunks.append(reader.get_batch(i).column(name))
    return pa.chunked_array(chunks, type=reader.schema.field(name).type)


#: Above any UTF-8 string's bytes (0xff never occurs in UTF-8): where a NULL string key sorts.
_NULL_BYTES = b"\xff" * 64
_INT64_MAX = 2**63 - 1


def _comparable(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Values that order like DuckDB (timestamps as int64, strings as their UTF-8 bytes), with
    no NULL: NULL sorts last, as int64's maximum or as bytes above any UTF-8 string.

    Arrow only (no NumPy), so the warehouse works in a process that keeps NumPy out of pyarrow
    (`assets_sync.memory.keep_numpy_out_of_pyarrow`)."""
    if pa.types.is_timestamp(values.type) or pa.types.is_date(values.type):
        values = values.cast(pa.int64())
    if pa.types.is_integer(values.type):
        return pc.fill_null(values.cast(pa.int64()), _INT64_MAX)
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        return pc.fill_null(
            values.cast(pa.large_binary()), pa.scalar(_NULL_BYTES, pa.large_binary())
        )
    raise TypeError(f"cannot split a partition on a {values.type} key")


def _boundaries(keys: pa.ChunkedArray, parts: int) -> pa.Array:
    """Up to `parts - 1` distinct cut points: a row with key k goes after every cut <= k."""
    comparable = _comparable(keys)
    ordered = comparable.take(pc.sort_indices(comparable))
    if len(ordered) == 0:
        return pa.array([], comparable.type)
    picks = ordered.take(pa.array([len(ordered) * i // parts for i in range(1, parts)], pa.int64()))
    cuts: list[object] = []
    for value in picks.to_pylist():
        if not cuts or value != cuts[-1]:
            cuts.append(value)
    return pa.array(cuts, comparable.type)


def _bucket_of(values: pa.Array, boundaries: pa.Array) -> pa.Array:
    """Per value, how many boundaries are <= it (NumPy's `searchsorted(side="right")`)."""
    comparable = _comparable(values)
    where = pa.repeat(pa.scalar(0, pa.int64()), len(comparable))
    for cut in boundaries:
        where = pc.add(where, pc.greater_equal(comparable, cut).cast(pa.int64()))
    return where


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)
