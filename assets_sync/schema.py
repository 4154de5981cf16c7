"""The Arrow schema of a synced asset: written once here, derived from everywhere else.

The engine normalizes every API page into record batches of `ASSET_SCHEMA`; records that
cannot be loaded go to batches of `REJECT_SCHEMA`. The warehouse derives its tables from
these schemas (it adds only its own bookkeeping columns: `deleted_at`, `first_synced_at`,
`last_synced_at`), so a column added here is a migration there, never a silent drift.

Timestamps are UTC with millisecond precision, which is exactly the API's precision: an
`updated_at` read back from the warehouse compares equal to the string the API sent.
"""

from __future__ import annotations

import pyarrow as pa

TIMESTAMP = pa.timestamp("ms", tz="UTC")
#: JSON text: Arrow's canonical `arrow.json` extension type over UTF-8 strings.
JSON_TEXT = pa.json_(pa.string())

#: Column name -> Arrow type, in warehouse order. `raw` is the API object as received (JSON text).
ASSET_FIELDS: tuple[pa.Field, ...] = (
    pa.field("id", pa.string(), nullable=False),
    pa.field("project_id", pa.string()),
    pa.field("owner_id", pa.string()),
    pa.field("author_id", pa.string()),
    pa.field("kind", pa.string()),
    pa.field("type", pa.string()),
    pa.field("source", pa.string()),
    pa.field("mime_type", pa.string()),
    pa.field("status", pa.string()),
    pa.field("privacy", pa.string()),
    pa.field("name", pa.string()),
    pa.field("url", pa.string()),
    pa.field("width", pa.int32()),
    pa.field("height", pa.int32()),
    pa.field("size_bytes", pa.int64()),
    pa.field("tags", pa.list_(pa.string())),
    pa.field("collection_ids", pa.list_(pa.string())),
    pa.field("parent_id", pa.string()),
    pa.field("root_id", pa.string()),
    pa.field("inference_id", pa.string()),
    pa.field("model_id", pa.string()),
    pa.field("created_at", TIMESTAMP),
    pa.field("updated_at", TIMESTAMP, nullable=False),
    # Typed `arrow.json`: the engine's raw is always JSON (the server's bytes of the record,
    # checked by msgspec, or orjson's output), and DuckDB takes an
    # Arrow JSON column as JSON without parsing every value again (the warehouse validates
    # plain-string raw, `warehouse.incoming.combined`).
    pa.field("raw", JSON_TEXT, nullable=False),
)
ASSET_SCHEMA = pa.schema(ASSET_FIELDS)

#: Lineage columns of ASSET_SCHEMA and the relation name each becomes in `asset_lineage`.
LINEAGE_RELATIONS: dict[str, str] = {
    "parent_id": "parent",
    "root_id": "root",
    "inference_id": "inference",
    "model_id": "model",
}

#: A record the engine could not load: kept whole with the reason, never dropped.
REJECT_SCHEMA = pa.schema(
    [
        pa.field("asset_id", pa.string()),  # best effort: NULL when the record had no usable id
        pa.field("reason", pa.string(), nullable=False),
        pa.field("raw", pa.string(), nullable=False),  # the record as received (JSON text)
    ]
)


def _empty(schema: pa.Schema) -> pa.RecordBatch:
    # Not `from_pylist([])`: that makes pyarrow import pandas (~50 MB of RSS, 0.4 s).
    return pa.RecordBatch.from_arrays([pa.array([], f.type) for f in schema], schema=schema)


def empty_assets() -> pa.RecordBatch:
    return _empty(ASSET_SCHEMA)


def empty_rejects() -> pa.RecordBatch:
    return _empty(REJECT_SCHEMA)
