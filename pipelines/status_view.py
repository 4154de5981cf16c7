"""`assets-sync status`: the warehouse's streams, as a table for people or JSON for scripts."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from rich.console import Console
from rich.table import Table

from warehouse.status import StreamStatus


def _when(value: datetime | None) -> str:
    return value.isoformat(timespec="milliseconds") if value else "-"


def _lag(lag: timedelta | None) -> str:
    if lag is None:
        return "never synced"
    seconds = int(lag.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172_800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86_400:.1f} days"


def status_as_json(streams: list[StreamStatus]) -> dict[str, Any]:
    return {
        "streams": [
            {
                "stream_id": s.stream_id,
                "project_id": s.project_id,
                "filters": dict(s.filters),
                "watermark": _when(s.watermark) if s.watermark else None,
                "lag_seconds": s.lag.total_seconds() if s.lag is not None else None,
                "assets": s.assets_total,
                "live_assets": s.assets_live,
                "deleted_assets": s.assets_deleted,
                "versions": s.versions,
                "rejected": s.rejects,
                "open_slices": s.open_slices,
                "counted_by": s.scope,
                "last_runs": [
                    {
                        "run_id": r.run_id,
                        "mode": r.mode,
                        "outcome": r.outcome,
                        "started_at": _when(r.started_at),
                        "finished_at": _when(r.finished_at),
                        "error": r.error,
                        **r.counts,
                    }
                    for r in s.last_runs
                ],
            }
            for s in streams
        ]
    }


def render_status(console: Console, streams: list[StreamStatus]) -> None:
    if not streams:
        console.print("no stream has been synced into this warehouse yet")
        return
    for s in streams:
        summary = Table(title=f"stream {s.stream_id}", show_header=False, title_justify="left")
        summary.add_row("watermark", _when(s.watermark))
        summary.add_row("lag", _lag(s.lag))
        summary.add_row(
            "assets",
            f"{s.assets_total:,} ({s.assets_live:,} live, {s.assets_deleted:,} deleted)",
        )
        summary.add_row("versions", f"{s.versions:,}")
        summary.add_row("rejected records", f"{s.rejects:,}")
        if s.open_slices:
            summary.add_row("slices in progress", f"{s.open_slices} (the next run resumes them)")
        console.print(summary)
        runs = Table(title="last runs", title_justify="left")
        for column in ("started", "mode", "outcome", "fetched", "new", "updated", "deleted", "s"):
            runs.add_column(
                column, justify="right" if column not in ("mode", "outcome") else "left"
            )
        for r in s.last_runs:
            took = (r.finished_at - r.started_at).total_seconds() if r.finished_at else None
            outcome = r.outcome if not r.error else f"{r.outcome}: {r.error[:60]}"
            runs.add_row(
                _when(r.started_at),
                r.mode,
                outcome,
                f"{r.counts.get('fetched', 0):,}",
                f"{r.counts.get('new', 0):,}",
                f"{r.counts.get('updated', 0):,}",
                f"{r.counts.get('deleted', 0):,}",
                f"{took:.1f}" if took is not None else "-",
            )
        console.print(runs)
