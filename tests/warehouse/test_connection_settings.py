"""The writer's DuckDB settings: a bounded memory limit (configurable), no progress bar."""

from __future__ import annotations

import pytest

from warehouse import WarehouseError, open_warehouse
from warehouse.connection import MEMORY_LIMIT_ENV


def setting(db_path: str, name: str) -> str:
    with open_warehouse(db_path) as wh:
        row = wh.connection.execute("SELECT current_setting(?)", [name]).fetchone()
    assert row is not None
    return str(row[0])


def test_memory_limit_defaults_to_256mb(db_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MEMORY_LIMIT_ENV, raising=False)
    assert setting(db_path, "memory_limit") == "244.1 MiB"  # 256 MB as DuckDB prints it
    assert setting(db_path, "enable_progress_bar").lower() == "false"


def test_memory_limit_from_the_environment(db_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "1GB")
    assert setting(db_path, "memory_limit") == "953.6 MiB"


@pytest.mark.parametrize("value", ["lots", "-5MB", "12", "1GB; DROP TABLE assets"])
def test_a_bad_memory_limit_is_a_clear_error(
    db_path: str, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv(MEMORY_LIMIT_ENV, value)
    with pytest.raises(WarehouseError, match=f"{MEMORY_LIMIT_ENV}=.* is not a size"):
        open_warehouse(db_path)
