"""Seek pagination of one window, which never skips an asset even with OFFSET tokens.

`paginate()` lists the assets of a window `(lo, hi)` (exclusive) sorted ascending by a time
field (`updatedAt` for syncs, `createdAt` for reconcile listings) and yields `Step`s: the new
records of one page plus the cursor that is safe to commit once they are stored.

The scheme, with `c` the cursor: the `<field>After` of the next seek request, and the value
every `Step` reports, so a committed cursor is exactly where a resumed listing starts.

1. Seek: request `(c, hi)`, first page only. Let `L` be the page's largest timestamp. If the
   page holds more than one timestamp, the new cursor is `L - 1`: the next request re-reads
   the instants `>= L`, and the records at `L` already seen are dropped by `(id, timestamp)`.
2. Tie group: if every record of a full page shares one timestamp `L`, seeking cannot move past
   it. Then list exactly `L` (`after = L - 1`, `before = L + 1`) following `paginationToken`,
   in passes, until a pass settles: it returned every id of the pass before it, or it was a
   single request. Then the cursor becomes `L`: the next seek asks `(L, hi)`, strictly after
   the group, which is never read again.
3. Done: a page without a next token (or an empty page) ends the window; the cursor is `hi - 1`.
4. Keyset tokens: if a page's token is a keyset token naming the page's own last record
   (`assets_sync.keyset`: `{"lastKey": {"id", <field>}}`, one of the two shapes the API
   documents), the next request is the same query with that token. The cursor becomes `L - 1`
   (never less than before), ids at `L` stay in the dedupe set, and a page at one timestamp
   is simply followed: no tie-group passes. If the bound moved since the query was asked,
   the listing seeks again from the cursor instead.

Why nothing present throughout the listing is skipped:

- Every seek request starts at offset 0 of a fresh query, so no token is carried across
  requests and offsets cannot shift under us. A request `(c, hi)` returns, sorted, every
  record present at that moment; all records of `(c, L - 1]` come before those at `L`, so they
  are all on the page. Hence after step 1 everything `<= L - 1` has been seen. Progress: the
  page holds two timestamps `> c`, so `L >= c + 2` and the cursor strictly increases.
- In step 2, offset tokens CAN skip: if a record of the group that an earlier page already
  covered leaves the group (updated: its timestamp moves forward; deleted) between two page
  requests of a pass, the offsets of the later records shift down by one and one of them is
  never returned. Claim: if pass k skips a record, pass k+1 lacks an id of pass k.
  Consider the first removal during pass k of a record at a position below the read frontier
  (only those shift unread records into the read region; removals above the frontier do not
  skip anything). Before it, positions below the frontier never moved, so the removed record
  was returned by pass k. It has left the group for good (timestamps only move forward, a
  deleted asset does not come back), so pass k+1 cannot return it.
  Contrapositive: when every id of pass k is also in pass k+1 (new ids in k+1 do not matter),
  pass k skipped nothing, and every record present at `L` throughout pass k was returned.
  A pass of a single request followed no token: like a seek it returned every record at `L`
  present at that moment, so it settles alone (a group of exactly one page, or one that
  shrank to a page). With keyset tokens no pass ever skips (and step 4 has none). Between
  two disagreeing passes we wait a little (doubling, capped), as mutations come in bursts.
  Passes are bounded (`max_tie_passes`); a group that never settles raises
  `UnstableListingError` and the cursor stays BEFORE `L`, so the slice is retried from there
  by the next run.
- The cursor `L` after a settled group: the seek that met the group asked `(c, hi)` and got a
  full page all at `L`, so no record lay in `(c, L)` at that moment (none present throughout
  does), and the settled pass returned every record present at `L` throughout it. So every
  record `<= L` has been seen, and `(L, hi)` (EXCLUSIVE: strictly after `L`) loses nothing.
- Step 4: a keyset token resumes strictly after a (timestamp, id) position in the server's
  order, so a record leaving the listing shifts nothing; the pages of one query, followed,
  return every record present throughout, in order. A page whose last record is `(L, id)`
  therefore ends a listing that has returned every such record `< L`: the cursor `L - 1` is
  safe, and a resumed seek re-reads `L`. A token is trusted only when it names the page's
  last record: an offset token, or a keyset-shaped one naming another record, is sought past
  as in step 1. A keyset token that does not move forward raises `PaginationLoopError`:
  "forward" is judged within one followed query. After a re-seek (the bound moved) the new
  query re-reads the instant `L` from its start, and its pages list again, legitimately,
  ids the listing had before the seek; those are dropped as seen, not taken for a loop.
- Limits (documented, not defended): a record entering the group at the OLD timestamp `L`
  (a late commit) and leaving it again within the same pass, repeatedly; and an API whose order
  inside a tie is not stable between requests (passes then disagree until the bound, which
  fails the slice rather than advancing past `L`).

What a listing costs, and why not less (issue 7, target 5: `ceil(changed / 100) + 2`):

- Spread changes: each seek page re-reads the records of its predecessor's last millisecond
  `L` (1M assets, 10 changed per ms: 751 rows re-read, 107 requests for 9,949 changed where
  the bound is 102). A request that does not start after `L` returns them first again, and
  starting after `L` is safe only if no unseen record at `L` exists. The API gives no count
  and no seek by id, so the only request that returns the rest of `L` without the seen ones
  is the page's token: the naive token follower, which skips a record when one already read
  (in `(c, L]`) is deleted or updated out of the window in between, and nothing short of
  listing those records again shows that (a deleted asset is simply absent). Probing
  `(L - 1, L + 1)` first spends a request to save a few rows.
- A tie group of `N` records larger than a page: the page that met it, two passes of
  `ceil(N / page)` requests (the second proves the first skipped nothing), and the seek after
  it, which starts at `L` (never `L - 1`: the group is not read a third time). The second pass
  cannot be cheaper: the world where pass 1 read `R`, `R` was deleted and the record after a
  page boundary was skipped, and the world where that record never existed give pass 1 the
  same pages; telling them apart takes seeing `R` gone or the skipped record present. `R` may
  be any record of the group, the skip may follow any page boundary, and a listing reaches a
  position only by paging to it from a fresh start: the whole group is listed again.
- So a bulk edit of 10,000 assets in one ms costs 202 requests (1 + 100 + 100 + 1), not 102,
  and spread changes pay their overlap: under offset tokens target 5's bound is out of reach
  for both, and the guarantee is not traded for it.
- Under keyset tokens (step 4) none of that overlap is needed: one request per page of
  changes, `ceil(changed / 100)` plus the last, short or empty page, spread or bulk. The API
  documents tokens as opaque and names both shapes, so a token proves it is keyset by naming
  the page's last record; every other token is treated as one that can skip.

Memory: the dedupe set holds only the ids at the current boundary timestamp (one page, or one
tie group), never the whole window.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from assets_sync.client import Page, Params
from assets_sync.errors import PaginationLoopError, UnseekablePageError, UnstableListingError
from assets_sync.keyset import follows_page
from assets_sync.records import Records, record_ids, record_stamps, select
from assets_sync.windows import Window, format_iso_ms

Fetch = Callable[[Params], Page]


@dataclass(frozen=True)
class SortKey:
    """The time field a listing is sorted and bounded by."""

    field: str
    after: str
    before: str


BY_UPDATED = SortKey("updatedAt", "updatedAfter", "updatedBefore")
BY_CREATED = SortKey("createdAt", "createdAfter", "createdBefore")


@dataclass(frozen=True)
class Step:
    """New records of one page, and the cursor safe to commit once they are stored.

    `cursor_ms`: every record of the window with timestamp `<= cursor_ms` is in this step or an
    earlier one. `done`: the window is exhausted (then `cursor_ms == hi - 1`).
    """

    records: Records
    cursor_ms: int
    done: bool


@dataclass
class PaginationStats:
    """Counters of one window's listing (owned by one thread)."""

    requests: int = 0
    overlap_dropped: int = 0
    tie_groups: int = 0
    tie_passes: int = 0
    keyset_follows: int = 0
    extra: dict[str, int] = field(default_factory=dict)


def paginate(
    fetch: Fetch,
    window: Window,
    cursor_ms: int | None = None,
    *,
    key: SortKey = BY_UPDATED,
    base_params: Params = (),
    page_size: int = 100,
    max_tie_passes: int = 10,
    sleep: Callable[[float], None] = time.sleep,
    stats: PaginationStats | None = None,
    bound: Callable[[], int] | None = None,
    on_tie_group: Callable[[int], object] | None = None,
    prefetch: Callable[[Params], object] | None = None,
) -> Iterator[Step]:
    """Steps listing `window` from `cursor_ms` (default: its start). See the module docstring.

    `bound`: the window's CURRENT exclusive upper bound, read before every seek. The engine
    lowers it when it splits a running slice (`assets_sync.scheduling`); it may only shrink.
    A page asked before the bound moved may hold records beyond it: they are yielded anyway
    (they belong to the split-off slice too, and a replayed record changes nothing), and the
    cursor may then pass `bound() - 1`: the caller clamps it to its slice.

    `on_tie_group(L)`: called when a seek meets a tie group at `L`, before the group's passes.
    The engine lowers `bound` to `L + 1` there and hands `(L, hi)` to another thread; the
    paginator then ends once the group settles, without another seek.

    `prefetch(params)`: called with the next seek's parameters (the bound read then) before a
    seek page's step is yielded, so that its request can go out while the caller works on the
    step (`assets_sync.prefetch`). The next seek still reads the bound again and asks `fetch`
    for its own parameters; a hint is only a hint.
    """
    stats = stats if stats is not None else PaginationStats()
    cursor = window.lo_ms if cursor_ms is None else cursor_ms
    hi = window.hi_ms
    common: Params = (
        *base_params,
        ("sortBy", key.field),
        ("sortDirection", "asc"),
        ("pageSize", str(page_size)),
    )
    boundary_ts: int | None = None  # the timestamp whose ids are in boundary_ids
    boundary_ids: set[str] = set()
    follow: Params | None = None  # the next page of a keyset listing, asked with its token
    follow_hi = hi  # the upper bound of the query `follow` continues
    position: tuple[int, str] | None = None  # where the followed keyset listing stands
    # The ids this keyset listing (since its seek) has listed at `position`'s instant. Not
    # `boundary_ids`: that set also holds what was listed before a re-seek, which the re-read
    # of a tie group lists again, legitimately, across as many followed pages as it spans.
    followed_ids: set[str] = set()
    while True:
        if bound is not None:
            hi = min(hi, bound())
        if cursor >= hi - 1:
            yield Step([], hi - 1, True)
            return
        if follow is not None and follow_hi == hi:
            query = follow
            stats.keyset_follows += 1
        else:  # a fresh seek (also when the bound moved under a keyset listing)
            query, follow_hi, position = _seek(common, key, cursor, hi), hi, None
            followed_ids = set()
        follow = None
        page = fetch(query)
        stats.requests += 1
        stamps = record_stamps(page.assets, key.field)
        ids = record_ids(page.assets)
        keep = [
            i
            for i, ts in enumerate(stamps)
            if ts is None or ts != boundary_ts or ids[i] not in boundary_ids
        ]
        stats.overlap_dropped += len(stamps) - len(keep)
        new = page.assets if len(keep) == len(stamps) else select(page.assets, keep)
        if not page.assets or page.next_token is None:
            yield Step(new, hi - 1, True)
            return
        valid = [ts for ts in stamps if ts is not None]
        if not valid:
            raise UnseekablePageError(
                f"no record of a {len(stamps)}-record page has a parseable {key.field}; "
                "cannot seek past it"
            )
        first, last = min(valid), max(valid)
        if stamps[-1] == last and follows_page(page.next_token, key.field, ids[-1], last):
            # A keyset token naming the page's last record: following it cannot skip, so the
            # next page needs no overlap, and a tie group needs no second pass.
            # Every record of a followed page lies after the previous position: a last record
            # this listing already listed at the same instant, or an earlier instant, means
            # the API loops.
            if position is not None and (
                last < position[0] or (last == position[0] and ids[-1] in followed_ids)
            ):
                raise PaginationLoopError(
                    f"a keyset token did not advance past {format_iso_ms(position[0])}"
                )
            at_last = {i for i, ts in zip(ids, stamps, strict=True) if ts == last and i is not None}
            if position is not None and position[0] == last:
                followed_ids |= at_last
            else:
                followed_ids = set(at_last)
            position = (last, ids[-1] or "")
            follow = (*_without_token(query), ("paginationToken", page.next_token))
            cursor = max(cursor, last - 1)
            if boundary_ts == last:
                boundary_ids |= at_last
            else:
                boundary_ts, boundary_ids = last, at_last
            if prefetch is not None:
                ahead = min(hi, bound()) if bound is not None else hi
                if ahead == follow_hi and cursor < ahead - 1:
                    prefetch(follow)
            yield Step(new, cursor, False)
            continue
        if first == last:  # the whole page is one tie group: list it exactly, in passes
            if on_tie_group is not None:
                on_tie_group(last)
            yield Step(new, cursor, False)
            seen = boundary_ids if boundary_ts == last else set()
            seen.update(
                i for i, ts in zip(ids, stamps, strict=True) if ts == last and i is not None
            )
            yield from _tie_group(
                fetch, common, key, last, cursor, seen, max_tie_passes, stats, sleep
            )
            cursor, boundary_ts, boundary_ids = last, None, set()
            yield Step([], cursor, False)
            continue
        if last - 1 <= cursor:
            raise PaginationLoopError(f"seek did not advance past {format_iso_ms(cursor)}")
        cursor = last - 1
        boundary_ts = last
        boundary_ids = {
            i for i, ts in zip(ids, stamps, strict=True) if ts == last and i is not None
        }
        if prefetch is not None:
            ahead = min(hi, bound()) if bound is not None else hi
            if cursor < ahead - 1:  # the next seek, as the loop will ask for it
                prefetch(_seek(common, key, cursor, ahead))
        yield Step(new, cursor, False)


def _without_token(params: Params) -> Params:
    return tuple(p for p in params if p[0] != "paginationToken")


def _seek(common: Params, key: SortKey, cursor: int, hi: int) -> Params:
    """The parameters of a seek strictly after `cursor` and before `hi`."""
    return (*common, (key.after, format_iso_ms(cursor)), (key.before, format_iso_ms(hi)))


def _tie_group(
    fetch: Fetch,
    common: Params,
    key: SortKey,
    stamp: int,
    cursor: int,
    seen: set[str],
    max_passes: int,
    stats: PaginationStats,
    sleep: Callable[[float], None],
) -> Iterator[Step]:
    """List every record at exactly `stamp` until a pass settles (see the module docstring).

    Yields new records (ids not in `seen`, which it updates) with the cursor unchanged.
    """
    stats.tie_groups += 1
    bounds: Params = (
        (key.after, format_iso_ms(stamp - 1)),
        (key.before, format_iso_ms(stamp + 1)),
    )
    previous: set[str] | None = None
    for n in range(max_passes):
        if n >= 2:  # two passes disagreed: let a burst of mutations pass
            sleep(min(2.0, 0.05 * 2 ** (n - 2)))
        stats.tie_passes += 1
        ids: set[str] = set()
        tokens: set[str] = set()
        token: str | None = None
        requests = 0
        while True:
            params = (
                (*common, *bounds)
                if token is None
                else (*common, *bounds, ("paginationToken", token))
            )
            page = fetch(params)
            stats.requests += 1
            requests += 1
            keep: list[int] = []
            for i, rid in enumerate(record_ids(page.assets)):
                if rid is None:
                    keep.append(i)  # normalization rejects it, with the reason
                    continue
                ids.add(rid)
                if rid in seen:
                    stats.overlap_dropped += 1
                else:
                    seen.add(rid)
                    keep.append(i)
            new = page.assets if len(keep) == len(page.assets) else select(page.assets, keep)
            if new:
                yield Step(new, cursor, False)
            token = page.next_token
            if not page.assets or token is None:
                break
            if token in tokens:
                raise PaginationLoopError(
                    f"the API repeated a pagination token inside the tie group at "
                    f"{format_iso_ms(stamp)}"
                )
            tokens.add(token)
        if requests == 1 or (previous is not None and previous <= ids):
            return  # one fresh request cannot skip; or pass k+1 proves pass k skipped nothing
        previous = ids
    raise UnstableListingError(
        f"the tie group at {format_iso_ms(stamp)} lost ids in each of {max_passes} passes; "
        "the slice stays before it and will be retried"
    )
