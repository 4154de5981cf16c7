"""The CLI's commands. `status` and `report` read the warehouse and never import Dagster; the
commands that run a job (`sync`, `reconcile`, `export`, and `demo`, which runs them) import
`pipelines.job_commands`, and Dagster with it, only when they run.
"""

from __future__ import annotations

import argparse
import json

from rich.console import Console

from pipelines.status_view import render_status, status_as_json
from warehouse import open_warehouse
from warehouse.status import warehouse_status


def sync(args: argparse.Namespace, console: Console) -> int:
    from pipelines import job_commands

    return job_commands.sync(args, console)


def reconcile(args: argparse.Namespace, console: Console) -> int:
    from pipelines import job_commands

    return job_commands.reconcile(args, console)


def export(args: argparse.Namespace, console: Console) -> int:
    from pipelines import job_commands

    return job_commands.export(args, console)


def status(args: argparse.Namespace, console: Console) -> int:
    with open_warehouse(args.warehouse, read_only=True) as reader:
        report = warehouse_status(reader.connection)
    if args.json:
        print(json.dumps(status_as_json(report), indent=2))
    else:
        render_status(console, report)
    return 0


def demo(args: argparse.Namespace, console: Console) -> int:
    from pipelines.demo import run_demo

    return run_demo(args, console)


def report(args: argparse.Namespace, console: Console) -> int:
    from pipelines.report import write_report

    path = write_report(args.warehouse, args.out)
    console.print(f"report written to {path}")
    return 0
