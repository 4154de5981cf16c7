"""Delete detection: list every id of a stream, and tell the sink whether the list is complete.

Hard deletes never show up in an `updatedAt` pull. `run_reconcile` lists ids sorted by
`createdAt` (concurrent createdAt slices, each with the same seek pagination as syncs, so
OFFSET tokens cannot skip anything: `createdAt` never changes, so inside a tie group the only
mutations are deletes, which the two-agreeing-passes rule of pagination.py handles). Absence is
trustworthy: an asset present throughout a listing reported COMPLETE is in it. Any failure of
any slice makes the listing incomplete, and an incomplete listing marks nothing deleted (the
sink only revives listed ids).

The listing covers `createdAt` in `(lo, hi)` with `hi = run_start - settle_lag`: assets created
after the listing started are neither listed nor judged. Full mode judges everything created
before `hi` (the sink gets `lo = None`: nothing exists before the earliest asset at listing
time). Rolling mode judges one of `parts` equal createdAt ranges of history per night.

Listing errors do not raise: they make the report incomplete (`complete=False`, `error` set)
and the run record failed. Sink errors raise, among them `MassDeletionError`: a complete
listing that would mark more than `SyncConfig.max_deleted_fraction` (default half) of the
stream's live assets deleted is refused whole, because a listing that is complete but wrong
(valid credentials of another scope, a filter the API ignores) is indistinguishable from mass
deletion, and the guard is checked by the sink in the same transaction as the marking.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import pyarrow as pa

from assets_sync.client import AssetsClient
from assets_sync.engine import SyncConfig, client_pace, now_ms
from assets_sync.pagination import BY_CREATED, PaginationStats, paginate
from assets_sync.planning import earliest, stream_params
from assets_sync.progress import Emitter, ProgressEvent, ProgressListener
from assets_sync.records import record_ids
from assets_sync.sink import RunRecord, Sink, StreamKey
from assets_sync.windows import Window, split

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReconcileReport:
    run_id: str
    stream_id: str
    created_window: Window  # the createdAt range listed
    complete: bool
    listed: int
    deleted: int
    revived: int
    requests: int
    retries: int
    throttled: int
    duration_s: float
    error: str | None = None


def rolling_window(first_ms: int, hi_ms: int, parts: int, night: int) -> Window:
    """Part `night % parts` of the createdAt history `(first_ms - 1, hi_ms)`."""
    pieces = split(Window(first_ms - 1, hi_ms), parts) or [Window(first_ms - 1, hi_ms)]
    return pieces[night % len(pieces)]


def list_ids(
    client: AssetsClient,
    stream: StreamKey,
    window: Window,
    config: SyncConfig,
    emit: Emitter | None = None,
    run_id: str = "",
) -> tuple[pa.Array, bool, str | None]:
    """(unique ids created in `window`, complete, error text of the first failure)."""
    params = stream_params(stream.project_id, stream.filters)
    slices = split(window, config.slices) or []
    stop = threading.Event()
    lock = threading.Lock()
    found: list[list[str]] = []
    errors: list[str] = []
    counters = {"pages": 0, "assets": 0, "done": 0}

    def list_slice(w: Window) -> None:
        ids: list[str] = []
        try:
            for step in paginate(
                client.list_page,
                w,
                key=BY_CREATED,
                base_params=params,
                page_size=config.page_size,
                max_tie_passes=config.max_tie_passes,
                stats=PaginationStats(),
            ):
                if stop.is_set():
                    return
                ids.extend(i for i in record_ids(step.records) if i is not None)
                with lock:
                    counters["pages"] += 1
                    counters["assets"] += len(step.records)
                    counters["done"] += int(step.done)
                if emit is not None:
                    emit(_event(stream, run_id, client, counters, len(slices), w))
        except Exception as exc:  # noqa: BLE001 - any failure: the listing is incomplete
            with lock:
                errors.append(client.redact(f"{type(exc).__name__}: {exc}"))
            stop.set()
            return
        with lock:
            found.append(ids)

    with ThreadPoolExecutor(config.concurrency, thread_name_prefix="assets-list") as pool:
        list(pool.map(list_slice, slices))
    chunks = [pa.array(ids, type=pa.string()) for ids in found]
    # Array.unique, not pyarrow.compute: importing that module costs a sync ~8 MB of RSS.
    listed = pa.concat_arrays(chunks).unique() if chunks else pa.array([], type=pa.string())
    complete = not errors and len(found) == len(slices)
    return listed, complete, (errors[0] if errors else None)


def _event(
    stream: StreamKey,
    run_id: str,
    client: AssetsClient,
    counters: dict[str, int],
    total: int,
    window: Window | None,
) -> ProgressEvent:
    stats = client.stats
    return ProgressEvent(
        kind="page",
        stream_id=stream.stream_id,
        run_id=run_id,
        pages=counters["pages"],
        assets=counters["assets"],
        requests=stats.requests,
        retries=stats.retries,
        throttled=stats.throttled,
        slices_done=counters["done"],
        slices_total=total,
        window=None if window is None else (window.lo_ms, window.hi_ms),
    )


def run_reconcile(
    client: AssetsClient,
    sink: Sink,
    stream: StreamKey,
    config: SyncConfig | None = None,
    created_window: tuple[int, int] | None = None,
    progress: ProgressListener | None = None,
    *,
    rolling: tuple[int, int] | None = None,
    run_id: str | None = None,
    run_start_ms: int | None = None,
) -> ReconcileReport:
    """List the stream's ids and let the sink mark the absent ones deleted.

    `created_window`: `(lo_ms, hi_ms)` exclusive createdAt bounds; `rolling`: `(night, parts)`
    to reconcile part `night % parts` of history; neither: everything.
    """
    config = config or SyncConfig()
    run_id = run_id or uuid.uuid4().hex
    emit = Emitter(progress)
    started = run_start_ms if run_start_ms is not None else now_ms()
    before = client.stats
    t0 = time.monotonic()
    pace = sink.stream_state(stream).pace
    if pace is not None:  # start at the last run's pace, not slow start's
        client.limiter.resume(pace.rate, pace.learned)
    record = RunRecord(run_id, stream, "reconcile", now_ms())
    sink.begin_run(record)
    hi = started - config.settle_lag_ms
    params = stream_params(stream.project_id, stream.filters)
    error: str | None = None
    try:
        if created_window is not None:
            window = Window(created_window[0], max(created_window[0], created_window[1]))
            judged: tuple[int | None, int | None] = (window.lo_ms, window.hi_ms)
        else:
            first = earliest(client.list_page, BY_CREATED, params)
            first = hi - 1 if first is None else min(first, hi - 1)
            if rolling is not None:
                window = rolling_window(first, hi, rolling[1], rolling[0])
                is_first_part = window.lo_ms == first - 1
                judged = (None if is_first_part else window.lo_ms, window.hi_ms)
            else:
                window = Window(first - 1, hi)
                judged = (None, hi)
        listed, complete, error = list_ids(client, stream, window, config, emit, run_id)
        result = sink.reconcile(
            stream,
            run_id,
            listed,
            judged[0],
            judged[1],
            complete,
            max_deleted_fraction=config.max_deleted_fraction,
        )
    except BaseException as exc:
        failed = replace(
            record,
            finished_at_ms=now_ms(),
            outcome="failed",
            error=client.redact(f"{type(exc).__name__}: {exc}")[:2000],
        )
        try:
            sink.end_run(failed)
        except Exception:  # the original error matters more than the bookkeeping one
            log.exception("could not record the failed reconcile %s", run_id)
        raise
    delta = client.stats - before
    report = ReconcileReport(
        run_id=run_id,
        stream_id=stream.stream_id,
        created_window=window,
        complete=complete,
        listed=result.listed,
        deleted=result.deleted,
        revived=result.revived,
        requests=delta.requests,
        retries=delta.retries,
        throttled=delta.throttled,
        duration_s=time.monotonic() - t0,
        error=error,
    )
    counts = {
        "listed": result.listed,
        "deleted": result.deleted,
        "revived": result.revived,
        "complete": int(complete),
        "requests": delta.requests,
        "retries": delta.retries,
        "throttled": delta.throttled,
    }
    sink.end_run(
        replace(
            record,
            finished_at_ms=now_ms(),
            outcome="success" if complete else "failed",
            error=error,
            counts=counts,
            pace=client_pace(client),
        )
    )
    emit(
        ProgressEvent(
            kind="finish",
            stream_id=stream.stream_id,
            run_id=run_id,
            assets=result.listed,
            requests=delta.requests,
            retries=delta.retries,
            throttled=delta.throttled,
            message=f"complete={complete} deleted={result.deleted} revived={result.revived}",
        )
    )
    return report
