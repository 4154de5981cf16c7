"""Rolling reconciliation: any N consecutive parts cover every createdAt instant exactly once."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipelines.reconcile import ROLLING_EPOCH_MS, WEEK_MS, rolling_windows


def _covers(window: tuple[int | None, int | None], t: int) -> bool:
    lo, hi = window
    return (lo is None or t > lo) and (hi is None or t < hi)


@given(
    parts=st.integers(min_value=1, max_value=12),
    weeks=st.integers(min_value=0, max_value=300),
    t=st.integers(
        min_value=ROLLING_EPOCH_MS - 10 * WEEK_MS, max_value=ROLLING_EPOCH_MS + 320 * WEEK_MS
    ),
)
def test_parts_partition_time(parts: int, weeks: int, t: int) -> None:
    now = ROLLING_EPOCH_MS + weeks * WEEK_MS + 12345
    hits = sum(
        1
        for part in range(parts)
        for window in rolling_windows(part, parts, now)
        if _covers(window, t)
    )
    assert hits == 1


def test_single_part_is_everything() -> None:
    assert list(rolling_windows(0, 1, 0)) == [(None, None)]


def test_part_out_of_range_is_an_error() -> None:
    with pytest.raises(ValueError, match="rolling part 3"):
        list(rolling_windows(3, 3, ROLLING_EPOCH_MS))
