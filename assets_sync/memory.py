"""Process-wide memory settings a program using assets-sync opts into at start-up.

A library must not change process-wide state behind its user's back, so nothing here runs on
import: the CLI and the Dagster code location call `prefer_system_allocator()` once, and the
CLI (a process of its own, which never hands pandas objects to pyarrow) also calls
`keep_pandas_out_of_pyarrow()`. A program that only syncs may also call
`keep_numpy_out_of_pyarrow()`, before anything imports pyarrow; `lean_sync_process()` makes
all three calls in their order (the README's "From Python, without Dagster").

This module imports pyarrow only inside its functions, so that importing it does not.
"""

from __future__ import annotations

import ctypes
import os
import sys

ARROW_POOL_ENV = "ARROW_DEFAULT_MEMORY_POOL"

#: glibc's `mallopt` parameter, and the environment variable that sets it at start-up.
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_ENV = "MALLOC_MMAP_THRESHOLD_"
#: glibc's initial threshold, kept fixed (see `prefer_system_allocator`).
MMAP_THRESHOLD_BYTES = 128 * 1024


def prefer_system_allocator() -> str:
    """Let pyarrow allocate with the C library's malloc instead of its bundled mimalloc.

    mimalloc keeps one heap per thread: with the fetch threads building Arrow arrays and the
    writer freeing them, a 100k-asset sync peaked about 85 MB higher (benchmarks/RESULTS.md,
    same speed). `$ARROW_DEFAULT_MEMORY_POOL`, when set, is respected instead. Returns the
    backend in use.

    With the system allocator, glibc's blocks of 128 KiB and more are also kept mapped on
    their own (`mmap_large_blocks`): Arrow's buffers then go back to the system when freed.
    """
    import pyarrow as pa

    if not os.environ.get(ARROW_POOL_ENV):
        pa.set_memory_pool(pa.system_memory_pool())
    backend = str(pa.default_memory_pool().backend_name)
    if backend == "system":
        mmap_large_blocks()
    return backend


def mmap_large_blocks() -> bool:
    """Keep glibc's threshold for mapping a block on its own at 128 KiB. True if it took.

    glibc starts at 128 KiB but raises the threshold to the size of each mapped block that is
    freed, up to 32 MiB; after the first write frees its buffers, Arrow's multi-MB buffers are
    carved from the threads' heaps instead, and those keep the freed space: a 100k-asset sync
    peaked ~8 MB higher (benchmarks/RESULTS.md, eleventh session). A fixed threshold
    maps and unmaps each large block, which costs a few page faults per buffer.
    `$MALLOC_MMAP_THRESHOLD_`, when set, is respected; so is a C library that is not glibc.
    """
    if os.environ.get(MMAP_THRESHOLD_ENV) is not None or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return False
    if not hasattr(libc, "gnu_get_libc_version") or not hasattr(libc, "mallopt"):
        return False  # not glibc: musl's mallopt, for one, does nothing
    mallopt = libc.mallopt
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))


class RefuseImport:
    """A meta path finder that makes importing `package` (or its modules) fail with `why`,
    while it is in `sys.meta_path`."""

    def __init__(self, package: str, why: str) -> None:
        self.package, self.why = package, why

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name == self.package or name.startswith(self.package + "."):
            raise ImportError(f"{name}: {self.why}")


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
    import pyarrow as pa

    if "pandas" in sys.modules:
        return False
    blocker = RefuseImport("pandas", "kept out of pyarrow by assets_sync.memory")
    sys.meta_path.insert(0, blocker)
    try:
        pa.array([0])  # pyarrow's first conversion: its one check for pandas happens here
    finally:
        sys.meta_path.remove(blocker)
    return "pandas" not in sys.modules


def keep_numpy_out_of_pyarrow() -> bool:
    """Import pyarrow without NumPy, for a program that only syncs. Returns True if it took.

    pyarrow imports NumPy as it is imported, whenever NumPy is installed: about 10 MB of RSS
    (benchmarks/RESULTS.md) that a sync never uses; `assets_sync` (but its emulator) and
    `warehouse` never use NumPy. pyarrow decides once, at import, whether NumPy is there.
    So this must be called before anything imports pyarrow, and it is for good: in this
    process pyarrow then cannot convert to or from NumPy (`to_numpy()`, `pa.array(ndarray)`),
    and `import numpy` fails with a message naming this function, rather than half-working.
    Not for a program that also runs the emulator, pandas, or other code needing NumPy.
    Does nothing (returns False) if pyarrow or NumPy is already imported.
    """
    if "pyarrow" in sys.modules or "numpy" in sys.modules:
        return False
    why = "kept out of this process by assets_sync.memory.keep_numpy_out_of_pyarrow()"
    sys.meta_path.insert(0, RefuseImport("numpy", why))
    import pyarrow  # noqa: F401 - imported now, without NumPy

    return "numpy" not in sys.modules


def lean_sync_process() -> dict[str, bool | str]:
    """Everything the CLI sets for a process that syncs, in order: NumPy kept out of pyarrow
    (only if nothing imported pyarrow yet), Arrow on the system allocator, pandas kept out of
    pyarrow. For a program that only syncs: call it first, before other imports. A 100k-asset
    sync peaked ~50 MB lower with it than with `prefer_system_allocator()` alone, at the same
    speed (benchmarks/RESULTS.md, twenty-fifth session), pyarrow having imported pandas there.
    Returns what took: `numpy_kept_out`, `allocator` (the backend), `pandas_kept_out`.
    """
    numpy_out = keep_numpy_out_of_pyarrow()
    backend = prefer_system_allocator()
    return {
        "numpy_kept_out": numpy_out,
        "allocator": backend,
        "pandas_kept_out": keep_pandas_out_of_pyarrow(),
    }
