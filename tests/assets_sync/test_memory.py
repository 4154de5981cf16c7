"""prefer_system_allocator: opt-in, respects ARROW_DEFAULT_MEMORY_POOL."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from assets_sync.memory import ARROW_POOL_ENV, prefer_system_allocator

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def restore_pool() -> Iterator[None]:
    before = pa.default_memory_pool()
    yield
    pa.set_memory_pool(before)


def test_switches_arrow_to_the_system_allocator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ARROW_POOL_ENV, raising=False)
    assert prefer_system_allocator() == "system"
    assert pa.array(["x"] * 10).to_pylist() == ["x"] * 10


def test_an_explicit_choice_in_the_environment_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ARROW_POOL_ENV, "mimalloc")
    before = pa.default_memory_pool().backend_name
    assert prefer_system_allocator() == before


@pytest.mark.skipif(importlib.util.find_spec("pandas") is None, reason="pandas not installed")
def test_pyarrow_leaves_pandas_alone_and_pandas_still_works() -> None:
    """In a fresh interpreter (this one imported pandas long ago): after the opt-out, a whole
    normalization and a CLI start do not import pandas; importing it afterwards still works."""
    script = textwrap.dedent(
        """
        import sys
        from assets_sync.memory import keep_pandas_out_of_pyarrow
        assert "pandas" not in sys.modules
        assert keep_pandas_out_of_pyarrow()
        import pipelines.cli
        from assets_sync.normalize import normalize
        from tests.assets_sync.fakeapi import make_asset
        assets, rejects = normalize([make_asset(1, 5), {"no": "id"}])
        assert assets.num_rows == 1 and rejects.num_rows == 1
        assert "pandas" not in sys.modules, "pyarrow imported pandas"
        import pandas
        import pyarrow as pa
        assert isinstance(pa.table({"a": [1]}).to_pandas(), pandas.DataFrame)
        assert not keep_pandas_out_of_pyarrow()  # pandas is imported now: nothing to do
        print("ok")
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_the_cli_opts_out_before_running_a_command(monkeypatch: pytest.MonkeyPatch) -> None:
    import pipelines.cli as cli

    calls: list[str] = []
    monkeypatch.setattr(cli, "keep_pandas_out_of_pyarrow", lambda: calls.append("pandas"))
    monkeypatch.setattr(cli, "prefer_system_allocator", lambda: calls.append("allocator"))
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert calls == []  # --help exits while parsing: nothing process-wide was touched
    monkeypatch.setattr(cli.Console, "print", lambda *a, **k: None)
    cli.main(["status", "--warehouse", str(ROOT / "no-such-dir" / "w.duckdb")])
    assert calls == ["allocator", "pandas"]


def test_httpx_is_imported_without_its_command_line() -> None:
    """In a fresh interpreter: importing the client leaves out httpx's console command (and
    so click, rich and pygments), the client still works, and click, rich and httpx's own
    `main` stub are still there for whoever wants them. A process that imported httpx first
    keeps it as it was."""
    script = textwrap.dedent(
        """
        import sys
        import assets_sync.client
        import httpx
        assert "httpx._main" not in sys.modules and "rich" not in sys.modules
        assert "click" not in sys.modules
        assert httpx.Response(200, json={"a": 1}).json() == {"a": 1}
        assert callable(httpx.main)
        import rich.console, click  # still importable
        print("ok")
        """
    )
    before = textwrap.dedent(
        """
        import sys
        import httpx
        from assets_sync._lean_httpx import import_httpx_without_its_cli
        assert not import_httpx_without_its_cli()
        print("ok" if "httpx._main" in sys.modules else "cli missing")
        """
    )
    for code in (script, before):
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
        )
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == "ok"
