"""Security: the API secret stays in process memory, TLS is verified, the emulator stays on
loopback, API data never becomes SQL or a file path, and a wrong warehouse path fails clearly.

The leak test runs the Dagster assets (sync + Parquet export) on an ephemeral instance with
credentials through `dagster.EnvVar`, against an emulator that throttles and fails now and
then (so retry and error paths run), plus a failing run, then searches for the secret (and
the key, and the Basic header) in: captured logging at DEBUG, stdout/stderr, exception text,
every event of Dagster's event log, the run config and tags, every text/JSON column of every
warehouse table, the DuckDB file's bytes, and every Parquet file's bytes.
"""

from __future__ import annotations

import base64
import logging
import ssl
from pathlib import Path

import dagster as dg
import httpx
import pytest

from assets_sync.auth import BasicAuth, SecretStr
from assets_sync.client import AssetsClient
from assets_sync.config import ApiSettings
from assets_sync.emulator import Emulator, EmulatorConfig, Faults
from assets_sync.emulator.cli import add_arguments
from assets_sync.engine import SyncConfig, run_sync
from assets_sync.errors import AuthError
from assets_sync.ratelimit import NoLimit
from assets_sync.retry import FAST_RETRY
from assets_sync.sink import StreamKey
from assets_sync.transport import StdlibTransport
from pipelines.assets import parquet_exports, scenario_assets
from pipelines.cli import build_parser, main
from pipelines.resources import ProgressResource, ScenarioApiResource, WarehouseResource
from warehouse import WarehouseError, open_warehouse
from warehouse.export import export_parquet

from .support import KEY, SECRET, STREAM, FaultTransport, client_for, json_answer

NEEDLES = (SECRET, KEY, base64.b64encode(f"{KEY}:{SECRET}".encode()).decode())


def assert_clean(where: str, text: str | bytes) -> None:
    data = text.encode() if isinstance(text, str) else text
    for needle in NEEDLES:
        assert needle.encode() not in data, f"credential found in {where}"


def scan_warehouse(path: Path) -> int:
    """Search every text-like column of every table; returns how many columns were searched."""
    searched = 0
    with open_warehouse(path, read_only=True) as wh:
        con = wh.connection
        columns = con.execute(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = 'main' AND (data_type LIKE 'VARCHAR%' OR data_type = 'JSON')"
            " AND table_name IN (SELECT table_name FROM information_schema.tables"
            "                    WHERE table_type = 'BASE TABLE')"
        ).fetchall()
        for table, column in columns:
            for needle in NEEDLES:
                # Identifiers come from DuckDB's own catalog, quoted; the needle is bound.
                sql = (
                    f'SELECT count(*) FROM "{table}" WHERE contains(CAST("{column}" AS VARCHAR), ?)'
                )
                hit = con.execute(sql, [needle]).fetchone()
                assert hit == (0,), f"credential in {table}.{column}"
            searched += 1
    assert_clean("the DuckDB file", path.read_bytes())
    return searched


def test_secret_never_leaves_the_process(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    # One of each kind of error answer, and a few more: each 429 also slows the client's
    # learned pace (8 faults, 6 of them 429s, made this test take 30 s instead of 7).
    faults = Faults(random_429_rate=0.1, error_5xx_rate=0.15, html_error_rate=0.15,
                    max_faults=5, seed=6)  # fmt: skip
    config = EmulatorConfig(assets=800, seed=51, api_key=KEY, api_secret=SECRET, faults=faults)
    path = tmp_path / "wh.duckdb"
    parquet = tmp_path / "parquet"
    with Emulator(config) as emu, dg.DagsterInstance.ephemeral() as instance:
        monkeypatch.setenv("SCENARIO_API_KEY", KEY)
        monkeypatch.setenv("SCENARIO_API_SECRET", SECRET)
        resources = {
            "scenario_api": ScenarioApiResource(
                base_url=emu.base_url,
                api_key=dg.EnvVar("SCENARIO_API_KEY"),
                api_secret=dg.EnvVar("SCENARIO_API_SECRET"),
            ),
            "warehouse": WarehouseResource(path=str(path), parquet_dir=str(parquet)),
            "progress": ProgressResource(log_every_seconds=0.0),
        }
        run_config = {"ops": {"scenario_assets": {"config": {"settle_lag_seconds": 0.0}}}}
        ok = dg.materialize([scenario_assets, parquet_exports], resources=resources,
                            run_config=run_config, instance=instance)  # fmt: skip
        assert ok.success
        injected = emu.stats()["faults"]
        assert {"429", "5xx", "html"} <= set(injected), injected  # every error path was taken
        # A failing run: the key pair no longer matches the server.
        monkeypatch.setenv("SCENARIO_API_SECRET", SECRET + "-rotated")
        bad = dg.materialize([scenario_assets], resources=resources, run_config=run_config,
                             instance=instance, raise_on_error=False)  # fmt: skip
        assert not bad.success
        events = 0
        for run_id in (ok.run_id, bad.run_id):
            run = instance.get_run_by_id(run_id)
            assert run is not None
            assert_clean("run config", repr(run.run_config))
            assert_clean("run tags", repr(run.tags))
            for entry in instance.all_logs(run_id):
                assert_clean("the Dagster event log", repr(entry))
                events += 1
        assert events > 20
    assert_clean("captured logs", caplog.text)
    out, err = capfd.readouterr()
    assert_clean("stdout", out)
    assert_clean("stderr", err)
    assert scan_warehouse(path) >= 10
    files = [p for p in parquet.rglob("*") if p.is_file()]
    assert any(p.suffix == ".parquet" for p in files)
    for file in files:
        assert_clean(f"Parquet {file.name}", file.read_bytes())


def test_a_server_echoing_credentials_is_redacted(tmp_path: Path) -> None:
    """An API (or proxy) that reflects the Authorization header and the secret in its error."""

    def echo(n: int, request: httpx.Request) -> httpx.Response:
        header = request.headers["Authorization"]
        return json_answer(401, {"reason": f"bad credentials {header} ({SECRET})",
                                 "traceId": SECRET})  # fmt: skip

    config = EmulatorConfig(assets=50, seed=1, api_key=KEY, api_secret=SECRET)
    with Emulator(config) as emu, open_warehouse(tmp_path / "wh.duckdb") as wh:
        with client_for(emu, FaultTransport(echo)) as client, pytest.raises(AuthError) as info:
            run_sync(client, wh, STREAM, SyncConfig(settle_lag_ms=0))
        assert_clean("the exception", f"{info.value} {info.value.reason} {info.value!r}")
        errors = wh.connection.execute("SELECT error FROM sync_runs").fetchall()
        assert errors and "***" in str(errors)
    scan_warehouse(tmp_path / "wh.duckdb")


def _ssl_context(client: AssetsClient) -> ssl.SSLContext:
    transport = client._http._transport
    if isinstance(transport, StdlibTransport):
        return transport._ssl_context
    assert isinstance(transport, httpx.HTTPTransport)
    context = transport._pool._ssl_context
    assert context is not None
    return context


def test_tls_is_verified_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    for client in (
        AssetsClient(ApiSettings()),
        AssetsClient(ApiSettings(credentials=BasicAuth(SecretStr(KEY), SecretStr(SECRET)))),
    ):
        with client:
            assert isinstance(client._http._transport, StdlibTransport)
            context = _ssl_context(client)
            assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    with ScenarioApiResource().client() as client:
        assert client.settings.base_url.startswith("https://")
        assert _ssl_context(client).verify_mode == ssl.CERT_REQUIRED
    # Behind a proxy, httpx's own transport (which honours it) verifies the same way.
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    with AssetsClient(ApiSettings()) as client:
        assert isinstance(client._http._transport, httpx.HTTPTransport)
        context = _ssl_context(client)
        assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def test_emulator_binds_loopback_by_default() -> None:
    emu = Emulator(EmulatorConfig(assets=5))
    try:
        assert emu.bind().server_address[0] == "127.0.0.1"
    finally:
        emu.stop()
    import argparse

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert parser.parse_args([]).host == "127.0.0.1"
    assert build_parser().parse_args(["emulator"]).host == "127.0.0.1"


def test_api_data_never_becomes_sql_or_a_path(tmp_path: Path) -> None:
    hostile = ["asset_'); DROP TABLE assets; --", "../../../../tmp/pwned", "asset_\\..\\x",
               'asset_" OR 1=1 --', "asset_%s%n{0}"]  # fmt: skip
    records = [
        {"id": i, "updatedAt": f"2025-01-0{n + 1}T00:00:00.000Z",
         "createdAt": "2025-01-01T00:00:00Z", "ownerId": "proj_../../x",
         "metadata": {"type": "'; DELETE FROM sync_state; --", "parentId": "../../etc"}}
        for n, i in enumerate(hostile)
    ]  # fmt: skip

    def handler(request: httpx.Request) -> httpx.Response:
        return json_answer(200, {"assets": records})

    settings = ApiSettings(base_url="https://api.invalid/v1")
    client = AssetsClient(settings, transport=httpx.MockTransport(handler), retry=FAST_RETRY,
                          limiter=NoLimit())  # fmt: skip
    path = tmp_path / "wh.duckdb"
    stream = StreamKey(None)
    with client, open_warehouse(path) as wh:
        run_sync(client, wh, stream, SyncConfig(start_ms=0, slices=1, settle_lag_ms=0))
        ids = {r[0] for r in wh.connection.execute("SELECT id FROM assets").fetchall()}
        assert ids == set(hostile)
        assert wh.stream_state(stream).watermark_ms is not None
        export_parquet(wh.connection, str(tmp_path / "parquet"))
    for file in tmp_path.rglob("*"):
        assert str(file.resolve()).startswith(str(tmp_path.resolve()))
        assert "pwned" not in file.name and "etc" not in file.parts
    assert not Path("/tmp/pwned").exists()


@pytest.mark.parametrize("kind", ["text file", "directory", "parquet file"])
def test_a_path_that_is_not_a_duckdb_file_fails_clearly(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "target"
    if kind == "directory":
        target.mkdir()
    elif kind == "text file":
        target.write_text("these are my notes, not a database\n" * 200)
    else:
        target.write_bytes(b"PAR1" + b"\x00" * 4096 + b"PAR1")
    before = b"" if target.is_dir() else target.read_bytes()
    with pytest.raises(WarehouseError) as info:
        open_warehouse(target)
    assert "not a DuckDB" in str(info.value) or "directory" in str(info.value)
    monkeypatch.setenv("SCENARIO_API_URL", "http://127.0.0.1:9/v1")
    assert main(["sync", "--warehouse", str(target), "--quiet", "--no-export"]) == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and str(target) in lines[0] and "Traceback" not in err, err
    assert ("not a DuckDB" in err) or ("directory" in err)
    if not target.is_dir():
        assert target.read_bytes() == before  # never overwritten
