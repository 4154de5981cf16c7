"""The delete-reconciliation job: hard deletes are invisible to incremental pulls.

A run lists the ids of the stream (concurrently, by createdAt slices) and marks absent ones
`deleted_at`, only when the listing is complete. In rolling mode a run covers 1/N of history:
the createdAt weeks whose index is congruent to the part number modulo N, so any N consecutive
runs cover every week exactly once, however long history grows (contiguous chunks of a
growing range would drift and leave gaps).
"""

from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime

import dagster as dg

from assets_sync.reconcile import ReconcileReport, run_reconcile
from assets_sync.windows import Window
from pipelines.assets import WAREHOUSE_POOL, _progress, scenario_assets
from pipelines.config import ReconcileRunConfig
from pipelines.metadata import reconcile_metadata
from pipelines.resources import ProgressResource, ScenarioApiResource, WarehouseResource

WEEK_MS = 7 * 24 * 3600 * 1000
#: Rolling weeks are counted from here (a Monday); assets created earlier fall in week 0.
ROLLING_EPOCH_MS = int(datetime(2020, 1, 6, tzinfo=UTC).timestamp() * 1000)


def rolling_windows(part: int, parts: int, now_ms: int) -> Iterator[tuple[int | None, int | None]]:
    """Exclusive createdAt windows of part `part` of `parts` (weeks congruent to part mod parts).

    Week w covers [epoch + w*WEEK, epoch + (w+1)*WEEK); as exclusive API bounds that is
    (start - 1 ms, end). Week 0 is open below so assets older than the epoch are covered;
    the last week is open above so assets created after `now_ms` are covered too.
    """
    if parts <= 1:
        yield (None, None)
        return
    if not 0 <= part < parts:
        raise ValueError(f"rolling part {part} is not in 0..{parts - 1}")
    last_week = max(0, (now_ms - ROLLING_EPOCH_MS) // WEEK_MS)
    for week in range(part, last_week + 1, parts):
        lo = None if week == 0 else ROLLING_EPOCH_MS + week * WEEK_MS - 1
        hi = None if week == last_week else ROLLING_EPOCH_MS + (week + 1) * WEEK_MS
        yield (lo, hi)


def api_window(window: tuple[int | None, int | None], now_ms: int) -> tuple[int, int] | None:
    """The engine's exclusive (lo, hi) for a rolling window; None = all of history."""
    lo, hi = window
    if lo is None and hi is None:
        return None
    # Nothing was created before the epoch, nor after now (plus a day of clock skew).
    return (-1 if lo is None else lo, now_ms + 86_400_000 if hi is None else hi)


def combine(reports: Sequence[ReconcileReport]) -> ReconcileReport:
    """One report for the windows of a rolling run: complete only if every listing was."""
    if not reports:
        raise ValueError("no reconciliation ran")
    first = reports[0]
    errors = [r.error for r in reports if r.error]
    return replace(
        first,
        created_window=Window(
            min(r.created_window.lo_ms for r in reports),
            max(r.created_window.hi_ms for r in reports),
        ),
        complete=all(r.complete for r in reports),
        listed=sum(r.listed for r in reports),
        deleted=sum(r.deleted for r in reports),
        revived=sum(r.revived for r in reports),
        requests=sum(r.requests for r in reports),
        retries=sum(r.retries for r in reports),
        throttled=sum(r.throttled for r in reports),
        duration_s=sum(r.duration_s for r in reports),
        error="; ".join(errors) if errors else None,
    )


@dg.op(pool=WAREHOUSE_POOL, description="Mark assets absent from a complete listing as deleted.")
def reconcile_deletes(
    context: dg.OpExecutionContext,
    config: ReconcileRunConfig,
    scenario_api: ScenarioApiResource,
    warehouse: WarehouseResource,
    progress: ProgressResource,
) -> None:
    stream = config.stream()
    now_ms = int(datetime.now(tz=UTC).timestamp() * 1000)
    part = config.rolling_index
    if part is None:
        part = (now_ms // (24 * 3600 * 1000)) % config.rolling_parts
    label = "all history" if config.rolling_parts == 1 else f"part {part} of {config.rolling_parts}"
    progress.start(context, f"reconcile {stream.stream_id}: {label}")
    reports: list[ReconcileReport] = []
    try:
        with scenario_api.client() as client, warehouse.sink() as sink:
            for window in rolling_windows(part, config.rolling_parts, now_ms):
                reports.append(
                    run_reconcile(
                        client,
                        sink,
                        stream,
                        config.sync_config(),
                        created_window=api_window(window, now_ms),
                        progress=_progress(context, progress),
                    )
                )
    finally:
        progress.stop()
    total = combine(reports)
    context.log_event(
        dg.AssetMaterialization(
            asset_key=scenario_assets.key,
            description=f"delete reconciliation ({label})",
            metadata=reconcile_metadata(total),
        )
    )
    if not total.complete:
        raise dg.Failure(
            description="the id listing was incomplete, so nothing was marked deleted",
            metadata=reconcile_metadata(total),
        )


@dg.job(description="Delete reconciliation (rolling_parts > 1 covers 1/N of history a run).")
def reconcile() -> None:
    reconcile_deletes()
