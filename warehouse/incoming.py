"""A write's pages as the Arrow tables `warehouse.upsert` registers with DuckDB."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from assets_sync.schema import ASSET_SCHEMA
from assets_sync.sink import PageBatch
from warehouse.errors import WarehouseError

#: Arrow batches with fewer rows than this on average are copied into one before the scan
#: (`combined`): half of DuckDB's vector (2048 rows), which it scans a batch by.
_SCAN_ROWS = 1024

#: ASSET_SCHEMA with `raw` as plain text, for pages whose `raw` is not typed JSON: DuckDB then
#: casts it, and so checks it.
TEXT_RAW_SCHEMA = ASSET_SCHEMA.set(
    ASSET_SCHEMA.get_field_index("raw"), pa.field("raw", pa.string(), nullable=False)
)


def raw_is_json(batch: pa.RecordBatch) -> bool:
    i = batch.schema.get_field_index("raw")
    return i >= 0 and isinstance(batch.schema.field(i).type, pa.JsonType)


def combined(pages: Sequence[PageBatch], schema: pa.Schema, rejects: bool) -> pa.Table:
    """The pages' batches as one table in `schema`, plus run and stream ids.

    Copied into one contiguous chunk when the batches are small: DuckDB scans one big Arrow
    chunk much faster than a hundred small ones (pages of 100 rows: 15 % more of the writer's
    CPU, measured). Batches of about DuckDB's vector size or more (the engine's writer merges
    pages into such batches, `assets_sync.batching`) are scanned as they are, without a copy
    of the whole write beside them at the top of a sync's memory. Column order and nullability
    flags may differ from `schema`; names may not.
    """
    batches: list[pa.RecordBatch] = []
    run_ids: list[str] = []
    stream_ids: list[str] = []
    counts: list[int] = []
    for p in pages:
        batch = p.rejects if rejects else p.assets
        if batch.num_rows == 0:
            continue
        if not batch.schema.equals(schema):
            if set(batch.schema.names) != set(schema.names):
                raise WarehouseError(
                    f"page batch columns {batch.schema.names} do not match the record schema "
                    f"{schema.names}: the engine and the warehouse disagree on assets_sync.schema"
                )
            batch = pa.RecordBatch.from_arrays(
                [
                    batch.column(name).cast(f.type)
                    for name, f in zip(schema.names, schema, strict=True)
                ],
                schema=schema,
            )
        batches.append(batch)
        run_ids.append(p.run_id)
        stream_ids.append(p.stream.stream_id)
        counts.append(batch.num_rows)
    table = pa.Table.from_batches(batches, schema=schema)
    if len(batches) > 1 and table.num_rows < len(batches) * _SCAN_ROWS:
        table = table.combine_chunks()
    table = table.append_column("_run_id", _repeated(run_ids, counts))
    return table.append_column("_stream_id", _repeated(stream_ids, counts))


def _repeated(values: Sequence[str], counts: Sequence[int]) -> pa.ChunkedArray:
    """`values[i]` repeated `counts[i]` times, in order, as one string column."""
    return pa.chunked_array(
        [pa.repeat(pa.scalar(v, pa.string()), n) for v, n in zip(values, counts, strict=True)],
        pa.string(),
    )
