"""Which slices a run fetches, and how far the watermark may move: pure functions.

A run's target window is covered exactly once by (a) the slices left open or done-but-not-yet-
completed in the stream's ledger, resumed as they are, and (b) new slices for the gaps between
them, split for concurrency. The watermark is the committed frontier: the largest `f` such that
every instant `<= f` is committed, computed from the previous watermark and each slice's
`(lo, cursor]` (`(lo, hi - 1]` when done). Slices below the frontier are removed from the ledger;
done slices beyond a gap stay there (marked done) so a crash never makes them be re-read.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from assets_sync.client import Params
from assets_sync.pagination import Fetch, SortKey
from assets_sync.sink import SliceState
from assets_sync.windows import Window, committed_frontier, parse_iso_ms, split, subtract


def slice_id(window: Window) -> str:
    """Deterministic and readable: two live slices never share a window."""
    return f"{window.lo_ms}-{window.hi_ms}"


def plan_new_slices(
    target: Window, ledger: Sequence[SliceState], max_slices: int, min_slice_ms: int
) -> list[SliceState]:
    """Fresh slices covering the parts of `target` that no ledger slice covers."""
    covered = [Window(s.lo_ms, s.hi_ms) for s in ledger]
    out: list[SliceState] = []
    for gap in subtract(target, covered):
        for w in split(gap, max_slices, min_slice_ms):
            out.append(SliceState(slice_id(w), w.lo_ms, w.hi_ms, w.lo_ms))
    return out


def committed_upto(state: SliceState) -> int:
    """Every instant of the slice `<= this` is committed."""
    return state.hi_ms - 1 if state.done else state.cursor_ms


def frontier(start_ms: int, slices: Iterable[SliceState]) -> int:
    """The committed frontier from `start_ms` (everything `<= start_ms` is committed)."""
    return committed_frontier(start_ms, [(s.lo_ms, committed_upto(s)) for s in slices])


def completable(slices: Iterable[SliceState], frontier_ms: int) -> list[str]:
    """Done slices wholly at or below the frontier: they may leave the ledger."""
    return [s.slice_id for s in slices if s.done and s.hi_ms - 1 <= frontier_ms]


def earliest(fetch: Fetch, key: SortKey, base_params: Params) -> int | None:
    """The smallest `key` timestamp of the stream (one request), or None if it has no asset."""
    page = fetch((*base_params, ("sortBy", key.field), ("sortDirection", "asc"), ("pageSize", "1")))
    for record in page.assets:
        value = record.get(key.field) if isinstance(record, dict) else None
        if isinstance(value, str):
            try:
                return parse_iso_ms(value)
            except ValueError:
                return 0  # unparseable: be conservative, start at the epoch
        return 0
    return None


def stream_params(project_id: str | None, filters: Sequence[tuple[str, str]]) -> Params:
    """The query parameters that scope every request of a stream."""
    base: Params = (("projectId", project_id),) if project_id else ()
    return (*base, *filters)
