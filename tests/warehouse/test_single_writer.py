"""One writer at a time: another process, or another sink of this process, is refused with
a clear WarehouseBusyError and nothing is corrupted."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import duckdb
import pytest

import warehouse.connection as connection_module
from tests.warehouse.conftest import page
from tests.warehouse.factory import BASE_MS, make_assets
from warehouse import DuckDBSink, WarehouseBusyError, WarehouseError, open_warehouse

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SECOND_PROCESS = textwrap.dedent(
    """
    import sys
    from warehouse import WarehouseBusyError, open_warehouse
    try:
        open_warehouse(sys.argv[1], read_only=sys.argv[2] == "ro")
    except WarehouseBusyError as exc:
        print("BUSY:", exc)
        sys.exit(3)
    print("OPENED")
    """
)


@pytest.mark.parametrize("mode", ["rw", "ro"])
def test_second_process_gets_a_clear_busy_error(db_path: str, mode: str) -> None:
    with open_warehouse(db_path) as wh:
        wh.write([page(make_assets([1], [BASE_MS]))])
        proc = subprocess.run(
            [sys.executable, "-c", SECOND_PROCESS, db_path, mode],
            capture_output=True, text=True, cwd=ROOT, timeout=60,
        )  # fmt: skip
        assert proc.returncode == 3, proc.stdout + proc.stderr
        assert f"warehouse {os.path.realpath(db_path)} is in use by another process" in proc.stdout
        assert f"pid {os.getpid()}" in proc.stdout
        wh.write([page(make_assets([2], [BASE_MS]))])  # the holder carries on
    with open_warehouse(db_path, read_only=True) as ro:
        assert ro.connection.execute("SELECT count(*) FROM assets").fetchone() == (2,)


def test_second_writer_in_the_same_process_is_refused(db_path: str) -> None:
    with open_warehouse(db_path):
        with pytest.raises(WarehouseBusyError, match="already open for writing in this process"):
            open_warehouse(db_path)
        with pytest.raises(WarehouseBusyError, match="already open in this process"):
            open_warehouse(db_path, read_only=True)
    with open_warehouse(db_path):  # released on close
        pass


def test_read_only_handle_refuses_writes(db_path: str) -> None:
    open_warehouse(db_path).close()
    with (
        open_warehouse(db_path, read_only=True) as ro,
        open_warehouse(db_path, read_only=True),  # readers share
        pytest.raises(WarehouseError, match="read-only"),
    ):
        ro.write([page(make_assets([1], [BASE_MS]))])


#: Opens the file plainly with DuckDB (read-write or read-only), says so, holds it `hold` s.
HOLDER = textwrap.dedent(
    """
    import sys, time, duckdb
    con = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == "ro")
    print("READY", flush=True)
    time.sleep(float(sys.argv[3]))
    con.close()
    """
)


def _take_the_file_while_detached(
    monkeypatch: pytest.MonkeyPatch, db_path: str, mode: str, hold_s: float
) -> list[subprocess.Popen[str]]:
    """Make another process open the file in the moment a re-attach has released it."""
    real_attach = connection_module._attach
    holders: list[subprocess.Popen[str]] = []

    def attach(con: duckdb.DuckDBPyConnection, path: str) -> None:
        if not holders:
            proc = subprocess.Popen(
                [sys.executable, "-c", HOLDER, db_path, mode, str(hold_s)],
                stdout=subprocess.PIPE, text=True, cwd=ROOT,
            )  # fmt: skip
            holders.append(proc)
            assert proc.stdout is not None and proc.stdout.readline().strip() == "READY"
        real_attach(con, path)

    monkeypatch.setattr(connection_module, "_attach", attach)
    return holders


def test_a_writer_that_takes_the_file_while_it_is_reattached_stops_the_sink_cleanly(
    db_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The one moment the writer lets go of DuckDB's lock: another writer that opens the file
    then keeps it. The sink waits `REATTACH_WAIT_S`, then stops with a busy error naming that
    process and closes itself; the write that asked for the re-attach was not started, and
    everything committed before is there."""
    monkeypatch.setattr(connection_module, "REATTACH_WAIT_S", 0.5)
    wh = DuckDBSink(db_path, reattach_rows=1)
    wh.write([page(make_assets([1, 2], [BASE_MS, BASE_MS]))])
    holders = _take_the_file_while_detached(monkeypatch, db_path, "rw", hold_s=60)
    try:
        t0 = time.monotonic()
        with pytest.raises(WarehouseBusyError, match="in use by another process") as busy:
            wh.write([page(make_assets([3], [BASE_MS]))])
        assert 0.5 <= time.monotonic() - t0 < 30
        assert f"pid {holders[0].pid}" in str(busy.value)
        assert wh.reattached == 0
        with pytest.raises(WarehouseError, match="is closed"):
            wh.write([page(make_assets([3], [BASE_MS]))])
    finally:
        for proc in holders:
            proc.kill()
            proc.wait()
    wh.close()  # closing again is harmless
    with open_warehouse(db_path) as again:  # released: this process may write again
        assert again.connection.execute("SELECT count(*) FROM assets").fetchone() == (2,)


def test_a_reader_that_opens_the_file_while_it_is_reattached_is_waited_for(
    db_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader (a `status` from another shell) that opens the file in that moment holds a
    shared lock for a short while: the writer waits for it and goes on."""
    wh = DuckDBSink(db_path, reattach_rows=1)
    try:
        wh.write([page(make_assets([1, 2], [BASE_MS, BASE_MS]))])
        holders = _take_the_file_while_detached(monkeypatch, db_path, "ro", hold_s=1.0)
        wh.write([page(make_assets([3], [BASE_MS]))])
        assert holders[0].wait(timeout=30) == 0
        assert wh.reattached == 1
        assert wh.connection.execute("SELECT count(*) FROM assets").fetchone() == (3,)
    finally:
        wh.close()
