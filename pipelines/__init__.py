"""The composed application: Dagster definitions and the `assets-sync` CLI (thin glue).

Importing the package imports nothing else: the CLI's `status`, `report` and `--help` never
load Dagster (`pipelines.commands`).
"""
