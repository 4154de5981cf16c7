"""The assets, jobs and checks materialized in-process against the emulator."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb

from assets_sync.emulator import Emulator
from pipelines.assets import parquet_exports, scenario_assets
from pipelines.checks import scenario_asset_checks
from pipelines.definitions import defs

from .conftest import API_SECRET

FAST = {"settle_lag_seconds": 0.0, "slices": 4, "concurrency": 2}


def _materialize(resources: dict[str, object]) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [scenario_assets, parquet_exports, *scenario_asset_checks],
        resources=resources,
        run_config={"ops": {"scenario_assets": {"config": FAST}}},
    )


def _metadata(result: dg.ExecuteInProcessResult, key: str) -> dict[str, object]:
    mats = result.asset_materializations_for_node(key)
    assert mats, f"no materialization of {key}"
    return {k: getattr(v, "value", v) for k, v in mats[-1].metadata.items()}


def _live_ids(path: Path) -> set[str]:
    with duckdb.connect(str(path), read_only=True) as con:
        return {
            r[0] for r in con.execute("SELECT id FROM assets WHERE deleted_at IS NULL").fetchall()
        }


def test_sync_materializes_with_metadata_and_checks(
    emulator: Emulator, resources: dict[str, object], warehouse_path: Path
) -> None:
    result = _materialize(resources)
    assert result.success
    md = _metadata(result, "scenario_assets")
    truth = emulator.truth()
    assert md["fetched"] >= len(truth)
    assert md["new"] == len(truth)
    for key in ("updated", "unchanged", "rejected", "pages", "retries", "throttled",
                "overlap_dropped", "tie_groups", "keyset_follows",
                "watermark_before", "watermark_after", "duration_s", "summary"):  # fmt: skip
        assert key in md
    assert md["keyset_follows"] == 0  # the fixture's emulator hands out offset tokens
    assert "| new |" in str(md["summary"])
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks["unique_ids"].passed
    assert checks["monotonic_watermarks"].passed
    assert checks["freshness"].passed
    assert checks["rejected_records"].passed
    lineage = checks["lineage_resolvable"]  # the emulator's trees are whole: every edge resolves
    assert lineage.passed and lineage.metadata["dangling"].value == 0
    assert lineage.metadata["edges"].value not in (0, None)
    assert _live_ids(warehouse_path) == {a["id"] for a in truth}
    exports = _metadata(result, "parquet_exports")
    assert exports["rows_assets"] == len(truth)

    updated = emulator.update(n=25)
    second = _materialize(resources)
    md2 = _metadata(second, "scenario_assets")
    assert md2["updated"] == len(updated)
    assert md2["new"] == 0
    assert md2["watermark_after"] >= md["watermark_after"]


def test_reconcile_job_marks_deletions(
    emulator: Emulator, resources: dict[str, object], warehouse_path: Path
) -> None:
    assert _materialize(resources).success
    gone = set(emulator.delete(n=7))
    result = defs.resolve_job_def("reconcile").execute_in_process(
        resources=resources,
        run_config={"ops": {"reconcile_deletes": {"config": FAST}}},
    )
    assert result.success
    mats = result.asset_materializations_for_node("reconcile_deletes")
    assert len(mats) == 1 and mats[0].metadata["deleted"].value == len(gone)
    assert mats[0].asset_key == dg.AssetKey("scenario_assets")
    assert _live_ids(warehouse_path) == {a["id"] for a in emulator.truth()}


def test_backfill_over_a_partition_range(
    emulator: Emulator, resources: dict[str, object], warehouse_path: Path
) -> None:
    truth = emulator.truth()
    days = sorted({a["updatedAt"][:10] for a in truth})
    start, end = days[len(days) // 3], days[2 * len(days) // 3]
    result = defs.resolve_job_def("backfill").execute_in_process(
        resources=resources,
        run_config={"ops": {"scenario_history": {"config": FAST}}},
        tags={
            "dagster/asset_partition_range_start": start,
            "dagster/asset_partition_range_end": end,
        },
    )
    assert result.success
    expected = {a["id"] for a in truth if start <= a["updatedAt"][:10] <= end}
    assert expected and _live_ids(warehouse_path) == expected


def test_secret_never_reaches_the_event_log(resources: dict[str, object]) -> None:
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        [scenario_assets, *scenario_asset_checks],
        resources=resources,
        run_config={"ops": {"scenario_assets": {"config": FAST}}},
        instance=instance,
    )
    assert result.success
    records = instance.all_logs(result.run_id)
    text = "\n".join(str(r) for r in records)
    assert API_SECRET not in text
    run = instance.get_run_by_id(result.run_id)
    assert run is not None and API_SECRET not in str(run.run_config)


def test_one_check_runs_alone(resources: dict[str, object]) -> None:
    """The five checks share a step (and a read of the warehouse), but stay selectable one by
    one: a selection of one runs that one only."""
    assert _materialize(resources).success
    freshness = dg.AssetCheckKey(scenario_assets.key, "freshness")
    result = dg.materialize(
        [scenario_assets, *scenario_asset_checks],
        resources=resources,
        selection=dg.AssetSelection.checks(freshness),
    )
    assert result.success
    evaluations = result.get_asset_check_evaluations()
    assert [e.check_name for e in evaluations] == ["freshness"]
    assert evaluations[0].passed
