"""One writer at a time: another process, or another sink of this process, is refused with
a clear WarehouseBusyError and nothing is corrupted."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from tests.warehouse.conftest import page
from tests.warehouse.factory import BASE_MS, make_assets
from warehouse import WarehouseBusyError, WarehouseError, open_warehouse

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
