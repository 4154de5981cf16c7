"""Dagster resources: every piece of I/O the assets touch lives here.

- `ScenarioApiResource`: the API base URL and credentials. Secrets come in through
  `dagster.EnvVar` (see `definitions.py`), are resolved by Dagster when a run starts, and
  never appear in run config, logs or the event log: the resource's own repr hides them.
- `WarehouseResource`: the DuckDB path and the Parquet destination.
- `ProgressResource`: where progress events go. The default writes a throttled line to the
  Dagster log; the CLI swaps in a rich progress bar (`pipelines.progress`), so the CLI and
  Dagster run the very same asset code.
"""

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dagster as dg
from pydantic import PrivateAttr

from assets_sync.auth import BasicAuth, BearerAuth, Credentials, PublicAuth, SecretStr
from assets_sync.client import AssetsClient
from assets_sync.config import DEFAULT_API_URL, ApiSettings
from assets_sync.errors import ConfigError
from assets_sync.progress import ProgressEvent
from warehouse import DuckDBSink, open_warehouse


def describe(event: ProgressEvent) -> str:
    """One human line for a progress event."""
    parts = [f"{event.assets:,} assets", f"{event.pages:,} pages", f"{event.requests:,} requests"]
    if event.slices_total:
        parts.append(f"slices {event.slices_done}/{event.slices_total}")
    if event.retries or event.throttled:
        parts.append(f"{event.retries} retries ({event.throttled} throttled)")
    if event.rejected:
        parts.append(f"{event.rejected} rejected")
    text = ", ".join(parts)
    return f"{text} - {event.message}" if event.message else text


def fraction(event: ProgressEvent) -> float | None:
    """How far the run is, by finished slices (None when the engine has not planned any)."""
    if not event.slices_total:
        return None
    return event.slices_done / event.slices_total


class ScenarioApiResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Scenario's `GET /v1/assets`. No credentials at all means public access."""

    base_url: str = DEFAULT_API_URL
    api_key: str | None = None
    api_secret: str | None = None
    bearer_token: str | None = None
    read_timeout_seconds: float = 60.0

    def credentials(self) -> Credentials:
        if self.api_key and self.api_secret:
            return BasicAuth(SecretStr(self.api_key), SecretStr(self.api_secret))
        if self.api_key or self.api_secret:
            missing = "api_secret" if self.api_key else "api_key"
            raise ConfigError(f"API key pair incomplete: {missing} is not set")
        if self.bearer_token:
            return BearerAuth(SecretStr(self.bearer_token))
        return PublicAuth()

    def settings(self) -> ApiSettings:
        return ApiSettings(
            base_url=self.base_url,
            credentials=self.credentials(),
            read_timeout_s=self.read_timeout_seconds,
        )

    @contextmanager
    def client(self) -> Iterator[AssetsClient]:
        with AssetsClient(self.settings()) as client:
            yield client

    def __repr__(self) -> str:  # pydantic's repr would print the secret
        return f"ScenarioApiResource(base_url={self.base_url!r}, credentials=<redacted>)"

    __str__ = __repr__


class WarehouseResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """The DuckDB warehouse file and where Parquet exports go (a folder or an s3:// URI)."""

    path: str = "assets-sync.duckdb"
    parquet_dir: str | None = None

    @contextmanager
    def sink(self) -> Iterator[DuckDBSink]:
        with open_warehouse(self.path) as sink:
            yield sink

    @contextmanager
    def reader(self) -> Iterator[DuckDBSink]:
        with open_warehouse(self.path, read_only=True) as sink:
            yield sink

    def parquet_destination(self) -> str:
        if self.parquet_dir:
            return self.parquet_dir
        return os.path.join(os.path.dirname(os.path.abspath(self.path)), "parquet")


class ProgressResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Turns engine progress events into something a person sees while a run is long."""

    log_every_seconds: float = 10.0
    _last: float = PrivateAttr(default=0.0)

    def start(self, context: Any, title: str) -> None:
        self._last = time.monotonic()
        context.log.info(title)

    def event(self, context: Any, event: ProgressEvent) -> None:
        now = time.monotonic()
        if now - self._last >= self.log_every_seconds or event.kind in ("finish", "slice_done"):
            self._last = now
            context.log.info(describe(event))

    def stop(self) -> None:
        return None
