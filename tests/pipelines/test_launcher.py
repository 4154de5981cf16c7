"""`pipelines.launcher`: the `assets-sync` entry point keeps NumPy out of the commands that
never need it, before anything imports pyarrow, and leaves it to `demo` and `emulator`."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pipelines.launcher import WITHOUT_NUMPY, command_of

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["sync", "--warehouse", "w.duckdb"], "sync"),
        (["status"], "status"),
        (["--help"], None),
        ([], None),
        (["demo", "--dir", "d"], "demo"),
    ],
)
def test_the_command_is_the_first_argument(argv: list[str], command: str | None) -> None:
    assert command_of(argv) == command


def test_the_emulator_commands_keep_numpy() -> None:
    assert {"sync", "reconcile", "status", "export", "report"} == WITHOUT_NUMPY
    assert not {"demo", "emulator"} & WITHOUT_NUMPY


def _launch(*argv: str) -> str:
    """`pipelines.launcher.main(argv)` in a fresh interpreter; prints whether NumPy is loaded
    afterwards and whether it can still be imported."""
    script = textwrap.dedent(
        """
        import sys
        from pipelines.launcher import main
        try:
            main(sys.argv[1:])
        except SystemExit:
            pass
        loaded = "numpy" in sys.modules
        try:
            import numpy
            importable = True
        except ImportError:
            importable = False
        print(loaded, importable)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script, *argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()[-1]


def test_status_runs_without_numpy(tmp_path: Path) -> None:
    assert _launch("status", "--warehouse", str(tmp_path / "w.duckdb"), "--json") == "False False"


def test_the_emulator_command_may_use_numpy() -> None:
    assert _launch("emulator", "--help") == "True True"  # pyarrow imported it, as usual


def test_a_typo_changes_nothing() -> None:
    assert _launch("synk") == "True True"


@pytest.mark.parametrize("argv", [["status", "--json"], ["--help"], ["report"]])
def test_the_commands_that_run_no_job_never_import_dagster(argv: list[str], tmp_path: Path) -> None:
    """Dagster's import is most of a second and ~40 MB: `status` and `--help` answer without it
    (`pipelines.commands`); `sync`, `reconcile` and `export` import it when they run."""
    script = textwrap.dedent(
        """
        import sys
        from pipelines.launcher import main
        try:
            rc = main(sys.argv[1:])
        except SystemExit as exc:
            rc = exc.code
        print(rc, "dagster" in sys.modules)
        """
    )
    if argv[0] != "--help":  # an empty warehouse: `report` writes its page, `status` its JSON
        subprocess.run(
            [sys.executable, "-c", f"from warehouse import open_warehouse; "
             f"open_warehouse({str(tmp_path / 'w.duckdb')!r}).close()"],
            check=True, cwd=ROOT, timeout=120,
        )  # fmt: skip
        argv = [*argv, "--warehouse", str(tmp_path / "w.duckdb")]
        if argv[0] == "report":
            argv += ["--out", str(tmp_path / "report.html")]
    out = subprocess.run(
        [sys.executable, "-c", script, *argv], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "0 False", out.stdout
