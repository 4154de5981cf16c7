"""The `assets-sync` command's entry point: process-wide settings, then the heavy imports.

Commands that only read the API and the warehouse (`sync`, `reconcile`, `status`, `export`,
`report`) keep NumPy out of pyarrow (`assets_sync.memory.keep_numpy_out_of_pyarrow`: ~10 MB
of RSS), which has to happen before anything imports pyarrow, so before `pipelines.cli`.
`demo` and `emulator` run the emulator, which needs NumPy; anything else (`--help`, a typo)
changes nothing and goes to the parser as it is.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from assets_sync.memory import keep_numpy_out_of_pyarrow

#: The commands that never need NumPy in the process.
WITHOUT_NUMPY = frozenset({"sync", "reconcile", "status", "export", "report"})


def command_of(argv: Sequence[str]) -> str | None:
    """The subcommand `argv` names: its first argument, if it is not an option."""
    return argv[0] if argv and not argv[0].startswith("-") else None


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if command_of(args) in WITHOUT_NUMPY:
        keep_numpy_out_of_pyarrow()
    from pipelines.cli import main as run

    return run(args)
