"""prefer_system_allocator: opt-in, respects ARROW_DEFAULT_MEMORY_POOL."""

from __future__ import annotations

import importlib.util
import json
import platform
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from assets_sync.memory import ARROW_POOL_ENV, prefer_system_allocator

ROOT = Path(__file__).resolve().parents[2]


def _fresh(script: str, *args: str) -> str:
    """Run `script` in a fresh interpreter at the repository root; its stdout, stripped."""
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


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
    script = """
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
    assert _fresh(script) == "ok"


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


def test_a_lean_sync_process_keeps_numpy_and_pandas_out_and_uses_the_system_allocator() -> None:
    """In a fresh interpreter, as the README's Python block starts: one call, then a
    normalization imports neither NumPy nor pandas, and Arrow allocates with malloc."""
    script = """
        import json, sys
        from assets_sync.memory import lean_sync_process
        took = lean_sync_process()
        from assets_sync.normalize import normalize
        from tests.assets_sync.fakeapi import make_asset
        assets, _ = normalize([make_asset(1, 5)])
        import pyarrow as pa
        assert assets.num_rows == 1 and pa.default_memory_pool().backend_name == "system"
        took["modules"] = sorted({"numpy", "pandas"} & set(sys.modules))
        print(json.dumps(took))
        """
    took = json.loads(_fresh(script))
    assert took["allocator"] == "system" and took["modules"] == []
    assert took["numpy_kept_out"] is (importlib.util.find_spec("numpy") is not None)
    assert took["pandas_kept_out"] is (importlib.util.find_spec("pandas") is not None)


def test_a_lean_sync_process_after_pyarrow_was_imported_keeps_what_it_can() -> None:
    script = """
        import json
        import pyarrow
        from assets_sync.memory import lean_sync_process
        print(json.dumps(lean_sync_process()))
        """
    took = json.loads(_fresh(script))
    assert took["numpy_kept_out"] is False and took["allocator"] == "system"


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
        assert _fresh(code) == "ok"


def test_a_sync_runs_with_numpy_kept_out_of_pyarrow(tmp_path: Path) -> None:
    """A whole sync into a DuckDB warehouse (tie group bigger than a page, several writes),
    then a Parquet export that splits its partition into buckets: no NumPy anywhere, and
    `import numpy` afterwards fails naming the opt-in, rather than half-working."""
    script = """
        import sys
        from assets_sync.memory import keep_numpy_out_of_pyarrow
        assert keep_numpy_out_of_pyarrow()
        assert not keep_numpy_out_of_pyarrow()  # pyarrow is imported now: nothing to do
        from assets_sync.client import AssetsClient
        from assets_sync.config import ApiSettings
        from assets_sync.engine import SyncConfig, run_sync
        from assets_sync.ratelimit import NoLimit
        from assets_sync.retry import FAST_RETRY
        from assets_sync.sink import StreamKey
        from tests.assets_sync.fakeapi import FakeApi, make_asset
        from warehouse import open_warehouse
        from warehouse.export import export_parquet

        assets = [make_asset(i, 1000 + i * 4000) for i in range(300)]
        assets += [make_asset(10_000 + i, 500_000) for i in range(17)]
        api = FakeApi(assets)
        cfg = SyncConfig(lookback_ms=100, settle_lag_ms=10, slices=4, concurrency=3,
                         page_size=5, min_slice_ms=1, max_rows_per_write=40)
        client = AssetsClient(ApiSettings(base_url="http://fake/v1"),
                              transport=api.transport(), retry=FAST_RETRY, limiter=NoLimit())
        with client, open_warehouse(sys.argv[1] + "/w.duckdb") as wh:
            report = run_sync(client, wh, StreamKey("proj_test"), cfg, run_start_ms=2_000_000)
            assert report.counts.new == len(assets), report.counts
            ids = {r[0] for r in wh.connection.execute("SELECT id FROM assets").fetchall()}
            assert ids == set(api.assets)
        done = export_parquet(sys.argv[1] + "/w.duckdb", sys.argv[1] + "/pq",
                              max_bucket_bytes=4096)
        assert done.rows["assets"] == len(assets), done.rows
        assert "numpy" not in sys.modules
        try:
            import numpy
        except ImportError as exc:
            assert "keep_numpy_out_of_pyarrow" in str(exc)
        else:
            raise AssertionError("numpy was importable")
        print("ok")
    """
    assert _fresh(script, str(tmp_path)) == "ok"


def test_keeping_numpy_out_does_nothing_once_pyarrow_is_imported() -> None:
    script = """
        import sys
        import pyarrow
        from assets_sync.memory import keep_numpy_out_of_pyarrow
        had = "numpy" in sys.modules
        print(keep_numpy_out_of_pyarrow(), ("numpy" in sys.modules) == had)
        import numpy  # still importable: nothing was blocked
    """
    assert _fresh(script) == "False True"


def test_large_blocks_are_mapped_on_their_own_unless_the_environment_says() -> None:
    script = """
        import sys
        from assets_sync.memory import mmap_large_blocks
        print(mmap_large_blocks())
    """
    glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
    assert _fresh(script) == str(glibc)
    env_script = """
        import os, sys
        os.environ["MALLOC_MMAP_THRESHOLD_"] = "65536"
        from assets_sync.memory import mmap_large_blocks
        print(mmap_large_blocks())
    """
    assert _fresh(env_script) == "False"


def test_the_system_allocator_comes_with_mapped_large_blocks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import assets_sync.memory as memory

    calls: list[str] = []
    monkeypatch.setattr(memory, "mmap_large_blocks", lambda: calls.append("mmap") or True)
    monkeypatch.delenv(ARROW_POOL_ENV, raising=False)
    assert memory.prefer_system_allocator() == "system"
    assert calls == ["mmap"]
    monkeypatch.setenv(ARROW_POOL_ENV, "mimalloc")
    pa.set_memory_pool(pa.mimalloc_memory_pool())
    assert memory.prefer_system_allocator() == "mimalloc"
    assert calls == ["mmap"]  # not for another allocator
