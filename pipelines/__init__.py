"""The composed application: Dagster definitions and the `assets-sync` CLI (thin glue)."""
