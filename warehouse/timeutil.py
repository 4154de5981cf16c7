"""Milliseconds since the epoch (the `Sink` protocol's unit) <-> aware UTC datetimes (SQL's).

Exact in both directions: integer arithmetic only, no floats.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def ms_to_dt(ms: int | None) -> datetime | None:
    return None if ms is None else EPOCH + timedelta(milliseconds=ms)


def dt_to_ms(dt: datetime | None) -> int | None:
    if dt is None:
        return None
    delta = dt.astimezone(UTC) - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def now_ms() -> int:
    return dt_to_ms(datetime.now(UTC)) or 0
