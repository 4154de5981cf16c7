"""Fixtures for the pipelines tests: an emulator on loopback and resources pointing at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from assets_sync.emulator import Emulator, EmulatorConfig
from pipelines.resources import ProgressResource, ScenarioApiResource, WarehouseResource

API_KEY = "test-key"
API_SECRET = "s3cr3t-PIPELINES-never-logged"


def creds(emulator: Emulator, secret: str = API_SECRET) -> dict[str, str]:
    """The environment that points a process (the CLI, the README's Python block) at `emulator`."""
    return {
        "SCENARIO_API_URL": emulator.base_url,
        "SCENARIO_API_KEY": API_KEY,
        "SCENARIO_API_SECRET": secret,
    }


@pytest.fixture()
def emulator() -> Iterator[Emulator]:
    config = EmulatorConfig(
        assets=1500, seed=11, projects=1, api_key=API_KEY, api_secret=API_SECRET
    )
    with Emulator(config) as emu:
        yield emu


@pytest.fixture()
def warehouse_path(tmp_path: Path) -> Path:
    return tmp_path / "wh.duckdb"


@pytest.fixture()
def resources(emulator: Emulator, warehouse_path: Path) -> dict[str, object]:
    return {
        "scenario_api": ScenarioApiResource(
            base_url=emulator.base_url, api_key=API_KEY, api_secret=API_SECRET
        ),
        "warehouse": WarehouseResource(
            path=str(warehouse_path), parquet_dir=str(warehouse_path.parent / "parquet")
        ),
        "progress": ProgressResource(log_every_seconds=0.0),
    }
