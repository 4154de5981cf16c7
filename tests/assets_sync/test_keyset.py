"""Which pagination tokens are trusted as keyset positions (`assets_sync.keyset`)."""

from __future__ import annotations

import base64
import json

from hypothesis import given
from hypothesis import strategies as st

from assets_sync.emulator.tokens import encode_keyset, encode_offset
from assets_sync.keyset import follows_page, keyset_position
from assets_sync.windows import format_iso_ms

STAMP_MS = st.integers(0, 4_102_444_800_000)  # 1970..2100
IDS = st.text("abcdefghijklmnopqrstuvwxyz0123456789_", min_size=1, max_size=30)


def b64(obj: object, urlsafe: bool = False) -> str:
    raw = json.dumps(obj).encode()
    return (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(raw).decode()


@given(stamp=STAMP_MS, ident=IDS, field=st.sampled_from(["updatedAt", "createdAt"]))
def test_the_emulators_keyset_tokens_round_trip(stamp: int, ident: str, field: str) -> None:
    token = encode_keyset(field, stamp, ident)
    assert keyset_position(token, field) == (stamp, ident)
    assert follows_page(token, field, ident, stamp)
    other = "createdAt" if field == "updatedAt" else "updatedAt"
    assert keyset_position(token, other) is None  # a key on another sort is no position here
    assert not follows_page(token, field, ident + "x", stamp)
    assert not follows_page(token, field, ident, stamp + 1)


@given(st.binary(max_size=200) | st.text(max_size=200))
def test_anything_else_is_not_a_keyset_position_and_never_raises(junk: bytes | str) -> None:
    token = junk if isinstance(junk, str) else base64.b64encode(junk).decode()
    position = keyset_position(token, "updatedAt")
    assert position is None or isinstance(position, tuple)


def test_offset_and_other_shapes_are_not_trusted() -> None:
    when = format_iso_ms(1_700_000_000_123)
    assert keyset_position(encode_offset(100, 100), "updatedAt") is None
    for shape in (
        {"lastKey": {"id": "asset_1", "updatedAt": when}, "offset": 3},  # mixed
        {"lastKey": {"id": "asset_1"}},  # no sort key
        {"lastKey": {"id": "", "updatedAt": when}},
        {"lastKey": {"id": 7, "updatedAt": when}},
        {"lastKey": {"id": "asset_1", "updatedAt": "yesterday"}},
        {"lastKey": ["asset_1", when]},
        ["lastKey"],
    ):
        assert keyset_position(b64(shape), "updatedAt") is None, shape
    assert keyset_position("", "updatedAt") is None
    assert keyset_position("%%%", "updatedAt") is None


def test_url_safe_and_unpadded_tokens_are_read() -> None:
    key = {"lastKey": {"id": "asset_~~~>>>", "updatedAt": "2024-05-01T12:00:00.123Z"}}
    for token in (b64(key), b64(key, urlsafe=True), b64(key, urlsafe=True).rstrip("=")):
        position = keyset_position(token, "updatedAt")
        assert position is not None and position[1] == "asset_~~~>>>"
    assert not follows_page(b64(key), "updatedAt", None, None)
