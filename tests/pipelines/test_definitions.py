"""`pipelines.definitions:defs` loads as `dagster dev` would, with secrets only via EnvVar."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import dagster as dg
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load(monkeypatch: pytest.MonkeyPatch, **env: str) -> dg.Definitions:
    for name in ("SCENARIO_API_KEY", "SCENARIO_API_SECRET", "SCENARIO_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    import pipelines.definitions as module

    return importlib.reload(module).defs


def test_defs_validate_and_name_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    defs = _load(monkeypatch)
    dg.Definitions.validate_loadable(defs)
    repo = defs.get_repository_def()
    assert {"nightly_sync", "backfill", "reconcile"} <= set(repo.job_names)
    assert {s.name for s in repo.schedule_defs} == {
        "nightly_sync_schedule",
        "rolling_reconcile_schedule",
        "weekly_reconcile_schedule",
    }
    keys = {k.to_user_string() for k in repo.asset_graph.get_all_asset_keys()}
    assert {"scenario_assets", "scenario_history", "parquet_exports"} <= keys
    checks = {k.name for k in repo.asset_graph.asset_check_keys}
    assert checks == {
        "unique_ids",
        "monotonic_watermarks",
        "lineage_resolvable",
        "freshness",
        "rejected_records",
    }


def test_secrets_are_env_vars_not_values(monkeypatch: pytest.MonkeyPatch) -> None:
    defs = _load(monkeypatch, SCENARIO_API_KEY="k", SCENARIO_API_SECRET="very-secret-value")
    resource = defs.resources["scenario_api"]
    assert isinstance(resource.api_secret, dg.EnvVar)  # type: ignore[attr-defined]
    assert "very-secret-value" not in repr(resource)
    assert "very-secret-value" not in str(resource)


def test_schedules_make_one_run_per_project(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSETS_SYNC_PROJECTS", "proj_a, proj_b")
    from pipelines.jobs import nightly_sync_schedule, rolling_reconcile_schedule

    context = dg.build_schedule_context(scheduled_execution_time=datetime(2026, 1, 2))
    requests = list(nightly_sync_schedule(context))  # type: ignore[arg-type]
    assert [r.run_config["ops"]["scenario_assets"]["config"]["project_id"] for r in requests] == [
        "proj_a",
        "proj_b",
    ]
    assert len({r.run_key for r in requests}) == 2
    rolling = list(rolling_reconcile_schedule(context))  # type: ignore[arg-type]
    assert all(
        r.run_config["ops"]["reconcile_deletes"]["config"]["rolling_parts"] == 7 for r in rolling
    )


def test_dagster_cli_loads_the_code_location(tmp_path: Path) -> None:
    """What `dagster dev` does first: load the code location named in pyproject's [tool.dagster]."""
    result = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-m", "pipelines.definitions"],
        cwd=ROOT,
        env={**os.environ, "DAGSTER_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dagster_yaml_is_a_working_instance(tmp_path: Path) -> None:
    """DAGSTER_HOME pointing at a folder with our dagster.yaml gives the documented instance."""
    (tmp_path / "dagster.yaml").write_text((ROOT / "dagster.yaml").read_text())
    code = (
        "import dagster as dg, json;"
        "i = dg.DagsterInstance.get();"
        "c = i.get_concurrency_config();"
        "print(json.dumps({'telemetry': i.telemetry_enabled,"
        " 'pool_default': c.pool_config.default_pool_limit,"
        " 'tags': [dict(t) for t in c.run_queue_config.tag_concurrency_limits]}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "DAGSTER_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout.strip().splitlines()[-1])
    assert info["telemetry"] is False
    assert info["pool_default"] == 1
    assert {"key": "assets-sync/writer", "value": "warehouse", "limit": 1} in info["tags"]


def test_the_cli_imports_the_export_only_to_export() -> None:
    """`warehouse.export` and its pyarrow modules (~13 MB of RSS) load when the export runs,
    not with the definitions: a `sync` process's peak is the sync's."""
    script = (
        "import sys, pipelines.cli; "
        "print(sorted(m for m in sys.modules if m == 'warehouse.export' "
        "or m.startswith(('pyarrow.compute', 'pyarrow.parquet', 'pyarrow.fs'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"
