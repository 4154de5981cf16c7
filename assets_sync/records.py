"""A page's records, decoded for the hot path: typed fields, and each record's JSON as received.

Why: the fetch thread is a full sync's critical path, and it holds the GIL for all its work.
orjson built a dict of every field of every record (1.9 us per record of the emulator's 1.3 KB),
pagination parsed each `updatedAt`, normalization read the dicts value by value into columns
and serialized each record back to JSON for `raw` (4.4 us): 6.7 us per record on the dev box.
Here msgspec decodes the page twice, both in C: into `_Asset` structs holding only the fields
the engine reads (the rest is skipped, not built), and into the bytes of each record exactly as
received (`msgspec.Raw`), which become the `raw` column without a copy per record and without
serializing anything again (`normalize._typed_columns`). `updatedAt` is parsed once, for the
paginator and the row alike.

The typed shape is the well-typed record: `id` and `updatedAt` strings, the text fields strings
or null, `width`/`height`/`size` integers or null, `tags`/`collectionIds` lists of strings or
null, `metadata`/`properties` objects or null. A page any record of which does not fit it (a
number where text is expected, a missing `updatedAt`, a non-object `metadata`, ...) or whose
body is not UTF-8 is decoded by orjson into dicts instead (`decode_page` returns None): the
general path, which converts or rejects records one by one with a reason. Values that fit the
shape but not the columns (an empty `id`, an unparseable date, an integer out of range) make
normalization fall back to the same general path for the page. So both paths give the same rows
for every page (a Hypothesis property in `tests/assets_sync/test_records.py`), except `raw`,
which here is the server's bytes for the record (the same object; orjson's output for the
emulator, byte for byte).

`TypedRecords` is also a sequence of dicts (decoded from `raw` when asked), so code written for
the general path (planning's first-page peek, tests) reads it unchanged.
"""

from __future__ import annotations

import array
import itertools
import json
import re
from collections.abc import Iterator, Sequence
from typing import Any, overload

import msgspec
import orjson
import pyarrow as pa

from assets_sync.windows import parse_iso_ms

#: A page's records as the paginator and normalization see them: dicts (the general path) or
#: typed records.
Records = Sequence[Any]


class _Meta(msgspec.Struct):
    type: str | None = None
    parentId: str | None = None
    rootParentId: str | None = None
    inferenceId: str | None = None
    modelId: str | None = None
    name: str | None = None
    width: int | None = None
    height: int | None = None
    size: int | None = None


class _Props(msgspec.Struct):
    width: int | None = None
    height: int | None = None
    size: int | None = None


class _Asset(msgspec.Struct):
    id: str
    updatedAt: str
    createdAt: str | None = None
    ownerId: str | None = None
    authorId: str | None = None
    kind: str | None = None
    source: str | None = None
    mimeType: str | None = None
    status: str | None = None
    privacy: str | None = None
    url: str | None = None
    name: str | None = None
    tags: list[str] | None = None
    collectionIds: list[str] | None = None
    metadata: _Meta | None = None
    properties: _Props | None = None


class _TypedPage(msgspec.Struct):
    assets: list[_Asset]
    nextPaginationToken: str | None = None


class _RawPage(msgspec.Struct):
    assets: list[msgspec.Raw]


_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")
_TYPED = msgspec.json.Decoder(_TypedPage)
_RAW = msgspec.json.Decoder(_RawPage)
EMPTY_META = _Meta()
EMPTY_PROPS = _Props()


def _ms(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return parse_iso_ms(text)
    except (ValueError, OverflowError):
        return None


def _loads(raw: msgspec.Raw) -> dict[str, Any]:
    """A record as a dict. orjson refuses a number beyond a double (`1e999`), which msgspec
    skipped over in a field it does not read; the standard library reads it (as infinity)."""
    record: dict[str, Any]
    try:
        record = orjson.loads(memoryview(raw))
    except orjson.JSONDecodeError:
        record = json.loads(bytes(raw))
    return record


class TypedRecords(Sequence[dict[str, Any]]):
    """The records of one page (or a selection of them): typed fields plus raw JSON bytes."""

    __slots__ = ("_updated", "assets", "raws")

    def __init__(
        self, assets: list[_Asset], raws: list[msgspec.Raw], updated: list[int | None] | None
    ) -> None:
        self.assets = assets
        self.raws = raws
        self._updated = updated

    def __len__(self) -> int:
        return len(self.assets)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(index, slice):
            return [_loads(r) for r in self.raws[index]]
        return _loads(self.raws[index])

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return map(_loads, self.raws)

    def dicts(self) -> list[dict[str, Any]]:
        """The records as the general path's dicts."""
        return list(map(_loads, self.raws))

    def ids(self) -> list[str]:
        return [a.id for a in self.assets]

    def updated_ms(self) -> list[int | None]:
        """`updatedAt` of each record in ms, None where it is not a date (parsed once)."""
        if self._updated is None:
            self._updated = [_ms(a.updatedAt) for a in self.assets]
        return self._updated

    def stamps(self, field: str) -> list[int | None]:
        """The `updatedAt` or `createdAt` of each record in ms, None where it is no date."""
        if field == "updatedAt":
            return self.updated_ms()
        if field == "createdAt":
            return [_ms(a.createdAt) for a in self.assets]
        raise ValueError(f"no typed time field {field!r}")

    def take(self, indices: Sequence[int]) -> TypedRecords:
        """The records at `indices`, in that order."""
        updated = self._updated
        return TypedRecords(
            [self.assets[i] for i in indices],
            [self.raws[i] for i in indices],
            None if updated is None else [updated[i] for i in indices],
        )

    def raw_column(self) -> tuple[int, bytes, array.array[int]]:
        """(count, data, offsets): the records' JSON back to back and the int32 offsets of an
        Arrow string array over them (one join, no copy per record)."""
        data = b"".join(self.raws)
        offsets = array.array("i", [0])
        offsets.extend(itertools.accumulate(map(len, self.raws)))
        return len(self.raws), data, offsets


def decode_page(body: bytes) -> tuple[TypedRecords, str | None] | None:
    """(records, next token) of a page body, or None when it does not fit the typed shape.

    None is not an error: the caller decodes the body with orjson, which reports what is wrong
    with it (not JSON, no `assets` list) or hands its records to the general path.
    """
    if len(body) >= 2**31:  # beyond the int32 offsets of Arrow strings (`raw`)
        return None
    if not body.isascii() and not _utf8(body):
        return None  # msgspec does not check the UTF-8 it skips; Arrow and DuckDB need it valid
    if b"\\" in body and _SURROGATE.search(body):
        # Nor the escapes: a lone surrogate (`"\\ud800"`) in a field it skips would reach the
        # warehouse as JSON DuckDB cannot read. orjson checks them (and reads valid pairs).
        return None
    try:
        typed = _TYPED.decode(body)
        raws = _RAW.decode(body).assets
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    if len(raws) != len(typed.assets):
        return None
    return TypedRecords(typed.assets, raws, None), typed.nextPaginationToken or None


def _utf8(body: bytes) -> bool:
    """Whether `body` is UTF-8. Arrow checks a 130 KB page in 8 us, `bytes.decode` in 220 us.
    (Costs of this size matter here: `b"\\ud" in body` took 150 us a page, which is why
    `decode_page` looks for a backslash first, one `memchr`, and only then for an escape.)"""
    offsets = array.array("i", [0, len(body)])
    text = pa.StringArray.from_buffers(1, pa.py_buffer(offsets), pa.py_buffer(body))
    try:
        text.validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def record_ids(records: Records) -> list[str | None]:
    """Each record's usable id (a non-empty string), else None."""
    if isinstance(records, TypedRecords):
        return [i or None for i in records.ids()]
    return [_dict_id(r) for r in records]


def record_stamps(records: Records, field: str) -> list[int | None]:
    """Each record's `field` in ms, None where it has none or it is not a date."""
    if isinstance(records, TypedRecords):
        return records.stamps(field)
    return [_dict_stamp(r, field) for r in records]


def select(records: Records, indices: Sequence[int]) -> Records:
    """The records at `indices`, in the same representation."""
    if isinstance(records, TypedRecords):
        return records.take(indices)
    return [records[i] for i in indices]


def _dict_id(record: Any) -> str | None:
    value = record.get("id") if type(record) is dict else None
    return value if type(value) is str and value else None


def _dict_stamp(record: Any, key: str) -> int | None:
    if type(record) is not dict:
        return None
    value = record.get(key)
    return _ms(value) if type(value) is str else None
