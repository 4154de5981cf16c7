"""The `assets-sync` command as a user runs it: a subprocess, real flags, real exit codes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from assets_sync.emulator import Emulator

from .conftest import API_SECRET, creds


def cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SCENARIO_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "pipelines", *args],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_sync_status_export_reconcile(emulator: Emulator, tmp_path: Path) -> None:
    wh = str(tmp_path / "wh.duckdb")
    env = creds(emulator)
    done = cli("sync", "--warehouse", wh, "--settle-lag-seconds", "0", "--quiet", env=env)
    assert done.returncode == 0, done.stderr
    assert "new" in done.stdout and f"{len(emulator.truth()):,}" in done.stdout
    assert API_SECRET not in done.stdout + done.stderr

    status = cli("status", "--warehouse", wh, "--json")
    assert status.returncode == 0, status.stderr
    streams = json.loads(status.stdout)["streams"]
    assert len(streams) == 1 and streams[0]["live_assets"] == len(emulator.truth())

    human = cli("status", "--warehouse", wh)
    assert human.returncode == 0 and "watermark" in human.stdout.lower()

    out = tmp_path / "pq"
    exported = cli("export", "--warehouse", wh, "--parquet-dir", str(out))
    assert exported.returncode == 0, exported.stderr
    with duckdb.connect() as con:
        n = con.execute(
            "SELECT count(*) FROM read_parquet(?, hive_partitioning = true)",
            [str(out / "assets" / "**" / "*.parquet")],
        ).fetchone()
    assert n is not None and n[0] == len(emulator.truth())

    gone = emulator.delete(n=4)
    rec = cli("reconcile", "--warehouse", wh, "--quiet", env=env)
    assert rec.returncode == 0, rec.stderr
    assert f"marked deleted {len(gone)}" in rec.stdout


def test_bad_credentials_fail_in_one_line(emulator: Emulator, tmp_path: Path) -> None:
    done = cli(
        "sync",
        "--warehouse",
        str(tmp_path / "wh.duckdb"),
        "--quiet",
        env=creds(emulator, "wrong-secret"),
    )
    assert done.returncode == 1
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "credentials" in lines[0], done.stderr
    assert "wrong-secret" not in done.stderr
    assert "Traceback" not in done.stderr


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_api_fails_clearly(tmp_path: Path) -> None:
    env = {"SCENARIO_API_URL": f"http://127.0.0.1:{_closed_port()}/v1"}
    done = cli("sync", "--warehouse", str(tmp_path / "wh.duckdb"), "--quiet", env=env)
    assert done.returncode == 1
    assert "cannot reach the API" in done.stderr, done.stderr


def test_busy_warehouse_fails_clearly(emulator: Emulator, tmp_path: Path) -> None:
    wh = tmp_path / "wh.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb,sys,time; c=duckdb.connect(sys.argv[1]); "
            "print('ok', flush=True); time.sleep(60)",
            str(wh),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ok"
        done = cli("sync", "--warehouse", str(wh), "--quiet", env=creds(emulator))
    finally:
        holder.kill()
        holder.wait()
    assert done.returncode == 1
    assert "busy" in done.stderr.lower(), done.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["sync", "--concurrency", "many"], "invalid int value"),
        (["frobnicate"], "invalid choice"),
        (["sync", "--filter", "nokey"], "KEY=VALUE"),
    ],
)
def test_bad_flags(args: list[str], needle: str, tmp_path: Path) -> None:
    done = cli(*args, "--warehouse", str(tmp_path / "x.duckdb"))
    assert done.returncode in (1, 2)
    assert needle in done.stderr


def test_not_a_duckdb_file(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.txt"
    bogus.write_text("hello, this is not a database\n" * 100)
    done = cli("status", "--warehouse", str(bogus))
    assert done.returncode == 1
    assert "error" in done.stderr.lower() and "Traceback" not in done.stderr


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    done = cli("demo", "--dir", str(tmp_path / "demo"), "--assets", "1500", "--quiet", timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "equals the emulator's truth" in done.stdout
    assert (tmp_path / "demo" / "warehouse.duckdb").exists()
    assert (tmp_path / "demo" / "report.html").stat().st_size > 10_000
    assert (tmp_path / "demo" / "parquet" / "_CURRENT.json").exists()
