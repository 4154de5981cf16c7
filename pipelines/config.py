"""Run configuration of the jobs: which stream, and how hard to pull.

Nothing secret lives here: run config is stored in Dagster's event log and shown in the UI.
"""

from dataclasses import replace

import dagster as dg
from pydantic import Field

from assets_sync.engine import SyncConfig
from assets_sync.sink import StreamKey


class StreamConfig(dg.Config):
    """One stream: a project (None = everything the credentials see) and optional filters."""

    project_id: str | None = Field(default=None, description="Scenario project id (proj_...).")
    filters: dict[str, str] = Field(
        default_factory=dict,
        description="Extra GET /v1/assets filters, e.g. {'type': 'upscale'}.",
    )

    def stream(self) -> StreamKey:
        return StreamKey(self.project_id, tuple(self.filters.items()))


class SyncRunConfig(StreamConfig):
    lookback_minutes: float = Field(
        default=15.0, description="Re-read this much before the watermark (late commits)."
    )
    settle_lag_seconds: float = Field(
        default=5.0, description="Stop this far before now, so in-flight writes settle."
    )
    slices: int = Field(
        default=SyncConfig.slices, description="Time slices a first sync or backfill is cut into."
    )
    concurrency: int = Field(default=SyncConfig.concurrency, description="Slices fetched at once.")
    page_size: int = Field(default=100, ge=1, le=100)

    def sync_config(self) -> SyncConfig:
        return SyncConfig(
            lookback_ms=round(self.lookback_minutes * 60_000),
            settle_lag_ms=round(self.settle_lag_seconds * 1000),
            slices=self.slices,
            concurrency=self.concurrency,
            page_size=self.page_size,
        )


class ReconcileRunConfig(SyncRunConfig):
    rolling_parts: int = Field(
        default=1,
        ge=1,
        description="1 = all history; N = 1/N of history (createdAt weeks) per run.",
    )
    rolling_index: int | None = Field(
        default=None,
        description="Which part to reconcile in rolling mode; default: day of the year modulo N.",
    )
    max_deleted_fraction: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="Refuse a reconcile that would mark more than this share of the stream's "
        "live assets deleted (1.0 allows anything: use it when mass deletions are real).",
    )

    def sync_config(self) -> SyncConfig:
        return replace(super().sync_config(), max_deleted_fraction=self.max_deleted_fraction)
