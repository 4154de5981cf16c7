"""Materialization metadata a person reads in the Dagster UI, built from engine reports."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import dagster as dg

from assets_sync.engine import SyncReport
from assets_sync.reconcile import ReconcileReport

SYNC_COUNTS = (
    "fetched",
    "new",
    "updated",
    "unchanged",
    "rejected",
    "pages",
    "requests",
    "retries",
    "throttled",
    # how the pages were listed (assets_sync/pagination.py): records re-read at seek
    # boundaries and dropped, tie groups read in passes, pages asked with a keyset token
    "overlap_dropped",
    "tie_groups",
    "keyset_follows",
)


def iso_ms(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds")


def _table(rows: list[tuple[str, Any]]) -> str:
    lines = ["| | |", "|---|---:|"]
    lines += [f"| {k} | {v} |" for k, v in rows]
    return "\n".join(lines)


def sync_metadata(report: SyncReport) -> dict[str, Any]:
    counts = report.counts.as_dict()
    md: dict[str, Any] = {
        name: dg.MetadataValue.int(int(counts.get(name, 0))) for name in SYNC_COUNTS
    }
    md["stream"] = report.stream_id
    md["run_id"] = report.run_id
    md["watermark_before"] = iso_ms(report.watermark_before_ms)
    md["watermark_after"] = iso_ms(report.watermark_after_ms)
    md["duration_s"] = dg.MetadataValue.float(round(report.duration_s, 3))
    md["mode"] = report.mode
    md["target_window"] = f"{iso_ms(report.target.lo_ms)} .. {iso_ms(report.target.hi_ms)}"
    md["slices"] = dg.MetadataValue.int(len(report.slices))
    md["slices_resumed"] = dg.MetadataValue.int(report.resumed)
    rows: list[tuple[str, Any]] = [(name, counts.get(name, 0)) for name in SYNC_COUNTS]
    rows += [
        ("watermark before", iso_ms(report.watermark_before_ms)),
        ("watermark after", iso_ms(report.watermark_after_ms)),
        ("duration (s)", f"{report.duration_s:.1f}"),
    ]
    md["summary"] = dg.MetadataValue.md(_table(rows))
    return md


def reconcile_metadata(report: ReconcileReport) -> dict[str, Any]:
    md: dict[str, Any] = {
        "stream": report.stream_id,
        "listed": dg.MetadataValue.int(report.listed),
        "complete": dg.MetadataValue.bool(report.complete),
        "deleted": dg.MetadataValue.int(report.deleted),
        "revived": dg.MetadataValue.int(report.revived),
        "requests": dg.MetadataValue.int(report.requests),
        "retries": dg.MetadataValue.int(report.retries),
        "throttled": dg.MetadataValue.int(report.throttled),
        "duration_s": dg.MetadataValue.float(round(report.duration_s, 3)),
        "created_window": (
            f"{iso_ms(report.created_window.lo_ms)} .. {iso_ms(report.created_window.hi_ms)}"
        ),
    }
    md["summary"] = dg.MetadataValue.md(
        _table(
            [
                ("listed", report.listed),
                ("complete listing", report.complete),
                ("marked deleted", report.deleted),
                ("revived", report.revived),
                ("requests", report.requests),
            ]
        )
    )
    return md
