"""The sync engine over the in-process API model and MemorySink: windows, slices, watermark,
crash and resume, counts, failure recording."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from assets_sync.client import AssetsClient
from assets_sync.config import ApiSettings
from assets_sync.engine import SyncConfig, run_sync
from assets_sync.errors import AuthError
from assets_sync.memory_sink import MemorySink
from assets_sync.progress import ProgressEvent
from assets_sync.ratelimit import NoLimit
from assets_sync.reconcile import run_reconcile
from assets_sync.retry import FAST_RETRY
from assets_sync.sink import Completion, PageBatch, StreamKey, WriteResult
from tests.assets_sync.fakeapi import FakeApi, make_asset

STREAM = StreamKey("proj_test")
NOW = 2_000_000
CFG = SyncConfig(
    lookback_ms=100,
    settle_lag_ms=10,
    slices=4,
    concurrency=3,
    page_size=5,
    min_slice_ms=1,
    max_pages_in_flight=2,
    max_rows_per_write=12,  # small writes, so that crashes land between many commits
)


def client_for(api: FakeApi) -> AssetsClient:
    return AssetsClient(
        ApiSettings(base_url="http://fake/v1"),
        transport=api.transport(),
        retry=FAST_RETRY,
        limiter=NoLimit(),
    )


def dataset(n: int = 200, ties: int = 17) -> list[dict[str, object]]:
    # timestamps spread over (1000, 900_000) with a tie group of `ties` assets (> a page)
    assets = [make_asset(i, 1000 + i * 4000) for i in range(n)]
    assets += [make_asset(10_000 + i, 500_000) for i in range(ties)]
    return assets


def test_first_sync_gets_everything_and_sets_the_watermark() -> None:
    api = FakeApi(dataset())
    sink = MemorySink()
    events: list[ProgressEvent] = []
    with client_for(api) as client:
        report = run_sync(client, sink, STREAM, CFG, progress=events.append, run_start_ms=NOW)
    assert set(sink.current) == set(api.assets)
    assert report.counts.new == len(api.assets) and report.counts.updated == 0
    assert report.watermark_after_ms == NOW - CFG.settle_lag_ms - 1
    assert sink.watermarks[STREAM] == report.watermark_after_ms
    assert sink.stream_state(STREAM).slices == ()  # ledger empty after a complete run
    assert len(report.slices) == CFG.slices + report.counts.splits
    assert report.counts.tie_groups >= 1
    assert sink.runs[report.run_id].outcome == "success"
    assert events[0].kind == "start" and events[-1].kind == "finish"
    assert sink.rows["asset_00000003"]["parent_id"] == "asset_00000001"
    assert sink.rows["asset_00000003"]["project_id"] == "proj_test"


class CompletionsSink(MemorySink):
    """Records the order of completions made on their own and of writes."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []
        self.carried: list[Completion] = []

    def complete_slices(self, *args: object, **kwargs: object) -> None:
        self.calls.append("complete")
        super().complete_slices(*args, **kwargs)  # type: ignore[arg-type]

    def write(self, pages: Sequence[PageBatch], complete: Completion | None = None) -> WriteResult:
        self.calls.append("write")
        if complete is not None:
            self.carried.append(complete)
        return super().write(pages, complete)


def test_writes_carry_the_completions_and_the_watermark_they_move() -> None:
    """No transaction of its own per completion once writing started (only the run's start
    completes what the ledger already had): each write that moves the frontier commits it,
    and the watermark ends where a complete run puts it."""
    api = FakeApi(dataset())
    sink = CompletionsSink()
    with client_for(api) as client:
        report = run_sync(client, sink, STREAM, CFG, run_start_ms=NOW)
    first_write = sink.calls.index("write")
    assert "complete" not in sink.calls[first_write:] and len(sink.carried) >= 2
    marks = [c.watermark_ms for c in sink.carried]
    assert marks == sorted(marks) and marks[-1] == report.watermark_after_ms
    assert sorted(i for c in sink.carried for i in c.slice_ids) == sorted(
        s.slice_id for s in report.slices
    )
    assert sink.stream_state(STREAM).slices == ()
    assert set(sink.current) == set(api.assets)


def test_second_run_reads_only_the_lookback_and_picks_up_changes() -> None:
    api = FakeApi(dataset())
    sink = MemorySink()
    with client_for(api) as client:
        first = run_sync(client, sink, STREAM, CFG, run_start_ms=NOW)
        api.touch("asset_00000005", NOW + 500)
        api.assets["asset_new"] = make_asset(999, NOW + 600) | {"id": "asset_new"}
        second = run_sync(client, sink, STREAM, CFG, run_start_ms=NOW + 2000)
    assert second.target.lo_ms == first.watermark_after_ms - CFG.lookback_ms
    assert second.counts.updated == 1 and second.counts.new == 1
    assert sink.current["asset_00000005"] == NOW + 500
    assert ("asset_00000005", 1000 + 5 * 4000) in sink.versions  # history kept


def test_late_commit_inside_lookback_is_picked_up() -> None:
    api = FakeApi(dataset())
    sink = MemorySink()
    with client_for(api) as client:
        first = run_sync(client, sink, STREAM, CFG, run_start_ms=NOW)
        late = first.watermark_after_ms - 50  # committed late with an older updatedAt
        api.assets["asset_late"] = make_asset(1, late) | {"id": "asset_late"}
        run_sync(client, sink, STREAM, CFG, run_start_ms=NOW + 1)
    assert sink.current["asset_late"] == late


def test_crash_resumes_each_slice_from_its_cursor() -> None:
    api = FakeApi(dataset(400))
    sink = MemorySink()
    writes = {"n": 0}

    def crash(pages: Sequence[PageBatch]) -> None:
        writes["n"] += 1
        if writes["n"] == 6:
            raise RuntimeError("disk full")

    sink.before_write = crash
    with client_for(api) as client:
        with pytest.raises(RuntimeError, match="disk full"):
            run_sync(client, sink, STREAM, CFG, run_start_ms=NOW)
        state = sink.stream_state(STREAM)
        assert state.slices and any(s.cursor_ms > s.lo_ms for s in state.slices)
        failed = [r for r in sink.runs.values() if r.outcome == "failed"]
        assert failed and "disk full" in (failed[0].error or "")
        sink.before_write = None
        requests_before = len(api.requests)
        report = run_sync(client, sink, STREAM, CFG, run_start_ms=NOW)
    assert set(sink.current) == set(api.assets)
    assert report.resumed == len([s for s in state.slices if not s.done])
    resumed_requests = len(api.requests) - requests_before
    with client_for(FakeApi(dataset(400))) as client:
        full = run_sync(client, MemorySink(), STREAM, CFG, run_start_ms=NOW)
    # Redone work: the failed write's buffer and the one filling behind it (max_rows_per_write
    # rows and one more page each), the queued pages and one page per fetcher, plus one
    # re-seek per slice.
    redo = 2 * (-(-CFG.max_rows_per_write // CFG.page_size) + 1)
    redo += CFG.max_pages_in_flight + CFG.concurrency + CFG.slices
    assert requests_before + resumed_requests <= full.counts.requests + redo
    assert sink.watermarks[STREAM] == NOW - CFG.settle_lag_ms - 1
    assert sink.stream_state(STREAM).slices == ()


def test_watermark_never_passes_an_unfinished_slice() -> None:
    api = FakeApi(dataset(100))
    sink = MemorySink()
    seen_watermarks: list[int] = []

    def check(pages: Sequence[PageBatch]) -> None:
        w = sink.watermarks.get(STREAM)
        if w is not None:
            seen_watermarks.append(w)
            for s in sink.stream_state(STREAM).slices:
                if not s.done:
                    assert s.cursor_ms >= w or s.lo_ms >= w

    sink.before_write = check
    with client_for(api) as client:
        run_sync(client, sink, STREAM, CFG, run_start_ms=NOW)
    assert seen_watermarks == sorted(seen_watermarks)


def test_backfill_window_and_rejects() -> None:
    assets = dataset(50)
    assets.append({"id": "asset_bad", "updatedAt": "yesterday-ish"})
    assets.append({"id": "asset_bad2", "updatedAt": "2024-01-01T00:00:00.000Z", "tags": "x"})
    api = FakeApi([a for a in assets if a["id"] != "asset_bad"])
    sink = MemorySink()
    with client_for(api) as client:
        report = run_sync(
            client, sink, STREAM, CFG, mode="backfill", window=(0, 100_000), run_start_ms=NOW
        )
    assert report.counts.rejected == 0  # asset_bad2 is outside the window
    assert all(ts < 100_000 for ts in sink.current.values())
    assert STREAM not in sink.watermarks  # a window not contiguous with a watermark


def test_rejected_records_are_kept_with_reason() -> None:
    assets = dataset(20)
    bad = make_asset(77, 5000) | {"id": "asset_bad", "tags": "not-a-list"}
    api = FakeApi([*assets, bad])
    sink = MemorySink()
    with client_for(api) as client:
        report = run_sync(client, sink, STREAM, CFG, run_start_ms=NOW)
    assert report.counts.rejected == 1
    assert sink.rejects[0]["asset_id"] == "asset_bad" and "tags" in sink.rejects[0]["reason"]
    assert "asset_bad" not in sink.current


def test_fatal_error_is_recorded_redacted_and_raised() -> None:
    import httpx

    from assets_sync.auth import BasicAuth, SecretStr

    api = FakeApi(
        [],
        responses=[httpx.Response(401, json={"reason": "bad key s3cr3t", "traceId": "t-1"})],
    )
    settings = ApiSettings(
        base_url="http://fake/v1", credentials=BasicAuth(SecretStr("k"), SecretStr("s3cr3t"))
    )
    sink = MemorySink()
    client = AssetsClient(settings, transport=api.transport(), retry=FAST_RETRY)
    with client, pytest.raises(AuthError) as info:
        run_sync(client, sink, STREAM, CFG, run_start_ms=NOW)
    assert "s3cr3t" not in str(info.value) and "t-1" in str(info.value)
    (run,) = sink.runs.values()
    assert run.outcome == "failed" and "s3cr3t" not in (run.error or "") and "401" in run.error


def test_reconcile_marks_only_from_a_complete_listing() -> None:
    api = FakeApi(dataset(60))
    sink = MemorySink()
    with client_for(api) as client:
        run_sync(client, sink, STREAM, CFG, run_start_ms=NOW)
        gone = ["asset_00000003", "asset_00010002"]
        for g in gone:
            api.delete(g)
        report = run_reconcile(client, sink, STREAM, CFG, run_start_ms=NOW)
    assert report.complete and report.deleted == 2 and set(sink.deleted) == set(gone)
    assert report.listed == len(api.assets)


def test_reconcile_incomplete_listing_marks_nothing() -> None:
    import httpx

    api = FakeApi(dataset(60))
    sink = MemorySink()
    with client_for(api) as client:
        run_sync(client, sink, STREAM, CFG, run_start_ms=NOW)
        api.delete("asset_00000003")
        api.scripted = [httpx.Response(200, json={"assets": [api.assets["asset_00000001"]]})]
        api.scripted += [httpx.Response(400, json={"message": "nope"})]
        report = run_reconcile(client, sink, STREAM, CFG, run_start_ms=NOW)
    assert not report.complete and report.deleted == 0 and not sink.deleted
    assert report.error and "nope" in report.error


def test_rolling_reconcile_judges_one_part() -> None:
    api = FakeApi(dataset(60, ties=0))
    sink = MemorySink()
    with client_for(api) as client:
        now = 240_000  # history: createdAt 1000 .. 237_000
        run_sync(client, sink, STREAM, CFG, run_start_ms=now)
        api.delete("asset_00000001")  # early: part 0 of 4
        api.delete("asset_00000059")  # late: part 3
        report = run_reconcile(client, sink, STREAM, CFG, rolling=(0, 4), run_start_ms=now)
    assert report.complete and set(sink.deleted) == {"asset_00000001"}


def test_slow_writer_coalesces_pages_and_memory_stays_bounded() -> None:
    import time as _time

    api = FakeApi(dataset(300))
    sink = MemorySink()
    sizes: list[int] = []

    def slow(pages: Sequence[PageBatch]) -> None:
        sizes.append(sum(p.assets.num_rows + p.rejects.num_rows for p in pages))
        _time.sleep(0.02)

    sink.before_write = slow
    with client_for(api) as client:
        report = run_sync(client, sink, STREAM, CFG, run_start_ms=NOW)
    assert set(sink.current) == set(api.assets)
    assert report.counts.writes < report.counts.pages  # several pages per transaction
    # a write holds at most max_rows_per_write rows plus the page that crossed the limit
    assert max(sizes) < CFG.max_rows_per_write + CFG.page_size


def test_progress_events_are_cumulative() -> None:
    api = FakeApi(dataset(100))
    events: list[ProgressEvent] = []
    with client_for(api) as client:
        report = run_sync(
            client, MemorySink(), STREAM, CFG, progress=events.append, run_start_ms=NOW
        )
    pages = [e for e in events if e.kind == "page"]
    assert [e.assets for e in pages] == sorted(e.assets for e in pages)
    assert events[-1].assets == report.counts.fetched
    assert events[-1].slices_done == CFG.slices + report.counts.splits
    assert all(e.run_id == report.run_id for e in events)


def test_a_failing_progress_listener_does_not_fail_the_run() -> None:
    def boom(event: ProgressEvent) -> None:
        raise ValueError("listener bug")

    with client_for(FakeApi(dataset(20))) as client:
        report = run_sync(client, MemorySink(), STREAM, CFG, progress=boom, run_start_ms=NOW)
    assert report.counts.new == 20 + 17


def test_writer_failure_with_full_queue_does_not_hang() -> None:
    """The sink fails while every fetcher is blocked on a full queue and one of them is
    failing too: the run must end (with the sink's error), not wait forever."""
    import httpx

    api = FakeApi(dataset(400))
    sink = MemorySink()

    def fail(pages: Sequence[PageBatch]) -> None:
        api.scripted = [httpx.Response(400, json={"reason": "late"})] * 8
        raise RuntimeError("sink gone")

    sink.before_write = fail
    cfg = SyncConfig(
        settle_lag_ms=10,
        slices=4,
        concurrency=4,
        page_size=5,
        min_slice_ms=1,
        max_pages_in_flight=1,
    )
    with client_for(api) as client, pytest.raises(RuntimeError, match="sink gone"):
        run_sync(client, sink, STREAM, cfg, run_start_ms=NOW)
