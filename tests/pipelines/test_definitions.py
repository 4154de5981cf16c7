"""`pipelines.definitions:defs` loads as `dagster dev` would, with secrets only via EnvVar."""

from __future__ import annotations

import importlib
import subprocess
import sys
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

    context = dg.build_schedule_context(
        scheduled_execution_time=__import__("datetime").datetime(2026, 1, 2)
    )
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
        env={**__import__("os").environ, "DAGSTER_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
