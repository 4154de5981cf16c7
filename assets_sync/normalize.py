"""Raw asset objects -> one `ASSET_SCHEMA` record batch plus one `REJECT_SCHEMA` batch.

Guarantees, for ANY input list:

- no exception: every element becomes exactly one row, either an asset or a reject;
- an asset row has a non-empty string `id` and an `updated_at` parsed from `updatedAt`;
  `raw` is the whole object, unknown fields kept: its bytes as received for `TypedRecords`
  (`assets_sync.records`, the client's pages), else the dict serialized back to JSON (orjson);
- a reject row carries the reason and the record as JSON (best effort `asset_id`);
- unknown asset types and unknown fields are never reasons to reject.

Reasons to reject (the record cannot be loaded faithfully): not an object; no usable `id`;
`updatedAt` missing or not a date; `createdAt` present but not a date; `metadata` or
`properties` not an object; `tags`/`collectionIds` not lists of strings; width, height or size
not integers in range; a text column holding an object or a list.

Columns are built column-wise (one Python list per column, one `pa.array` each), which is
several times faster than building rows.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from typing import Any

import orjson
import pyarrow as pa

from assets_sync.errors import RejectedRecordError
from assets_sync.records import EMPTY_META, EMPTY_PROPS, Records, TypedRecords
from assets_sync.schema import ASSET_SCHEMA, JSON_TEXT, REJECT_SCHEMA, empty_rejects
from assets_sync.windows import parse_iso_ms

_STRINGS = pa.list_(pa.string())

_fromiso = datetime.fromisoformat
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_NAIVE = datetime(1970, 1, 1)
_MS = timedelta(milliseconds=1)

_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)

_I32_LO, _I32_HI = _INT32
_I64_LO, _I64_HI = _INT64

#: Text columns read from the top level, and the API key of each.
_TOP_COLUMNS = ("owner_id", "author_id", "kind", "source", "mime_type", "status", "privacy", "url")
_TOP_KEYS = ("ownerId", "authorId", "kind", "source", "mimeType", "status", "privacy", "url")
#: Text columns read from `metadata`, and the key of each.
_META_COLUMNS = ("type", "parent_id", "root_id", "inference_id", "model_id")
_META_KEYS = ("type", "parentId", "rootParentId", "inferenceId", "modelId")
#: The same columns read from typed records (`_typed_batch`).
_TOP_GETTERS = tuple((c, attrgetter(k)) for c, k in zip(_TOP_COLUMNS, _TOP_KEYS, strict=True))
_META_GETTERS = tuple((c, attrgetter(k)) for c, k in zip(_META_COLUMNS, _META_KEYS, strict=True))
#: ASSET_SCHEMA's names and types (pyarrow makes new Field objects on every iteration).
_FIELDS = tuple((f.name, f.type) for f in ASSET_SCHEMA)
#: The order in which `_row` returns values (every ASSET_SCHEMA column but `raw`).
_COLUMNS = (
    "id",
    *_TOP_COLUMNS,
    *_META_COLUMNS,
    *("name", "project_id", "width", "height", "size_bytes"),
    *("tags", "collection_ids", "created_at", "updated_at"),
)


def _text(record: dict[str, Any], key: str) -> str | None:
    value = record.get(key)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return str(value)
    raise RejectedRecordError(f"{key} is a {type(value).__name__}, expected text")


def _integer(value: Any, key: str, bounds: tuple[int, int]) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise RejectedRecordError(f"{key} is a boolean, expected an integer")
    integral_float = isinstance(value, float) and value.is_integer()
    if integral_float or (isinstance(value, str) and value.strip().isdigit()):
        value = int(value)
    if not isinstance(value, int):
        raise RejectedRecordError(f"{key} is not an integer: {value!r:.40}")
    if not bounds[0] <= value <= bounds[1]:
        raise RejectedRecordError(f"{key} out of range: {value}")
    return value


def _strings(record: dict[str, Any], key: str) -> list[str] | None:
    value = record.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RejectedRecordError(f"{key} is not a list of strings")
    return value


def _object(record: dict[str, Any], key: str) -> dict[str, Any]:
    value = record.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RejectedRecordError(f"{key} is a {type(value).__name__}, expected an object")
    return value


def _timestamp(record: dict[str, Any], key: str, required: bool) -> int | None:
    value = record.get(key)
    if value is None:
        if required:
            raise RejectedRecordError(f"no {key}")
        return None
    if not isinstance(value, str):
        raise RejectedRecordError(f"{key} is a {type(value).__name__}, expected an ISO date")
    try:
        return parse_iso_ms(value)
    except (ValueError, OverflowError) as exc:
        raise RejectedRecordError(f"{key} is not a date: {value[:40]!r}") from exc


def _row(record: Any, project_id: str | None, strict: bool = False) -> list[Any]:
    """The column values of one record in `_COLUMNS` order, or RejectedRecordError.

    This is the engine's hottest loop, so it has two modes. `strict=False` (the common path)
    copies values without checking their types and lets `pa.array` check them: it raises on
    a non-string text, a non-integer or out-of-range width/height/size, a non-string tag.
    `normalize` then redoes the whole page with `strict=True`, which checks every value,
    converts what can be converted (numbers as text, integral floats, digit strings) and
    rejects the rest with a reason. Both modes give the same rows for well-typed records.
    """
    if type(record) is not dict:
        raise RejectedRecordError(f"record is a {type(record).__name__}, expected an object")
    asset_id = record.get("id")
    if type(asset_id) is not str or not asset_id:
        raise RejectedRecordError("no id")
    meta = record.get("metadata")
    if type(meta) is not dict:
        meta = _object(record, "metadata")
    props = record.get("properties")
    if type(props) is not dict:
        props = _object(record, "properties")
    if strict:
        values: list[Any] = [asset_id]
        values.extend(_text(record, key) for key in _TOP_KEYS)
        values.extend(_text(meta, key) for key in _META_KEYS)
        name = _text(meta, "name")
        if name is None:
            name = _text(record, "name")
    else:  # types are checked by pa.array, which raises on anything but str/None
        values = [asset_id, *map(record.get, _TOP_KEYS), *map(meta.get, _META_KEYS)]
        name = meta.get("name")
        if name is None:
            name = record.get("name")
    values.append(name)
    owner = values[1]
    proj = project_id or (owner if type(owner) is str and owner.startswith("proj_") else None)
    values.append(proj)
    width = props.get("width")
    if width is None:
        width = meta.get("width")
    height = props.get("height")
    if height is None:
        height = meta.get("height")
    size = props.get("size")
    if size is None:
        size = meta.get("size")
    if strict:
        width = _integer(width, "width", _INT32)
        height = _integer(height, "height", _INT32)
        size = _integer(size, "size", _INT64)
    values.append(width)
    values.append(height)
    values.append(size)
    tags = record.get("tags")
    collections = record.get("collectionIds")
    if strict or (tags is not None and type(tags) is not list):
        tags = _strings(record, "tags")
    if strict or (collections is not None and type(collections) is not list):
        collections = _strings(record, "collectionIds")
    values.append(tags)
    values.append(collections)
    created = record.get("createdAt")
    updated = record.get("updatedAt")
    created_ms = updated_ms = None
    try:
        if type(updated) is str:
            dt = _fromiso(updated)
            updated_ms = (dt - (_EPOCH if dt.tzinfo else _EPOCH_NAIVE)) // _MS
        if type(created) is str:
            dt = _fromiso(created)
            created_ms = (dt - (_EPOCH if dt.tzinfo else _EPOCH_NAIVE)) // _MS
    except (ValueError, OverflowError):
        updated_ms = None
    if updated_ms is None or (created is not None and created_ms is None):
        created_ms = _timestamp(record, "createdAt", required=False)  # raises with the reason
        updated_ms = _timestamp(record, "updatedAt", required=True)
    values.append(created_ms)
    values.append(updated_ms)
    return values


@functools.cache
def _no_rejects() -> pa.RecordBatch:
    """Built on first use, not at import: any pyarrow conversion imports pandas when it is
    installed, and a program may first opt out of that (`memory.keep_pandas_out_of_pyarrow`)."""
    return empty_rejects()


def _dump(record: Any) -> bytes:
    """The record as JSON bytes. Left as bytes: `pa.array(type=string)` takes UTF-8 bytes
    as they are (orjson only writes valid UTF-8), which saves a decode per record."""
    try:
        return orjson.dumps(record)
    except (TypeError, orjson.JSONEncodeError):
        return orjson.dumps(repr(record))


def normalize(
    records: Records, project_id: str | None = None
) -> tuple[pa.RecordBatch, pa.RecordBatch]:
    """(assets, rejects) for one page. `project_id`: the stream's project, else from ownerId.

    `records`: dicts, or `TypedRecords` (`assets_sync.records`), whose page is built column by
    column from the typed fields when every record fits the columns, and otherwise goes the
    general way below as dicts, with the same rows as a result.
    """
    if isinstance(records, TypedRecords):
        typed = _typed_batch(records, project_id)
        if typed is not None:
            return typed, _no_rejects()
        records = records.dicts()
    try:
        return _normalize(records, project_id, strict=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        # OverflowError: an integer beyond int64 (orjson parses up to 2**64 - 1), which
        # pa.array reports as a Python error rather than an Arrow one.
        return _normalize(records, project_id, strict=True)


def _normalize(
    records: Sequence[Any], project_id: str | None, strict: bool
) -> tuple[pa.RecordBatch, pa.RecordBatch]:
    rows: list[list[Any]] = []
    rej_ids: list[str | None] = []
    rej_reasons: list[str] = []
    rej_raw: list[bytes] = []
    for record in records:
        try:
            row = _row(record, project_id, strict)
        except RejectedRecordError as exc:
            rid = record.get("id") if isinstance(record, dict) else None
            rej_ids.append(rid if isinstance(rid, str) and rid else None)
            rej_reasons.append(str(exc))
            rej_raw.append(_dump(record))
            continue
        row.append(_dump(record))
        rows.append(row)
    # One transpose in C instead of an append per value.
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in range(len(_COLUMNS) + 1)]
    by_name = dict(zip((*_COLUMNS, "raw"), columns, strict=True))
    arrays = [pa.array(by_name[f.name], type=f.type) for f in ASSET_SCHEMA]
    assets = pa.RecordBatch.from_arrays(arrays, schema=ASSET_SCHEMA)
    if not rej_ids:
        return assets, _no_rejects()
    rejects = pa.RecordBatch.from_arrays(
        [
            pa.array(rej_ids, type=pa.string()),
            pa.array(rej_reasons, type=pa.string()),
            pa.array(rej_raw, type=pa.string()),
        ],
        schema=REJECT_SCHEMA,
    )
    return assets, rejects


def _typed_batch(records: TypedRecords, project_id: str | None) -> pa.RecordBatch | None:
    """The page's `ASSET_SCHEMA` batch from typed records, or None when a record needs the
    general path: an empty id, a date that does not parse, an integer beyond its column.

    The typed shape (`records._Asset`) already holds only strings, integers, lists of strings
    or nulls where `_row` would check for them, so the values are only copied into columns;
    `pa.array` refuses what is out of range. `raw` is the records' bytes as received, one
    Arrow string array over their concatenation.
    """
    assets = records.assets
    ids = [a.id for a in assets]
    updated = records.updated_ms()
    if not all(ids) or None in updated:
        return None
    created: list[int | None] = []
    for a in assets:
        text = a.createdAt
        if text is None:
            created.append(None)
            continue
        try:
            created.append(parse_iso_ms(text))
        except (ValueError, OverflowError):
            return None
    metas = [EMPTY_META if a.metadata is None else a.metadata for a in assets]
    props = [EMPTY_PROPS if a.properties is None else a.properties for a in assets]
    values = {c: list(map(get, assets)) for c, get in _TOP_GETTERS}
    values.update({c: list(map(get, metas)) for c, get in _META_GETTERS})
    owners = values["owner_id"]
    values.update(
        id=ids,
        project_id=[project_id] * len(assets)
        if project_id
        else [o if o is not None and o.startswith("proj_") else None for o in owners],
        name=[a.name if m.name is None else m.name for a, m in zip(assets, metas, strict=True)],
        width=_first(props, metas, "width"),
        height=_first(props, metas, "height"),
        size_bytes=_first(props, metas, "size"),
        tags=[a.tags for a in assets],
        collection_ids=[a.collectionIds for a in assets],
        created_at=created,
        updated_at=updated,
    )
    n, data, offsets = records.raw_column()
    text = pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))
    raw = pa.ExtensionArray.from_storage(JSON_TEXT, text)
    try:
        columns = [raw if c == "raw" else pa.array(values[c], type_) for c, type_ in _FIELDS]
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return None
    return pa.RecordBatch.from_arrays(columns, schema=ASSET_SCHEMA)


def _first(props: list[Any], metas: list[Any], key: str) -> list[int | None]:
    """`properties.<key>`, else `metadata.<key>`, of each record (as `_row` reads them)."""
    get = attrgetter(key)
    return [m if p is None else p for p, m in zip(map(get, props), map(get, metas), strict=True)]
