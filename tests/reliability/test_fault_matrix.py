"""The fault matrix: every way the API can misbehave, over real HTTP into a real warehouse.

Each case either RECOVERS (the run succeeds and the warehouse equals the emulator's truth) or
FAILS CLEANLY: a clear error naming the cause, no secret in it, the run recorded as failed,
and the warehouse and watermark as they were before the run (for failures inside a tie group,
whatever was committed is a version the source really served, and the watermark stays put).
A healthy rerun then converges. Faults the emulator injects itself are used as they are; the
others (a chosen `Retry-After`, a repeated token, a 400 on an expired token, a read that never
answers) come from `FaultTransport`, a wrapper around the real HTTP transport.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from assets_sync.emulator import Emulator, EmulatorConfig, Faults
from assets_sync.engine import SyncConfig, run_sync
from assets_sync.errors import (
    ApiRequestError,
    AssetsSyncError,
    AuthError,
    PaginationLoopError,
    RetriesExhaustedError,
)
from assets_sync.retry import FAST_RETRY, RetryPolicy
from assets_sync.windows import parse_iso_ms
from warehouse import open_warehouse

from .support import (
    KEY,
    SECRET,
    STREAM,
    FaultTransport,
    Rule,
    assert_equals_source,
    black_hole,
    client_for,
    json_answer,
    rewrite_body,
    snapshot,
)

#: min_active_fetchers=2: over loopback the gate would narrow to one fetch thread (pages take
#: longer than answers, latency.useful_fetchers); the stories keep two paging at once.
CONFIG = SyncConfig(settle_lag_ms=0, slices=4, concurrency=4, min_active_fetchers=2)
#: For the token-bucket case: honour the server's Retry-After (capped), back off for real.
PATIENT = RetryPolicy(base_delay_s=0.01, max_delay_s=0.2, max_server_hint_s=0.3, max_throttled=40)


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    config = EmulatorConfig(assets=700, seed=21, api_key=KEY, api_secret=SECRET)
    with Emulator(config) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def baseline(emu: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse after one healthy sync; each failure case starts from a copy of it."""
    path = tmp_path_factory.mktemp("baseline") / "wh.duckdb"
    with client_for(emu) as client, open_warehouse(path) as wh:
        run_sync(client, wh, STREAM, CONFIG)
    return path


@pytest.fixture(autouse=True)
def healthy(emu: Emulator) -> Iterator[None]:
    emu.set_faults(Faults())
    yield
    emu.set_faults(Faults())


# -- rules for FaultTransport ------------------------------------------------------------


def every_other(answer: Callable[[], httpx.Response], budget: int = 4) -> Rule:
    """Odd-numbered requests get `answer` until `budget` are spent (then healthy)."""
    spent = {"n": 0}

    def rule(n: int, request: httpx.Request) -> httpx.Response | None:
        if n % 2 == 1 and spent["n"] < budget:
            spent["n"] += 1
            return answer()
        return None

    return rule


def always(answer: Callable[[], httpx.Response]) -> Rule:
    return lambda n, request: answer()


def throttled(
    retry_after: str | None, remaining: float | None = None
) -> Callable[[], httpx.Response]:
    def answer() -> httpx.Response:
        body: dict[str, Any] = {"reason": "Too many requests", "traceId": "t-429"}
        if remaining is not None:
            body["remainingSeconds"] = remaining
        headers = {} if retry_after is None else {"Retry-After": retry_after}
        return json_answer(429, body, headers)

    return answer


def server_error(status: int) -> Callable[[], httpx.Response]:
    return lambda: json_answer(status, {"reason": "upstream failure", "traceId": f"t-{status}"})


def failing_with(status: int, port: int) -> Rule:
    return every_other(server_error(status))


def hangs(port: int, budget: int = 2) -> Rule:
    """Requests 2, 4.. (up to `budget`) go to a server that never answers: a real read timeout."""
    spent = {"n": 0}
    transport = httpx.HTTPTransport()

    def rule(n: int, request: httpx.Request) -> httpx.Response | None:
        if n % 2 == 0 and spent["n"] < budget:
            spent["n"] += 1
            hung = httpx.Request(
                request.method,
                request.url.copy_with(port=port),
                headers=request.headers,
                extensions=request.extensions,
            )
            return transport.handle_request(hung)
        return None

    return rule


def in_tie_group(request: httpx.Request) -> bool:
    return "paginationToken" in request.url.params


def repeated_token() -> Rule:
    """Inside a tie group, the API answers every token with the same token again."""

    def rule(n: int, request: httpx.Request) -> Any:
        if not in_tie_group(request):
            return None
        token = request.url.params["paginationToken"]
        return rewrite_body(lambda body: {**body, "nextPaginationToken": token})

    return rule


def expired_token() -> Rule:
    """Tokens are refused with a 400, as an API whose tokens expire between two pages."""

    def rule(n: int, request: httpx.Request) -> httpx.Response | None:
        if not in_tie_group(request):
            return None
        return json_answer(
            400, {"reason": "Invalid or expired paginationToken", "traceId": "t-expired"}
        )

    return rule


# -- the matrix ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    faults: Faults = field(default_factory=Faults)
    rule: Callable[[int], Rule] | None = None  # built per test (a black-hole port may be given)
    read_timeout_s: float = 10.0
    retry: RetryPolicy = FAST_RETRY
    max_rate: float = 10_000.0
    error: type[AssetsSyncError] | None = None  # None: must recover
    message: str = ""  # a phrase the error text must contain
    tie_group: bool = False  # the failure happens inside a tie group (after some commits)
    secret: str = SECRET


RECOVERS = [
    Case("429 Retry-After 0", rule=lambda p: every_other(throttled("0"))),
    Case("429 Retry-After 1", rule=lambda p: every_other(throttled("1"))),
    Case("429 no Retry-After, remainingSeconds", rule=lambda p: every_other(throttled(None, 1))),
    Case("429 no hint at all", rule=lambda p: every_other(throttled(None))),
    # A huge hint is capped by the policy (it once paused the shared limiter for the full hour).
    Case("429 Retry-After 3600", rule=lambda p: every_other(throttled("3600"))),
    Case(
        "429 Retry-After HTTP date",
        rule=lambda p: every_other(throttled("Wed, 21 Oct 2099 07:28:00 GMT")),
    ),
    Case("429 emulator random", Faults(random_429_rate=0.5, max_faults=6, seed=1)),
    Case(
        "sustained rate limit (token bucket)",
        Faults(rate_limit_rps=20, rate_limit_burst=2),
        retry=PATIENT,
        max_rate=100,
    ),
    *(Case(f"{s}", rule=partial(failing_with, s)) for s in (500, 502, 503, 504)),
    Case("5xx emulator random", Faults(error_5xx_rate=0.5, max_faults=6, seed=2)),
    Case("read timeout (hung upstream)", rule=lambda p: hangs(p), read_timeout_s=0.3),
    Case("dropped connection", Faults(drop_connection_rate=0.5, max_faults=4, seed=3)),
    Case("truncated JSON", Faults(truncated_json_rate=0.5, max_faults=4, seed=4)),
    Case("invalid JSON", Faults(invalid_json_rate=0.5, max_faults=4, seed=5)),
    Case("HTML error page", Faults(html_error_rate=0.5, max_faults=4, seed=6)),
    Case(
        "all faults mixed",
        Faults(
            random_429_rate=0.1,
            error_5xx_rate=0.1,
            html_error_rate=0.05,
            drop_connection_rate=0.05,
            truncated_json_rate=0.05,
            invalid_json_rate=0.05,
            max_faults=12,
            seed=7,
        ),
    ),
]

FAILS = [
    Case(
        "429 forever",
        rule=lambda p: always(throttled("0")),
        error=RetriesExhaustedError,
        message="429",
    ),
    Case(
        "503 forever",
        rule=lambda p: always(server_error(503)),
        error=RetriesExhaustedError,
        message="503",
    ),
    Case(
        "latency above the read timeout",
        Faults(latency_ms=400),
        read_timeout_s=0.1,
        error=RetriesExhaustedError,
        message="timeout",
    ),
    Case(
        "dropped connection forever",
        Faults(drop_connection_rate=1.0),
        error=RetriesExhaustedError,
        message="connection",
    ),
    Case(
        "truncated JSON forever",
        Faults(truncated_json_rate=1.0),
        error=RetriesExhaustedError,
        message="JSON",
    ),
    Case(
        "invalid JSON forever",
        Faults(invalid_json_rate=1.0),
        error=RetriesExhaustedError,
        message="JSON",
    ),
    Case(
        "HTML error page forever",
        Faults(html_error_rate=1.0),
        error=RetriesExhaustedError,
        message="50",
    ),
    Case(
        "repeated pagination token",
        rule=lambda p: repeated_token(),
        error=PaginationLoopError,
        message="repeated a pagination token",
        tie_group=True,
    ),
    Case(
        "expired token answered 400",
        rule=lambda p: expired_token(),
        error=ApiRequestError,
        message="expired",
        tie_group=True,
    ),
    Case("wrong secret (401)", error=AuthError, message="401", secret="not-the-secret"),
]

#: Figures for the README: how many fault cases the matrix tries.
CASES = len(RECOVERS) + len(FAILS)
#: The default suite runs one case of each kind; the slow suite runs them all.
SLOW_ONLY = {
    "429 Retry-After 1", "500", "429 no hint at all", "429 emulator random",
    "429 Retry-After HTTP date", "502", "504",
    "5xx emulator random", "all faults mixed", "429 forever", "dropped connection forever",
    "truncated JSON forever", "invalid JSON forever", "HTML error page forever",
}  # fmt: skip


def matrix(cases: list[Case]) -> list[Any]:
    return [
        pytest.param(c, id=c.name, marks=[pytest.mark.slow] if c.name in SLOW_ONLY else [])
        for c in cases
    ]


def _sync(emu: Emulator, case: Case, path: Path, port: int) -> Any:
    transport = FaultTransport(case.rule(port)) if case.rule else None
    emu.set_faults(case.faults)
    try:
        with client_for(emu, transport, retry=case.retry, read_timeout_s=case.read_timeout_s,
                        max_rate=case.max_rate, secret=case.secret) as client,  \
                open_warehouse(path) as wh:  # fmt: skip
            return run_sync(client, wh, STREAM, CONFIG)
    finally:
        emu.set_faults(Faults())


@pytest.mark.parametrize("case", matrix(RECOVERS))
def test_recovers_to_the_source(emu: Emulator, case: Case, tmp_path: Path) -> None:
    path = tmp_path / "wh.duckdb"
    emu.update(n=5)
    with black_hole() as port:
        report = _sync(emu, case, path, port)
    assert report.counts.retries > 0, "the fault was never met: the case proved nothing"
    snap = assert_equals_source(path, emu.truth())
    assert snap.rejects == 0
    # An incremental run after the faults: still equal, nothing re-inserted.
    emu.update(n=7)
    with client_for(emu) as client, open_warehouse(path) as wh:
        again = run_sync(client, wh, STREAM, CONFIG)
    assert again.counts.updated == 7 and again.counts.new == 0
    assert_equals_source(path, emu.truth())


@pytest.mark.parametrize("case", matrix(FAILS))
def test_fails_cleanly_and_changes_nothing(
    emu: Emulator, baseline: Path, case: Case, tmp_path: Path
) -> None:
    path = tmp_path / "wh.duckdb"
    shutil.copyfile(baseline, path)  # closed cleanly: checkpointed, no WAL beside it
    # Changes for the faulted run to (fail to) pick up: a tie group of 150 > one page.
    emu.update(n=150)
    before = snapshot(path)

    with black_hole() as port, pytest.raises(AssetsSyncError) as info:
        _sync(emu, case, path, port)
    exc = info.value
    assert isinstance(exc, case.error or AssetsSyncError), repr(exc)
    text = str(exc)
    assert case.message.lower() in text.lower(), text
    assert SECRET not in text and KEY not in text

    after = snapshot(path)
    truth = {a["id"]: a for a in emu.truth()}
    if case.tie_group:
        # Pages committed before the failure are kept (valid progress), each a version the
        # source really served; the watermark may move, but only to a point below which
        # everything is committed.
        for asset_id, row in after.assets.items():
            if row != before.assets.get(asset_id):
                assert row[0] == parse_iso_ms(truth[asset_id]["updatedAt"])
        assert set(before.versions) <= set(after.versions)
        assert len(after.versions) == len(set(after.versions))
        assert after.watermark is not None and before.watermark is not None
        assert after.watermark >= before.watermark
        for asset_id, asset in truth.items():
            if parse_iso_ms(asset["updatedAt"]) <= after.watermark:
                assert after.assets[asset_id][0] == parse_iso_ms(asset["updatedAt"])
    else:
        assert after == before  # rows, versions, lineage, rejects and watermark
    with open_warehouse(path, read_only=True) as wh:
        outcome, error = wh.connection.execute(
            "SELECT outcome, error FROM sync_runs ORDER BY started_at DESC LIMIT 1"
        ).fetchone() or ("", "")
    assert outcome == "failed" and case.message.lower() in str(error).lower()
    assert SECRET not in str(error)

    # The fault cleared: the next run converges.
    with client_for(emu) as client, open_warehouse(path) as wh:
        run_sync(client, wh, STREAM, CONFIG)
    assert_equals_source(path, emu.truth())


def test_an_empty_first_answer_does_not_skip_history(emu: Emulator, tmp_path: Path) -> None:
    """The first request of a first sync answers `{"assets": []}` (a transient empty page):
    the watermark must not jump to now, or the next runs would never read the history."""
    path = tmp_path / "wh.duckdb"
    empty = FaultTransport(lambda n, r: json_answer(200, {"assets": []}) if n == 1 else None)
    with client_for(emu, empty) as client, open_warehouse(path) as wh:
        run_sync(client, wh, STREAM, CONFIG)
        assert wh.stream_state(STREAM).watermark_ms is None
    with client_for(emu) as client, open_warehouse(path) as wh:
        run_sync(client, wh, STREAM, CONFIG)
    assert_equals_source(path, emu.truth())
