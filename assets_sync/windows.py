"""Window arithmetic over integer milliseconds, with the API's EXCLUSIVE bounds.

A `Window(lo, hi)` holds the instants `lo < t < hi`, i.e. the integers `lo+1 .. hi-1`; it is
what `updatedAfter=lo&updatedBefore=hi` selects. The rules that keep every instant covered once:

- Watermark: `W` means every asset with `updatedAt <= W` is committed. A run therefore covers
  `(W - lookback, run_start - settle_lag)` and, when it completes, the new watermark is
  `hi - 1`: the next run's `updatedAfter = W' - lookback` with lookback 0 starts exactly at the
  first instant not yet covered, so nothing at the edge is lost (and nothing is read twice
  except on purpose, the lookback).
- Slicing: adjacent slices share a bound shifted by one, `(lo, b)` then `(b - 1, hi)`, because a
  shared exclusive bound `b` would be excluded by both.
- A first sync without watermark starts at `start_lo` (the caller's configured start, or the
  earliest asset found minus one millisecond).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
#: Largest instant formattable as an ISO date (9999-12-31T23:59:59.999Z).
MAX_MS = 253_402_300_799_999


@dataclass(frozen=True, order=True)
class Window:
    """Instants `lo_ms < t < hi_ms` (both bounds exclusive, as the API's filters)."""

    lo_ms: int
    hi_ms: int

    @property
    def size(self) -> int:
        """How many millisecond instants the window holds."""
        return max(0, self.hi_ms - self.lo_ms - 1)

    def __contains__(self, t: object) -> bool:
        return isinstance(t, int) and self.lo_ms < t < self.hi_ms


def parse_iso_ms(text: str) -> int:
    """Milliseconds since the epoch of an ISO 8601 instant (`2024-05-01T12:00:00.123Z`).

    A missing offset means UTC; sub-millisecond digits are floored. Raises ValueError (or
    TypeError for a non-string) when the text is not a date.
    """
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return (dt - _EPOCH) // _MS


def format_iso_ms(ms: int) -> str:
    """The API's format: `YYYY-MM-DDTHH:MM:SS.mmmZ`, UTC. Inverse of `parse_iso_ms`."""
    dt = _EPOCH + timedelta(milliseconds=ms)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def run_window(
    watermark_ms: int | None,
    lookback_ms: int,
    run_start_ms: int,
    settle_lag_ms: int,
    start_lo_ms: int,
) -> Window:
    """The window of one incremental run (possibly empty: then there is nothing to do)."""
    hi = run_start_ms - settle_lag_ms
    lo = start_lo_ms if watermark_ms is None else watermark_ms - lookback_ms
    return Window(lo, max(lo, hi))


def split(window: Window, n: int, min_size_ms: int = 1) -> list[Window]:
    """Split into at most `n` contiguous windows of at least `min_size_ms` instants each.

    Their union is exactly `window` and they do not overlap: slice i covers the integers
    `[s_i, e_i]` and is expressed as `Window(s_i - 1, e_i + 1)`.
    """
    total = window.size
    if total == 0:
        return []
    parts = max(1, min(n, total // max(1, min_size_ms)))
    first = window.lo_ms + 1
    out: list[Window] = []
    for i in range(parts):
        s = first + total * i // parts
        e = first + total * (i + 1) // parts - 1
        out.append(Window(s - 1, e + 1))
    return out


def subtract(window: Window, covered: Iterable[Window]) -> list[Window]:
    """The parts of `window` not covered by any of `covered`, in order."""
    gaps: list[Window] = []
    cursor = window.lo_ms + 1  # first instant not yet accounted for
    end = window.hi_ms - 1
    for c in sorted(covered):
        if c.size == 0 or c.hi_ms - 1 < cursor:
            continue
        if c.lo_ms + 1 > end:
            break
        if c.lo_ms + 1 > cursor:
            gaps.append(Window(cursor - 1, c.lo_ms + 1))
        cursor = max(cursor, c.hi_ms)
    if cursor <= end:
        gaps.append(Window(cursor - 1, end + 1))
    return gaps


def committed_frontier(start_ms: int, committed: Sequence[tuple[int, int]]) -> int:
    """The largest `f` such that everything `<= f` is committed.

    `start_ms`: everything `<= start_ms` is known committed. `committed`: pairs `(lo, c)`,
    meaning the instants `lo < t <= c` are committed (a slice's lo and cursor). Intervals that
    touch or overlap the frontier extend it; a gap stops it.
    """
    frontier = start_ms
    for lo, c in sorted(committed):
        if lo > frontier:
            break
        frontier = max(frontier, c)
    return frontier
