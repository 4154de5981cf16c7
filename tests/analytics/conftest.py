"""Fixtures: the crafted warehouse of `dataset.py`, built once, read through read-only opens."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from tests.analytics.dataset import build
from warehouse import open_warehouse


@pytest.fixture(scope="session")
def known_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = str(tmp_path_factory.mktemp("known") / "known.duckdb")
    with open_warehouse(path) as wh:
        build(wh)
    return path


@pytest.fixture
def con(known_path: str) -> Iterator[duckdb.DuckDBPyConnection]:
    with open_warehouse(known_path, read_only=True) as reader:
        yield reader.connection


@pytest.fixture
def empty_path(tmp_path: Path) -> str:
    path = str(tmp_path / "empty.duckdb")
    open_warehouse(path).close()
    return path
