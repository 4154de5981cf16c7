"""Fixtures for the warehouse tests: fresh warehouses and page builders."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from assets_sync.schema import empty_rejects
from assets_sync.sink import PageBatch, SliceState, StreamKey
from warehouse import DuckDBSink, open_warehouse

STREAM = StreamKey("proj_a")
SLICE = SliceState("s1", 0, 4_000_000_000_000, 0)


def page(
    assets: pa.RecordBatch,
    rejects: pa.RecordBatch | None = None,
    stream: StreamKey = STREAM,
    progress: SliceState = SLICE,
    run_id: str = "run_1",
) -> PageBatch:
    return PageBatch(run_id, stream, assets, rejects or empty_rejects(), progress)


@pytest.fixture
def wh() -> Iterator[DuckDBSink]:
    with open_warehouse(":memory:") as sink:
        yield sink


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    return str(tmp_path / "warehouse.duckdb")
