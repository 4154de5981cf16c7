"""Recognize a keyset pagination token, the one kind of token a listing can follow safely.

The API documents its tokens as opaque, and says the ones seen in the wild are base64 JSON of
two shapes (`scenario-assets-api.md`, Response): offset based, `{"offset": 5, "limit": 5}`, and
keyset, `{"lastKey": {"id": ..., "updatedAt": ...}}`. An offset token is evaluated against the
data at the time of the next request, so a record that leaves the listing in between shifts
the later ones and one is skipped (`assets_sync/pagination.py`). A keyset token names a
position, "strictly after this record", which no update or delete can shift.

`keyset_position` trusts a token only when it proves itself: it decodes to exactly the keyset
shape, and its key names the page's own last record (the same id and the same sort-field
millisecond). Anything else (an offset token, another shape, a key naming some other record,
garbage) is `None`, and the caller treats the token as one that can skip.
"""

from __future__ import annotations

import base64
import binascii
import json

from assets_sync.windows import parse_iso_ms


def keyset_position(token: str, field: str) -> tuple[int, str] | None:
    """`(timestamp_ms, id)` a keyset `token` resumes after, or None if it is not one.

    `field`: the listing's sort field (`updatedAt` or `createdAt`); a key on another field is
    not a position in this listing. Standard and URL-safe base64 are accepted, padded or not.
    """
    if not token or len(token) > 4096:
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
        obj = json.loads(raw)
    except (binascii.Error, ValueError):  # UnicodeDecodeError and JSONDecodeError included
        return None
    if not isinstance(obj, dict) or set(obj) != {"lastKey"}:
        return None
    key = obj["lastKey"]
    if not isinstance(key, dict):
        return None
    ident, stamp = key.get("id"), key.get(field)
    if not isinstance(ident, str) or not ident or not isinstance(stamp, str):
        return None
    try:
        return parse_iso_ms(stamp), ident
    except (ValueError, TypeError, OverflowError):
        return None


def follows_page(token: str, field: str, last_id: str | None, last_ms: int | None) -> bool:
    """Whether `token` is a keyset token resuming right after the page's last record."""
    if last_id is None or last_ms is None:
        return False
    return keyset_position(token, field) == (last_ms, last_id)
