"""`Prefetcher`: a fetch thread's next page on its way while the thread works on the current one.

Over a fast link a page's round trip is short but not free: the server prepares the answer
(the emulator renders 100 assets in ~1 ms of its CPU) while the fetch thread, which asked,
waits; then the thread decodes and normalizes the page while the server waits. With one fetch
thread per fast link (`assets_sync.latency`), those two waits were serial. The paginator knows
the next seek's parameters as soon as it has read a page (`paginate(prefetch=...)`), so the
request goes out then, from the same thread (`AssetsClient.begin_page`: no second thread, no
GIL hand-offs), and its answer is read when the paginator asks for that page. Measured on the
2-core dev box, 1M emulator assets, alternated with the code before: the full sync's work
26.7 / 28.7 s against 30.1 / 30.9 s (benchmarks/RESULTS.md, seventeenth session, item 10).

What the listing sees does not change: a page is taken from the request sent ahead only when
the paginator asks for exactly the parameters sent (the same seek, the same upper bound);
otherwise (the slice was split meanwhile and its bound lowered, the run is stopping) the early
request is abandoned, its connection closed, and the page asked for is fetched as before. An
abandoned request is a request the server served for nothing: it counts in the client's stats.

Nothing is sent ahead while the client's rate limiter paces requests (`wanted`; by default:
slow start still ramping, or a limit learned from the server's 429s). Pages then come
at the limiter's pace whatever the thread does meanwhile, so there is no wait to hide, and
sending ahead only moves when tokens are spent, which is what the limiter measures the
server's rate by. Measured against a 50 req/s emulator: sending ahead until the first 429, or
always, gave 87-88 % of R instead of 93 %. Over a fast link slow start stops binding within
seconds (`RateLimiter.rate` is then unlimited), and the rest of the sync sends ahead.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from assets_sync.client import AssetsClient, Page, Params, PendingPage


class Prefetcher:
    """`fetch` for `paginate` with a `hint` of the next page; one per slice, one thread."""

    def __init__(self, client: AssetsClient, wanted: Callable[[], bool] | None = None) -> None:
        self._client = client
        self._wanted = wanted or (lambda: math.isinf(client.limiter.rate))
        self._pending: PendingPage | None = None
        #: pages taken from a request sent ahead, and requests sent ahead for nothing
        self.used = 0
        self.abandoned = 0

    def hint(self, params: Params) -> None:
        """The next page the paginator will probably ask for: send its request now."""
        self.cancel()
        if self._wanted():
            self._pending = self._client.begin_page(params)

    def __call__(self, params: Params) -> Page:
        query = tuple(params)
        pending, self._pending = self._pending, None
        if pending is not None and pending.query != query:
            self._abandon(pending)
            pending = None
        if pending is not None:
            self.used += 1
        return self._client.list_page(query, sent=pending)

    def cancel(self) -> None:
        """Abandon the request sent ahead, if any (the slice is over)."""
        pending, self._pending = self._pending, None
        if pending is not None:
            self._abandon(pending)

    def _abandon(self, pending: PendingPage) -> None:
        self.abandoned += 1
        pending.abandon()
