"""The composed application: Dagster definitions and the `assets-sync` CLI (thin glue)."""

import warnings

import dagster as _dagster

# We use `backfill_policy` (beta in Dagster) on purpose; its warning would only be noise on
# every CLI invocation.
warnings.filterwarnings("ignore", category=_dagster.BetaWarning)
