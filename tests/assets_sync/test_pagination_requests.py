"""What an incremental sync costs in requests, against the emulator over real HTTP.

The story of issue 7 (target 5), small: after a full sync, spread changes (admin updates of 10
assets, one ms each) and then one bulk edit of 1,000 assets sharing one `updatedAt` ms, a tie
group ten pages long. The cost model of `assets_sync/pagination.py`, asserted request by
request: the spread changes cost their pages plus the re-read of each page's last millisecond;
the group costs the page that meets it and two passes of 10 requests (the second proves the
first skipped nothing under offset tokens); the seek after it asks `updatedAfter = T`, strictly
after the group, which is never read a third time. Under keyset tokens the same story costs
one request per page of changes: one seek, then the query's own tokens, followed (no overlap,
no second pass). Every changed asset arrives in both.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from assets_sync.auth import BasicAuth, SecretStr
from assets_sync.client import AssetsClient, Page, Params, PendingPage
from assets_sync.config import ApiSettings
from assets_sync.emulator import Emulator, EmulatorConfig, TokenMode
from assets_sync.engine import SyncConfig, run_sync
from assets_sync.memory_sink import MemorySink
from assets_sync.ratelimit import NoLimit
from assets_sync.retry import FAST_RETRY
from assets_sync.sink import StreamKey
from assets_sync.windows import parse_iso_ms

KEY, SECRET = "req-key", "req-secret"
STREAM = StreamKey(None)
CONFIG = SyncConfig(settle_lag_ms=0)  # the default 15 min lookback: one slice, one stream
BULK, SPREAD_CALLS, PER_CALL = 1_000, 25, 10


class RecordingClient(AssetsClient):
    """The real client, keeping the query of every page it fetched."""

    def __init__(self, settings: ApiSettings) -> None:
        super().__init__(settings, retry=FAST_RETRY, limiter=NoLimit())
        self.queries: list[dict[str, str]] = []

    def list_page(
        self, params: Mapping[str, str] | Params, sent: PendingPage | None = None
    ) -> Page:
        self.queries.append(dict(params.items() if isinstance(params, Mapping) else params))
        return super().list_page(params, sent)


def _changes_then_incremental(
    token_mode: TokenMode,
) -> tuple[set[str], set[str], dict[str, dict[str, object]], MemorySink, RecordingClient, int]:
    """Full sync, spread changes, one bulk edit, then the incremental under test."""
    config = EmulatorConfig(
        assets=2_000, seed=11, token_mode=token_mode, api_key=KEY, api_secret=SECRET
    )
    with Emulator(config) as emu:
        settings = ApiSettings(
            base_url=emu.base_url, credentials=BasicAuth(SecretStr(KEY), SecretStr(SECRET))
        )
        client = RecordingClient(settings)
        with client:
            sink = MemorySink()
            run_sync(client, sink, STREAM, CONFIG)
            spread = {i for _ in range(SPREAD_CALLS) for i in emu.update(n=PER_CALL)}
            bulk = set(emu.update(n=BULK))
            client.queries.clear()
            report = run_sync(client, sink, STREAM, CONFIG)
        truth = {a["id"]: a for a in emu.truth()}
    assert report.counts.requests == len(client.queries)
    return bulk, spread, truth, sink, client, report.counts.tie_groups


def _check_arrived(
    bulk: set[str], spread: set[str], truth: dict[str, dict[str, object]], sink: MemorySink
) -> int:
    stamps = {parse_iso_ms(str(truth[i]["updatedAt"])) for i in bulk}
    assert len(stamps) == 1  # one bulk edit: one ms
    (t,) = stamps
    changed = bulk | spread
    for i in changed:
        assert sink.current[i] == parse_iso_ms(str(truth[i]["updatedAt"])), i
    return t


def test_offset_tokens_bulk_edit_larger_than_a_page_plus_spread_changes() -> None:
    bulk, spread, truth, sink, client, tie_groups = _changes_then_incremental("offset")
    t = _check_arrived(bulk, spread, truth, sink)
    queries = client.queries
    is_tie = [parse_iso_ms(q["updatedBefore"]) == t + 1 for q in queries]
    tie = [q for q, x in zip(queries, is_tie, strict=True) if x]
    seeks = [q for q, x in zip(queries, is_tie, strict=True) if not x]
    assert all(parse_iso_ms(q["updatedAfter"]) == t - 1 for q in tie)
    assert len(tie) == 2 * math.ceil(BULK / 100)  # two passes of the group, no more
    # the rest of the window is listed from strictly after the group (split off when the group
    # was met: another thread lists it while the group's passes run), and nothing goes back
    starts = [n for n, q in enumerate(seeks) if parse_iso_ms(q["updatedAfter"]) == t]
    assert len(starts) == 1
    assert all(parse_iso_ms(q["updatedAfter"]) >= t for q in seeks[starts[0] :])
    assert all("paginationToken" not in q for q in seeks)
    # seeks: the spread changes in pages of 100 (+1 for each page's re-read last ms, at most
    # one page's worth here), the page that meets the group, the seek after it
    still_spread = len(spread - bulk)
    assert len(seeks) <= math.ceil(still_spread / 100) + 1 + 2
    assert len(queries) <= math.ceil(still_spread / 100) + 3 + 2 * math.ceil(BULK / 100)
    assert tie_groups == 1


def test_keyset_tokens_are_followed_without_overlap_or_second_pass() -> None:
    """Keyset tokens cannot skip: the listing follows them, and meets target 5's bound."""
    bulk, spread, truth, sink, client, tie_groups = _changes_then_incremental("keyset")
    _check_arrived(bulk, spread, truth, sink)
    queries = client.queries
    changed = len(bulk | spread)
    assert len(queries) <= math.ceil(changed / 100) + 2
    assert tie_groups == 0  # the group is listed once, by its tokens
    # one seek, then tokens: every page after the first continues the same query
    assert "paginationToken" not in queries[0]
    first = {k: v for k, v in queries[0].items()}
    for q in queries[1:]:
        assert "paginationToken" in q
        assert {k: v for k, v in q.items() if k != "paginationToken"} == first
