"""`PartitionSorter`: every row comes back once, in its partition, ordered like DuckDB's
`ORDER BY` (ascending, NULLs last, strings by bytes), whether a partition is sorted whole or
first split into buckets; and no temporary file is left behind."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from warehouse.partition_sort import PartitionSorter, SpillError

SCHEMA = pa.schema(
    [
        ("part", pa.string()),
        ("ts", pa.timestamp("us", tz="UTC")),
        ("name", pa.string()),
        ("n", pa.int64()),
        ("payload", pa.string()),
    ]
)

rows_st = st.lists(
    st.tuples(
        st.sampled_from(["2026-01", "2026-02", "unknown"]),
        st.one_of(st.none(), st.integers(0, 40)),  # few values: many ties, NULLs
        st.one_of(st.none(), st.text(alphabet="aZé€😀b", max_size=3)),
        st.integers(-5, 5),
    ),
    max_size=300,
)


def _table(rows: list[tuple[Any, ...]]) -> pa.Table:
    return pa.table(
        {
            "part": [r[0] for r in rows],
            "ts": pa.array([None if r[1] is None else r[1] * 1000 for r in rows], pa.int64()).cast(
                pa.timestamp("us", tz="UTC")
            ),
            "name": [r[2] for r in rows],
            "n": [r[3] for r in rows],
            "payload": [f"row-{i}" + "x" * (i % 7) for i in range(len(rows))],
        },
        schema=SCHEMA,
    )


def _duckdb_order(table: pa.Table, keys: list[str]) -> list[dict[str, Any]]:
    """What `SELECT * ORDER BY part, keys..., payload` gives (payload: a stable tiebreak)."""
    order = ", ".join(["part", *keys, "payload"])
    con = duckdb.connect()
    con.register("t", table)
    rows = con.sql(f"SELECT * FROM t ORDER BY {order}").to_arrow_table().to_pylist()
    con.close()
    return rows


def _run(
    tmp: Path, table: pa.Table, keys: list[str], bucket_bytes: int, batch_rows: int, chunk: int
) -> tuple[list[dict[str, Any]], list[str]]:
    out: list[dict[str, Any]] = []
    parts: list[str] = []
    with PartitionSorter(str(tmp), SCHEMA, [*keys, "payload"], bucket_bytes, batch_rows) as s:
        for start in range(0, table.num_rows, chunk):  # arrives unsorted, in several batches
            piece = table.slice(start, chunk)
            for value in sorted(set(piece.column("part").to_pylist())):
                mask = pa.array([p == value for p in piece.column("part").to_pylist()])
                for batch in piece.filter(mask).to_batches():
                    s.add(value, batch)
        for part, batches in s.partitions():
            parts.append(part)
            for batch in batches:
                assert batch.num_rows <= batch_rows
                out.extend(batch.to_pylist())
    return out, parts


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=rows_st,
    keys=st.sampled_from([["ts"], ["name"], ["n", "ts"], ["ts", "name"]]),
    bucket_bytes=st.sampled_from([1, 200, 2_000, 10**9]),  # 1: every partition is split
    batch_rows=st.integers(1, 50),
    chunk=st.integers(1, 120),
)
def test_rows_come_back_sorted_within_their_partition(
    tmp_path: Path,
    rows: list[tuple[Any, ...]],
    keys: list[str],
    bucket_bytes: int,
    batch_rows: int,
    chunk: int,
) -> None:
    work = tmp_path / f"w{len(os.listdir(tmp_path))}"
    work.mkdir()
    table = _table(rows)
    got, parts = _run(work, table, keys, bucket_bytes, batch_rows, chunk)
    assert got == _duckdb_order(table, keys)
    assert parts == sorted(set(r[0] for r in rows))
    assert os.listdir(work) == []


def test_a_large_partition_is_split_into_ordered_buckets(tmp_path: Path) -> None:
    rows = [("2026-01", i % 97, f"n{i % 13}", i % 5) for i in range(5_000)]
    table = _table(rows)
    opened: list[str] = []
    real_open = PartitionSorter._open

    def spy(self: PartitionSorter) -> Any:
        spill = real_open(self)
        opened.append(spill.path)
        return spill

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(PartitionSorter, "_open", spy)
        got, _ = _run(tmp_path, table, ["ts"], 20_000, 1_000, 700)
    assert len(opened) > 4  # the partition's file, then at least 4 buckets
    assert got == _duckdb_order(table, ["ts"])
    assert os.listdir(tmp_path) == []


def test_an_abandoned_iteration_leaves_no_file(tmp_path: Path) -> None:
    table = _table([(p, i, "a", 0) for p in ("2026-01", "2026-02") for i in range(50)])
    with PartitionSorter(str(tmp_path), SCHEMA, ["ts"], 100, 10) as s:
        for batch in table.to_batches(max_chunksize=25):
            s.add(batch.column(0)[0].as_py(), batch)
        _part, batches = next(s.partitions())
        next(batches)
        batches.close()
    assert os.listdir(tmp_path) == []


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="sort keys"):
        PartitionSorter(str(tmp_path), SCHEMA, ["nope"])
    with pytest.raises(ValueError, match="positive"):
        PartitionSorter(str(tmp_path), SCHEMA, ["ts"], max_bucket_bytes=0)


def test_a_failure_while_splitting_leaves_no_file(tmp_path: Path) -> None:
    """The disk fills up while a large partition is cut into buckets: SpillError, and every
    file (the partition's, the buckets') is gone."""
    table = _table([("2026-01", i % 50, "a", 0) for i in range(2_000)])
    real_open = PartitionSorter._open
    opened = 0

    class FullDisk:
        def __init__(self, writer: Any) -> None:
            self.writer = writer

        def write_batch(self, batch: Any) -> None:
            raise OSError(28, "No space left on device")

        def close(self) -> None:
            self.writer.close()

    def open_(self: PartitionSorter) -> Any:
        nonlocal opened
        opened += 1
        spill = real_open(self)
        if opened > 1:  # the buckets, not the partition's own file
            spill.writer = FullDisk(spill.writer)  # type: ignore[assignment]
        return spill

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(PartitionSorter, "_open", open_)
        with PartitionSorter(str(tmp_path), SCHEMA, ["ts"], 1_000, 100) as s:
            s.add("2026-01", table.to_batches()[0])
            _, batches = next(s.partitions())
            with pytest.raises(SpillError, match=f"cannot keep rows in {tmp_path}.*No space"):
                next(batches)
    assert opened > 2
    assert os.listdir(tmp_path) == []


@settings(max_examples=150, deadline=None)
@given(
    keys=st.one_of(
        st.lists(st.one_of(st.none(), st.integers(-(2**62), 2**62)), max_size=60),
        st.lists(st.one_of(st.none(), st.text(alphabet="aZé€😀b\x00", max_size=4)), max_size=60),
    ),
    parts=st.integers(2, 9),
)
def test_buckets_are_numpys_searchsorted_right_on_duckdbs_order(
    keys: list[Any], parts: int
) -> None:
    """Arrow-only cut points and buckets: a key goes after every cut <= it, cuts are distinct
    and increasing, NULL sorts last, strings by UTF-8 bytes (NumPy's old implementation)."""
    import bisect

    from warehouse.partition_sort import _boundaries, _bucket_of

    is_int = all(k is None or isinstance(k, int) for k in keys)
    values = pa.array(keys, pa.int64() if is_int else pa.string())

    def comparable(k: Any) -> Any:
        if is_int:
            return 2**63 - 1 if k is None else k
        return b"\xff" * 64 if k is None else k.encode()

    cuts = _boundaries(pa.chunked_array([values]), parts).to_pylist()
    assert cuts == sorted(set(cuts)) and len(cuts) <= parts - 1
    ordered = sorted(comparable(k) for k in keys)
    if ordered:
        assert cuts[0] == ordered[len(ordered) // parts]
    assert _bucket_of(values, pa.array(cuts)).to_pylist() == [
        bisect.bisect_right(cuts, comparable(k)) for k in keys
    ]
