"""Run the Dagster jobs in-process, as the CLI does: the same code path as `dagster dev`.

The CLI builds the resources from its flags and the environment (secrets stay in process
memory: resources are passed as objects, never as run config), runs a job with
`execute_in_process`, and turns a failure into the user's exception, so it can print one
clear line instead of a Dagster stack trace.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dagster as dg

from pipelines.definitions import build_definitions

#: Dagster's own console logger stays quiet in the CLI: the CLI prints progress, summaries and
#: a one-line reason on failure (the full event log is still there for `dagster dev` runs).
QUIET_LOGGERS: dict[str, Any] = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


@dataclass(frozen=True)
class JobOutcome:
    run_id: str
    metadata: dict[
        str, dict[str, Any]
    ]  # asset or op name -> materialization metadata (plain values)
    checks: dict[str, bool]  # check name -> passed


def _plain(value: Any) -> Any:
    return getattr(value, "value", value)


def user_exception(exc: BaseException) -> BaseException:
    """The exception the engine or warehouse raised, out from under Dagster's wrappers."""
    seen: set[int] = set()
    current: BaseException = exc
    while id(current) not in seen:
        seen.add(id(current))
        inner = getattr(current, "user_exception", None)
        if isinstance(inner, BaseException):
            current = inner
            continue
        if isinstance(current, dg.DagsterError) and current.__cause__ is not None:
            current = current.__cause__
            continue
        break
    return current


def run_job(
    job_name: str,
    resources: Mapping[str, object],
    run_config: Mapping[str, Any] | None = None,
    *,
    asset_selection: Sequence[dg.AssetKey] | None = None,
    tags: Mapping[str, str] | None = None,
) -> JobOutcome:
    """Execute a job of `defs` in-process; raise the user's exception on failure."""
    job = build_definitions(dict(resources)).resolve_job_def(job_name)
    config: dict[str, Any] = dict(QUIET_LOGGERS)
    config.update(run_config or {})
    try:
        result = job.execute_in_process(
            run_config=config,
            asset_selection=list(asset_selection) if asset_selection else None,
            tags=dict(tags or {}),
            raise_on_error=True,
        )
    except Exception as exc:  # noqa: BLE001 - re-raised as the user's exception
        raise user_exception(exc) from None
    metadata: dict[str, dict[str, Any]] = {}
    checks: dict[str, bool] = {}
    for event in result.all_events:
        mat = (
            event.step_materialization_data.materialization
            if event.is_step_materialization
            else None
        )
        if mat is not None:
            name = mat.asset_key.to_user_string()
            metadata.setdefault(name, {}).update({k: _plain(v) for k, v in mat.metadata.items()})
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.asset_check_evaluation_data
            checks[evaluation.check_name] = evaluation.passed
    return JobOutcome(run_id=result.run_id, metadata=metadata, checks=checks)
