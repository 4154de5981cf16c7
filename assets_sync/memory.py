"""Process-wide memory settings a program using assets-sync opts into at start-up.

A library must not change process-wide state behind its user's back, so nothing here runs on
import: the CLI and the Dagster code location call `prefer_system_allocator()` once, and the
CLI (a process of its own, which never hands pandas objects to pyarrow) also calls
`keep_pandas_out_of_pyarrow()`.
"""

from __future__ import annotations

import os
import sys

import pyarrow as pa

ARROW_POOL_ENV = "ARROW_DEFAULT_MEMORY_POOL"


def prefer_system_allocator() -> str:
    """Let pyarrow allocate with the C library's malloc instead of its bundled mimalloc.

    mimalloc keeps one heap per thread: with the fetch threads building Arrow arrays and the
    writer freeing them, a 100k-asset sync peaked about 85 MB higher (benchmarks/RESULTS.md,
    same speed). `$ARROW_DEFAULT_MEMORY_POOL`, when set, is respected instead. Returns the
    backend in use.
    """
    if not os.environ.get(ARROW_POOL_ENV):
        pa.set_memory_pool(pa.system_memory_pool())
    return str(pa.default_memory_pool().backend_name)


class _BlockPandas:
    """A meta path finder that makes `import pandas` fail while it is installed."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ImportError(f"{name}: kept out of pyarrow by assets_sync.memory")


def keep_pandas_out_of_pyarrow() -> bool:
    """Stop pyarrow from importing pandas on its first conversion. Returns True if it took.

    pyarrow checks once per process whether pandas is importable, on its first conversion
    of Python objects, and imports it if so: about 47 MB of RSS and 0.4 s that assets-sync
    never uses (benchmarks/RESULTS.md). This makes that one check fail; pyarrow then treats
    pandas as absent for the rest of the process, so only a program that hands pandas
    objects to pyarrow itself should not call it. Importing pandas later still works, and
    so does `Table.to_pandas()`. Does nothing if pandas is already imported or if pyarrow
    already checked.
    """
    if "pandas" in sys.modules:
        return False
    blocker = _BlockPandas()
    sys.meta_path.insert(0, blocker)
    try:
        pa.array([0])  # pyarrow's first conversion: its one check for pandas happens here
    finally:
        sys.meta_path.remove(blocker)
    return "pandas" not in sys.modules
