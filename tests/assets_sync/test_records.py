"""Typed page decoding: the hot path gives exactly the rows, ids and stamps of the general one."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import assets_sync.normalize as normalize_module
from assets_sync.client import _parse_page
from assets_sync.errors import InvalidResponseError
from assets_sync.normalize import normalize
from assets_sync.records import TypedRecords, decode_page, record_ids, record_stamps, select
from tests.assets_sync.fakeapi import make_asset
from tests.assets_sync.test_normalize import iso

#: What orjson writes and reads back unchanged: the bodies here are orjson's, like the
#: emulator's, so a record's bytes in the body are exactly `orjson.dumps` of it.
wide = st.integers(-(2**63), 2**64 - 1)
json_value = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        wide,
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=6),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=5,
)
text = st.one_of(st.none(), st.text(max_size=6))
integer = st.one_of(st.none(), st.integers(-(2**31), 2**31 - 1), wide)
stamp = st.one_of(
    iso,
    st.sampled_from(
        [
            "2024-05-01T12:00:00.123456Z",  # sub-millisecond digits are floored
            "2024-05-01T12:00:00+02:00",
            "2024-05-01T12:00:00",  # no offset: UTC
            "2024-05-01",
            "2024-02-30T00:00:00Z",  # not a date
            "",
            "now",
        ]
    ),
)
strings = st.one_of(st.none(), st.lists(st.text(max_size=4), max_size=3))


def record_of(wrong: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Records whose every field is well typed, or (with `wrong` not empty) sometimes not."""

    def field(s: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return st.one_of(s, wrong)

    meta = st.fixed_dictionaries(
        {},
        optional={
            **{k: field(text) for k in ("type", "parentId", "rootParentId", "name")},
            **{k: field(text) for k in ("inferenceId", "modelId")},
            **{k: field(integer) for k in ("width", "height", "size")},
            "thumbnail": json_value,  # not read: any value
        },
    )
    props = st.fixed_dictionaries(
        {}, optional={k: field(integer) for k in ("width", "height", "size")}
    )
    return st.fixed_dictionaries(
        {"id": field(st.text(max_size=6)), "updatedAt": field(stamp)},
        optional={
            "createdAt": field(st.one_of(st.none(), stamp)),
            "ownerId": field(st.one_of(text, st.just("proj_a"))),
            **{k: field(text) for k in ("authorId", "kind", "source", "mimeType", "status")},
            **{k: field(text) for k in ("privacy", "url", "name")},
            "tags": field(strings),
            "collectionIds": field(strings),
            "metadata": field(st.one_of(st.none(), meta)),
            "properties": field(st.one_of(st.none(), props)),
            "surprise": json_value,
        },
    )


clean_record = record_of(st.nothing())
mixed_record = record_of(json_value)
token = st.one_of(st.none(), st.just(""), st.text(min_size=1, max_size=5))


def body_of(records: list[Any], next_token: Any = None) -> bytes:
    return orjson.dumps({"assets": records, "nextPaginationToken": next_token})


def assert_same_rows(typed: TypedRecords, dicts: list[Any], project_id: str | None) -> None:
    fast_assets, fast_rejects = normalize(typed, project_id)
    assets, rejects = normalize(dicts, project_id)
    assert fast_assets.equals(assets)
    assert fast_rejects.equals(rejects)


@settings(max_examples=200, deadline=None)
@given(
    clean=st.lists(clean_record, max_size=6),
    mixed=st.lists(mixed_record, max_size=6),
    use_mixed=st.booleans(),
    next_token=token,
    project_id=st.sampled_from([None, "proj_s"]),
)
def test_a_typed_page_gives_the_rows_ids_and_stamps_of_the_general_path(
    clean: list[dict[str, Any]],
    mixed: list[dict[str, Any]],
    use_mixed: bool,
    next_token: str | None,
    project_id: str | None,
) -> None:
    records = mixed if use_mixed else clean
    body = body_of(records, next_token)
    decoded = decode_page(body)
    if decoded is None:
        assert use_mixed, "a well-typed page must take the typed path"
        return
    typed, got_token = decoded
    assert got_token == (next_token or None)
    dicts = orjson.loads(body)["assets"]
    assert list(typed) == dicts
    assert record_ids(typed) == record_ids(dicts)
    for field in ("updatedAt", "createdAt"):
        assert record_stamps(typed, field) == record_stamps(dicts, field)
    assert_same_rows(typed, dicts, project_id)
    keep = list(range(0, len(records), 2))
    chosen = select(typed, keep)
    assert isinstance(chosen, TypedRecords)
    typed.updated_ms()  # a selection of a page whose stamps were parsed keeps them
    assert record_stamps(select(typed, keep), "updatedAt") == record_stamps(chosen, "updatedAt")
    assert_same_rows(chosen, select(dicts, keep), project_id)  # type: ignore[arg-type]


def test_a_well_typed_page_is_built_without_the_general_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    records = [make_asset(i, 1_700_000_000_000 + i) for i in range(5)]
    records[1]["metadata"] = None
    records[2]["properties"] = {"width": None}
    records[2]["metadata"]["width"] = 64
    records[3]["name"] = "top-level name"
    decoded = decode_page(body_of(records, "next"))
    assert decoded is not None
    expected = normalize(records, None)

    def general_path(*args: Any) -> Any:
        raise AssertionError("the typed page went the general way")

    monkeypatch.setattr(normalize_module, "_normalize", general_path)
    assets, rejects = normalize(decoded[0], None)
    assert assets.equals(expected[0]) and rejects.num_rows == 0
    assert assets.column("name")[3].as_py() == "top-level name"
    assert assets.column("width")[2].as_py() == 64  # metadata's width when properties has none


@pytest.mark.parametrize(
    ("change", "typed_page", "reason"),
    [
        ({"properties": {"width": 1024.0}}, False, None),  # converted by the general path
        ({"kind": 7}, False, None),
        ({"metadata": ["not", "an", "object"]}, False, "metadata is a list"),
        ({"updatedAt": None}, False, "no updatedAt"),
        ({"id": ""}, True, "no id"),
        ({"updatedAt": "2024-02-30T00:00:00Z"}, True, "updatedAt is not a date"),
        ({"createdAt": "yesterday"}, True, "createdAt is not a date"),
        ({"properties": {"size": 2**63}}, True, "size out of range"),
        ({"properties": {"width": 2**31}}, True, "width out of range"),
    ],
)
def test_a_record_off_the_typed_shape_sends_its_page_the_general_way(
    change: dict[str, Any], typed_page: bool, reason: str | None
) -> None:
    records = [make_asset(i, 1_700_000_000_000 + i) for i in range(3)]
    records[1].update(change)
    body = body_of(records)
    decoded = decode_page(body)
    assert (decoded is not None) == typed_page
    page = _parse_page(body, _headers(), (), 1)
    assets, rejects = normalize(page.assets, None)
    assert assets.num_rows + rejects.num_rows == 3
    if reason is None:
        assert assets.num_rows == 3
    else:
        assert rejects.num_rows == 1
        assert reason in rejects.column("reason")[0].as_py()
        assert json.loads(rejects.column("raw")[0].as_py()) == records[1]


def test_raw_is_the_record_as_received_and_the_sequence_reads_as_dicts() -> None:
    records = [make_asset(i, 1_700_000_000_000 + i) for i in range(3)]
    records[0]["name"] = "héros ✓"
    pretty = json.dumps({"assets": records}, indent=2, ensure_ascii=False).encode()
    decoded = decode_page(pretty)
    assert decoded is not None
    typed, next_token = decoded
    assert next_token is None
    assert len(typed) == 3 and typed[0] == records[0] and typed[1:] == records[1:]
    assert typed.dicts() == records
    assets, _ = normalize(typed, None)
    raws = assets.column("raw").storage.to_pylist()
    assert [json.loads(r) for r in raws] == records
    assert "\n" in raws[0] and "héros ✓" in raws[0]  # the server's bytes, whitespace and all
    assert assets.column("name")[0].as_py() == "héros ✓"


def test_numbers_orjson_refuses_in_fields_not_read_neither_fail_nor_change_the_page() -> None:
    good = orjson.dumps(make_asset(1, 1_700_000_000_000))
    wide = good[:-1] + b',"huge":118059162071741130342400,"far":1e999}'
    body = b'{"assets":[' + wide + b"]}"
    decoded = decode_page(body)
    assert decoded is not None  # orjson alone refused this page: "invalid JSON"
    assets, rejects = normalize(decoded[0], None)
    assert rejects.num_rows == 0
    assert assets.column("raw")[0].as_py() == wide.decode()  # kept as the server wrote it
    no_id = wide.replace(b'"id":"asset_00000001"', b'"id":""')
    decoded = decode_page(b'{"assets":[' + no_id + b"," + good + b"]}")
    assert decoded is not None
    assets, rejects = normalize(decoded[0], None)  # the general path, for the empty id
    assert assets.num_rows == 1 and rejects.column("reason").to_pylist() == ["no id"]
    assert decoded[0][0]["far"] == float("inf")


def test_a_body_that_is_not_utf8_is_left_to_orjson_which_rejects_it() -> None:
    body = body_of([make_asset(1, 1_700_000_000_000)]).replace(b'"kind"', b'"k\xffnd"')
    assert decode_page(body) is None
    with pytest.raises(InvalidResponseError, match="invalid JSON"):
        _parse_page(body, _headers(), (), 1)


def test_surrogate_escapes_are_left_to_orjson_which_checks_them() -> None:
    record = orjson.dumps(make_asset(1, 1_700_000_000_000))[:-1]
    pair = b'{"assets":[' + record + b',"note":"\\ud83d\\ude00"}]}'
    lone = b'{"assets":[' + record + b',"note":"\\uD800"}]}'
    assert decode_page(pair) is None and decode_page(lone) is None
    page = _parse_page(pair, _headers(), (), 1)
    assert page.assets[0]["note"] == "\U0001f600"
    with pytest.raises(InvalidResponseError, match="invalid JSON"):
        _parse_page(lone, _headers(), (), 1)


def test_bodies_without_an_assets_list_are_left_to_orjson() -> None:
    for body in (b"[]", b'{"assets": {}}', b"{}", b"<html>", b'{"assets": [1]}'):
        assert decode_page(body) is None
    page = _parse_page(b'{"assets": [1]}', _headers(), (), 1)
    assert list(page.assets) == [1]


def _headers() -> Any:
    from assets_sync._lean_httpx import httpx

    return httpx.Headers({"Content-Type": "application/json"})
