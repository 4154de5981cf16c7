"""The report reads under its own DuckDB memory limit (1GB, or `$ASSETS_SYNC_REPORT_MEMORY_LIMIT`):
its lineage figures need more than the writer's 128MB at 1M assets. The connection's limit is
restored afterwards, and running out of memory names the setting to raise."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

import pipelines.report as report_module
from pipelines.cli import main
from pipelines.report import render_report
from warehouse import WarehouseError
from warehouse.connection import REPORT_MEMORY_LIMIT_ENV

NOW = datetime(2026, 3, 9, tzinfo=UTC)


def _limit(con: duckdb.DuckDBPyConnection) -> str:
    row = con.execute("SELECT current_setting('memory_limit')").fetchone()
    assert row is not None
    return str(row[0])


def _spy_collect(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    real = report_module.collect

    def spy(con: duckdb.DuckDBPyConnection, *args: Any) -> Any:
        seen.append(_limit(con))
        return real(con, *args)

    monkeypatch.setattr(report_module, "collect", spy)
    return seen


def test_the_report_reads_under_its_own_limit_then_restores_the_connections(
    con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(REPORT_MEMORY_LIMIT_ENV, raising=False)
    seen = _spy_collect(monkeypatch)
    before = _limit(con)
    page = render_report(con, "known.duckdb", NOW)
    assert seen == ["953.6 MiB"]  # 1GB as DuckDB prints it
    assert _limit(con) == before == "122.0 MiB"
    assert "<svg" in page
    monkeypatch.setenv(REPORT_MEMORY_LIMIT_ENV, "2GB")
    render_report(con, "known.duckdb", NOW)
    assert seen[-1] == "1.8 GiB"


def test_running_out_of_memory_names_the_setting_to_raise(
    known_path: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(REPORT_MEMORY_LIMIT_ENV, "1MB")
    out = tmp_path / "report.html"
    assert main(["report", "--warehouse", known_path, "--out", str(out)]) != 0
    err = capsys.readouterr().err
    assert f"set {REPORT_MEMORY_LIMIT_ENV} higher" in err and "1MB" in err
    assert not out.exists()


def test_a_bad_report_limit_is_a_clear_error(
    con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(REPORT_MEMORY_LIMIT_ENV, "roomy")
    with pytest.raises(WarehouseError, match=f"{REPORT_MEMORY_LIMIT_ENV}='roomy' is not a size"):
        render_report(con, "known.duckdb", NOW)
