"""Pagination tokens and ISO timestamps, as the API spells them.

Two token shapes have been seen in the wild and both are served:

- offset: `base64({"offset": 200, "limit": 100})`. The offset is evaluated against the data AT
  THE TIME OF THE NEXT REQUEST, so when rows before it disappear or move to the end, the next
  page starts further along and a client following tokens silently skips rows;
- keyset: `base64({"lastKey": {"id": "asset_..", "updatedAt": "..."}})`: the next page starts
  strictly after that (sort key, id), which no mutation can shift.

Decoding accepts either shape whatever the server's mode (tokens outlive a configuration
change); anything else is a client error (400), never a server error.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import orjson

SORT_FIELDS = ("createdAt", "updatedAt")


class TokenError(ValueError):
    """A paginationToken or date the client sent cannot be understood."""


@dataclass(frozen=True)
class OffsetToken:
    offset: int
    limit: int


@dataclass(frozen=True)
class KeysetToken:
    field: str
    key_ms: int
    asset_id: str


Token = OffsetToken | KeysetToken


def iso_ms(ms: int) -> str:
    """`YYYY-MM-DDTHH:MM:SS.mmmZ`, the API's timestamp format."""
    return str(np.datetime_as_string(np.datetime64(ms, "ms"), unit="ms")) + "Z"


def parse_iso_us(text: str) -> int:
    """Microseconds since the epoch of an ISO-8601 date or datetime (naive means UTC)."""
    try:
        dt = datetime.fromisoformat(text)
    except (ValueError, TypeError) as exc:
        raise TokenError(f"invalid ISO date: {text!r}") from exc
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    delta = dt - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _b64(obj: object) -> str:
    return base64.b64encode(orjson.dumps(obj)).decode("ascii")


def encode_offset(offset: int, limit: int) -> str:
    return _b64({"offset": offset, "limit": limit})


def encode_keyset(field: str, key_ms: int, asset_id: str) -> str:
    return _b64({"lastKey": {"id": asset_id, field: iso_ms(key_ms)}})


def decode(token: str) -> Token:
    """Parse a token of either shape; raise `TokenError` on anything malformed."""
    try:
        padded = token + "=" * (-len(token) % 4)
        raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
        obj = orjson.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise TokenError("invalid paginationToken") from exc
    if isinstance(obj, dict) and "offset" in obj:
        offset, limit = obj.get("offset"), obj.get("limit", 50)
        if (
            isinstance(offset, int) and isinstance(limit, int)
            and not isinstance(offset, bool) and not isinstance(limit, bool)
            and offset >= 0 and 1 <= limit <= 100
        ):  # fmt: skip
            return OffsetToken(offset, limit)
    if isinstance(obj, dict) and isinstance(obj.get("lastKey"), dict):
        last = obj["lastKey"]
        fields = [f for f in SORT_FIELDS if isinstance(last.get(f), str)]
        if isinstance(last.get("id"), str) and len(fields) == 1:
            us = parse_iso_us(last[fields[0]])
            return KeysetToken(fields[0], us // 1000, last["id"])
    raise TokenError("invalid paginationToken")
