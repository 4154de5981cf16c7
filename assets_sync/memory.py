"""Process-wide memory settings a program using assets-sync opts into at start-up.

A library must not change process-wide state behind its user's back, so nothing here runs on
import: the CLI and the Dagster code location call `prefer_system_allocator()` once.
"""

from __future__ import annotations

import os

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
