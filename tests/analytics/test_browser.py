"""The report in a real browser: headless Chromium (Debian's `chromium` package) loads the
file:// page with name resolution disabled, logs no console message, renders every chart, and
takes a screenshot (kept in $ASSETS_SYNC_SCREENSHOT_DIR when set, for a person to look at).

Without Chromium the tests are skipped locally and FAIL in CI (env `CI` set): CI installs it.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from pipelines.report import render_report, write_atomically, write_report

CONSOLE = re.compile(r":(?:INFO|WARNING|ERROR):CONSOLE[:(]|Uncaught")


def chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("CI"):
        pytest.fail("chromium is not installed: CI must install Debian's chromium package")
    pytest.skip("chromium is not installed (apt-get install chromium)")


def run_chromium(page: Path, work: Path, *mode: str) -> subprocess.CompletedProcess[str]:
    args = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--host-resolver-rules=MAP * ~NOTFOUND",  # nothing may reach the network
        f"--user-data-dir={work / 'profile'}",
        "--enable-logging=stderr",
        "--v=0",
        "--window-size=1280,2200",
        *mode,
        page.as_uri(),
    ]
    done = subprocess.run(args, capture_output=True, text=True, timeout=90, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def console_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if CONSOLE.search(line)]


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def keep(shot: Path, name: str) -> None:
    target = os.environ.get("ASSETS_SYNC_SCREENSHOT_DIR")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, Path(target) / name)


def test_the_console_check_catches_errors(tmp_path: Path) -> None:
    """The harness itself: a page that fails must be seen failing."""
    bad = write_atomically(
        tmp_path / "bad.html", "<!DOCTYPE html><script>console.error('x'); nope();</script>"
    )
    lines = console_lines(run_chromium(bad, tmp_path, "--dump-dom").stderr)
    assert any("Uncaught ReferenceError" in line for line in lines), lines


def test_report_renders_without_console_messages(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    page = write_atomically(
        tmp_path / "report.html",
        render_report(con, "known.duckdb", datetime(2026, 3, 9, tzinfo=UTC)),
    )
    dom = run_chromium(page, tmp_path, "--dump-dom")
    assert console_lines(dom.stderr) == []
    for chart in ("creations", "models", "depth", "funnel", "changes", "deletions", "sync"):
        section = re.search(rf'data-chart="{chart}".*?</section>', dom.stdout, re.S)
        assert section and "<svg" in section.group(0), chart
    assert "<script" not in dom.stdout  # the malicious names stayed text in the live DOM

    shot = tmp_path / "report.png"
    taken = run_chromium(page, tmp_path, f"--screenshot={shot}")
    assert console_lines(taken.stderr) == []
    assert png_size(shot) == (1280, 2200)
    assert shot.stat().st_size > 60_000  # charts and text; a blank page is a few kB
    keep(shot, "report-known.png")


def test_empty_report_renders(empty_path: str, tmp_path: Path) -> None:
    page = write_report(empty_path, str(tmp_path / "empty.html"))
    shot = tmp_path / "empty.png"
    taken = run_chromium(page, tmp_path, f"--screenshot={shot}")
    assert console_lines(taken.stderr) == []
    assert png_size(shot) == (1280, 2200)
    keep(shot, "report-empty.png")


def test_missing_chromium_skips_locally_and_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        chromium()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must install"):
        chromium()
